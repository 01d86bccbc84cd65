/**
 * What a backend change costs clients of the edge: how long a new instance takes to be served, how many
 * requests fail while the edge follows a change (under 32 keep-alive connections), and whether
 * stopping or killing an instance fails any request.
 */
import { EDGE_CONTAINER } from "../../render/edge";
import { dockerOn, httpGet, must, sleep } from "../lib";
import { info } from "../report";
import { runExtraBackend } from "../checks/edge";
import { vipHolders } from "../checks/vip";
import { waitBackends } from "../clients/consul";
import { nameOf } from "../requests";
import { Scenario, backendHost, backendName } from "../scenario";
import { percentile, wrkFailures } from "./figures";
import { LoadRun, openLoop, wrkDuring } from "./load";

const KEEPALIVE_LOAD = { connections: 32, seconds: 10 };
const CHANGE_AFTER_MS = 2000;

/** How often the edge asks Consul's DNS for a service's instances (see render/edge.ts). */
const EDGE_RESOLVE_PERIOD_MS = 1000;
// Between bursts: the first served request is timed this finely.
const BURST_GAP_MS = 5;

/**
 * When a request through `url` is first answered by `name`, polling in bursts of `burst` back-to-back
 * requests: the edge's round robin, shared by its workers, reaches every instance within one burst.
 */
async function firstServedBy(url: string, name: string, burst: number, timeoutMs: number): Promise<number | undefined> {
    const t0 = Date.now();
    for (let round = 0; round < 5000 && Date.now() - t0 < timeoutMs; round++) {
        for (let i = 0; i < burst; i++) {
            const r = await httpGet(url, 1000);
            if (r.status === 200 && nameOf(r.body) === name) return Date.now();
        }
        await sleep(BURST_GAP_MS);
    }
    return undefined;
}

/**
 * How long run `run` of `runs` waits before its `docker run`: the runs start evenly spread over the
 * edge's resolve period. Each run ends just after the edge has asked Consul and the steps between two
 * runs take about the same time every run, so without it every run starts at the same point of that
 * period: ten runs landed within 0.1 s of each other, and the figure was luck of that point. A new
 * user's `docker run` lands anywhere in it.
 */
const phaseOffsetMs = (run: number, runs: number): number => Math.round((run * EDGE_RESOLVE_PERIOD_MS) / runs);

/** `runs` new instances, each on the next host: `docker run` returned -> first request served through `url`. */
export async function measureConvergence(s: Scenario, url: string, runs: number): Promise<{ seconds: number[]; detail: string }> {
    const seconds: number[] = [];
    for (let i = 1; i <= runs; i++) {
        const h = s.hosts[i % s.hosts.length];
        const name = `bench-new-${i}`;
        await dockerOn(h, ["rm", "-f", name]);
        try {
            await sleep(phaseOffsetMs(i - 1, runs));
            await runExtraBackend(s, h, name);
            const started = Date.now();
            const served = await firstServedBy(url, name, s.replicas + 1, 30_000);
            if (served === undefined) info(`convergence run ${i}: ${name} on rig-h${h} not served within 30s`);
            else seconds.push((served - started) / 1000);
        } finally {
            await dockerOn(h, ["rm", "-f", name]);
            await waitBackends(s, s.replicas);
        }
    }
    if (seconds.length < runs) throw new Error(`only ${seconds.length} of ${runs} new instances were served within 30s`);
    return { seconds, detail: `${runs} runs: ${seconds.map((x) => x.toFixed(2)).join(" ")} s` };
}

const describe = (r: LoadRun): string =>
    `${wrkFailures(r)} failed of ${r.requests} (socket errors ${r.socketErrors}, non-2xx ${r.non2xx}), ${r.requestsPerSecond.toFixed(0)} req/s, CPU ${(r.cpu * 100).toFixed(0)}%`;

/**
 * Requests failed under 32 keep-alive connections through `url` while the edge follows a change: none
 * (the baseline), a new instance, that instance removed, and a reload of nginx that changes nothing.
 */
export async function measureReloadDrops(s: Scenario, url: string): Promise<{ perChange: Record<string, number>; detail: string }> {
    const [holder] = await vipHolders(s);
    const h = s.hosts[0];
    // Each change, then how many instances Consul passes once it has taken effect.
    const changes: [string, () => Promise<unknown>, number][] = [
        ["no change", async () => undefined, s.replicas],
        ["instance added", () => runExtraBackend(s, h, "bench-drops"), s.replicas + 1],
        ["instance removed", async () => must(dockerOn(h, ["rm", "-f", "bench-drops"]), "docker rm bench-drops"), s.replicas],
        [
            "reload without change",
            async () =>
                must(
                    dockerOn(holder, ["exec", EDGE_CONTAINER, "sh", "-c", 'kill -HUP "$(cat /run/nginx.pid)"']),
                    `reload nginx on rig-h${holder}`,
                ),
            s.replicas,
        ],
    ];
    const perChange: Record<string, number> = {};
    const lines: string[] = [];
    try {
        for (const [label, change, instancesAfter] of changes) {
            const r = await wrkDuring(url, KEEPALIVE_LOAD, CHANGE_AFTER_MS, change);
            perChange[label] = wrkFailures(r);
            lines.push(`${label}: ${describe(r)}`);
            info(`reload drops, ${label}: ${describe(r)}`);
            await waitBackends(s, instancesAfter);
        }
    } finally {
        await dockerOn(h, ["rm", "-f", "bench-drops"]);
    }
    return { perChange, detail: lines.join("; ") };
}

/**
 * A demo backend stopped (`docker stop`) and killed (`docker kill`), at 20 requests/s and under 32
 * keep-alive connections; each time it is started again and the edge given it back before the next.
 */
export async function measureStopFailures(s: Scenario, url: string): Promise<{ failed: number; detail: string }> {
    const victim = 2;
    const vh = backendHost(s, victim);
    const name = backendName(s, victim);
    let failed = 0;
    const lines: string[] = [];
    for (const verb of ["stop", "kill"]) {
        const act = () => must(dockerOn(vh, [verb, name]), `docker ${verb} ${name}`);
        try {
            let done = false;
            const stream = openLoop(url, 20, 15_000, () => done);
            await sleep(CHANGE_AFTER_MS);
            await act();
            await sleep(8000);
            done = true;
            const samples = await stream;
            const bad = samples.filter((x) => !x.ok).length;
            failed += bad;
            lines.push(`docker ${verb} at 20 req/s: ${bad} failed of ${samples.length}`);
        } finally {
            await dockerOn(vh, ["start", name]);
            await waitBackends(s, s.replicas);
        }
        try {
            const r = await wrkDuring(url, KEEPALIVE_LOAD, CHANGE_AFTER_MS, act);
            failed += wrkFailures(r);
            lines.push(`docker ${verb} under 32 keep-alive connections: ${describe(r)}`);
        } finally {
            await dockerOn(vh, ["start", name]);
            await waitBackends(s, s.replicas);
        }
        info(`stop failures: ${lines.slice(-2).join("; ")}`);
    }
    return { failed, detail: lines.join("; ") };
}

export const convergenceSummary = (seconds: number[]): string =>
    `p50 ${percentile(seconds, 50).toFixed(2)} s, p95 ${percentile(seconds, 95).toFixed(2)} s (min ${Math.min(...seconds).toFixed(2)}, max ${Math.max(...seconds).toFixed(2)})`;
