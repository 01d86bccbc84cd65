/**
 * Load on the rig with Debian's wrk (saturating or paced, at one address or spread over several, by
 * wrk.lua) and an open-loop request stream at a fixed rate; every run also reads how busy the
 * machine's CPUs were, so a saturated run shows as one. Traffic goes to rig addresses only.
 */
import * as fs from "fs";
import * as path from "path";
import { assertRigUrl, httpGet, run, sleep } from "../lib";
import { WrkResult, cpuBusy, parseWrk } from "./figures";

export interface LoadRun extends WrkResult {
    /** Busy share of all CPUs over the run, 0..1. */
    cpu: number;
}

export interface WrkOptions {
    connections: number;
    seconds: number;
    /** Milliseconds each connection waits between a response and its next request; unset saturates. */
    gapMs?: number;
    /** host:port of servers loaded at once instead of the URL's, a wrk thread each; the URL still gives the request. */
    spreadOver?: string[];
}

const SCRIPT = path.join(__dirname, "wrk.lua");
const cpuLine = (): string => fs.readFileSync("/proc/stat", "utf8").split("\n")[0];

/** One wrk run against `url`, with its latency distribution. */
export async function wrk(url: string, o: WrkOptions): Promise<LoadRun> {
    const spreadOver = o.spreadOver ?? [];
    for (const target of [url, ...spreadOver.map((s) => `http://${s}/`)]) assertRigUrl(target);
    if (spreadOver.length > o.connections) throw new Error(`${o.connections} connections cannot spread over ${spreadOver.length} servers`);
    const threads = spreadOver.length || Math.min(2, o.connections);
    const scripted = o.gapMs || spreadOver.length ? ["-s", SCRIPT] : [];
    const args = [
        "-t",
        String(threads),
        "-c",
        String(o.connections),
        "-d",
        `${o.seconds}s`,
        "--timeout",
        "2s",
        "--latency",
        ...scripted,
        url,
    ];
    const before = cpuLine();
    const env = { ...process.env, WRK_GAP_MS: String(o.gapMs ?? 0), WRK_TARGETS: spreadOver.join(",") };
    const r = await run("wrk", args, { timeoutMs: (o.seconds + 20) * 1000, env });
    const cpu = cpuBusy(before, cpuLine());
    if (r.code !== 0) throw new Error(`wrk ${args.join(" ")}: exit ${r.code}: ${(r.stderr || r.stdout).slice(0, 300)}`);
    return { ...parseWrk(r.stdout), cpu };
}

/** A wrk run with `change` started `afterMs` into it; both must finish. */
export async function wrkDuring(url: string, o: WrkOptions, afterMs: number, change: () => Promise<unknown>): Promise<LoadRun> {
    const load = wrk(url, o);
    await sleep(afterMs);
    await change();
    return load;
}

export interface Sample {
    /** Milliseconds from the stream's start to this request's start. */
    t: number;
    ok: boolean;
}

/**
 * Requests started at a fixed rate whether or not earlier ones have answered (so a hanging request does
 * not slow the stream down), for `durationMs` or until `stop()`; at most rate x 120 requests.
 */
export async function openLoop(
    url: string,
    perSecond: number,
    durationMs: number,
    stop: () => boolean = () => false,
    timeoutMs = 1000,
): Promise<Sample[]> {
    assertRigUrl(url);
    const gap = 1000 / perSecond;
    const pending: Promise<Sample>[] = [];
    const t0 = Date.now();
    for (let i = 0; i < perSecond * 120 && Date.now() - t0 < durationMs && !stop(); i++) {
        const t = Date.now() - t0;
        pending.push(httpGet(url, timeoutMs).then((r) => ({ t, ok: r.status === 200 })));
        await sleep(Math.max(0, t0 + (i + 1) * gap - Date.now()));
    }
    return (await Promise.all(pending)).sort((a, b) => a.t - b.t);
}
