/**
 * The benchmark's arithmetic and its report: percentiles, wrk's output read into numbers, and the one
 * closing line `npm run bench` ends with. Pure, so test/bench-figures.test.ts checks it directly.
 */

/** Nearest-rank percentile (p in 0..100) of a non-empty sample. */
export function percentile(values: number[], p: number): number {
    if (values.length === 0) throw new Error("percentile of an empty sample");
    const sorted = [...values].sort((a, b) => a - b);
    const rank = Math.ceil((p / 100) * sorted.length);
    return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

export const median = (values: number[]): number => percentile(values, 50);

export interface WrkResult {
    requests: number;
    seconds: number;
    requestsPerSecond: number;
    /** connect, read, write and timeout errors (wrk's "Socket errors" line; absent means none). */
    socketErrors: number;
    /** Responses that were neither 2xx nor 3xx. */
    non2xx: number;
    /** Latency percentiles in ms from `--latency` (50, 75, 90, 99), when asked for. */
    latencyMs: Record<string, number>;
}

const TO_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000 };

function durationMs(text: string): number {
    const m = /^([\d.]+)(us|ms|s|m)$/.exec(text);
    if (!m) throw new Error(`not a wrk duration: ${text}`);
    return Number(m[1]) * TO_MS[m[2]];
}

/** wrk's report as numbers; throws when the summary lines are missing (wrk failed to run). */
export function parseWrk(output: string): WrkResult {
    const total = /(\d+) requests in ([\d.]+)(us|ms|s|m),/.exec(output);
    const rate = /Requests\/sec:\s+([\d.]+)/.exec(output);
    if (!total || !rate) throw new Error(`no wrk summary in: ${output.slice(0, 300)}`);
    const errors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(output);
    const latencyMs: Record<string, number> = {};
    for (const m of output.matchAll(/^\s+(50|75|90|99)%\s+([\d.]+(?:us|ms|s|m))\s*$/gm)) latencyMs[m[1]] = durationMs(m[2]);
    return {
        requests: Number(total[1]),
        seconds: durationMs(`${total[2]}${total[3]}`) / 1000,
        requestsPerSecond: Number(rate[1]),
        socketErrors: errors ? errors.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0,
        non2xx: Number(/Non-2xx or 3xx responses: (\d+)/.exec(output)?.[1] ?? 0),
        latencyMs,
    };
}

/** Requests a client saw fail in a wrk run: socket errors and non-2xx/3xx answers. */
export const wrkFailures = (r: WrkResult): number => r.socketErrors + r.non2xx;

/** Busy share of all CPUs between two readings of /proc/stat's first line. */
export function cpuBusy(before: string, after: string): number {
    const fields = (line: string) => line.trim().split(/\s+/).slice(1).map(Number);
    const [a, b] = [fields(before), fields(after)];
    const delta = b.map((v, i) => v - (a[i] ?? 0));
    const total = delta.reduce((sum, v) => sum + v, 0);
    // idle and iowait are the fourth and fifth fields.
    return total > 0 ? 1 - (delta[3] + (delta[4] ?? 0)) / total : 0;
}

/**
 * The figures `npm run bench` ends with, in the order the issue tracker reads them. A figure that
 * could not be measured in a run is `undefined` and printed as NA, never as a made-up number.
 */
export interface BenchFigures {
    convergence_p95_s?: number;
    reload_drops?: number;
    stop_failed?: number;
    vip_failover_edge_s?: number;
    vip_failover_host_s?: number;
    edge_direct_ratio?: number;
    edge_peer_ratio?: number;
    edge_added_p50_ms?: number;
    edge_added_p99_ms?: number;
    eval_100_hosts_s?: number;
    eval_1000_hosts_s?: number;
    /** eval_1000_hosts_s over ten times eval_100_hosts_s. */
    eval_1000_linearity?: number;
    eval_1000_peak_mb?: number;
    eval_sdk_floor_ratio?: number;
}

const LINE_ORDER: (keyof BenchFigures)[] = [
    "convergence_p95_s",
    "reload_drops",
    "stop_failed",
    "vip_failover_edge_s",
    "vip_failover_host_s",
    "edge_direct_ratio",
    "edge_peer_ratio",
    "edge_added_p50_ms",
    "edge_added_p99_ms",
    "eval_100_hosts_s",
    "eval_1000_hosts_s",
    "eval_1000_linearity",
    "eval_1000_peak_mb",
    "eval_sdk_floor_ratio",
];

const COUNTS = new Set<keyof BenchFigures>(["reload_drops", "stop_failed", "eval_1000_peak_mb"]);

export function benchLine(f: BenchFigures): string {
    const value = (k: keyof BenchFigures) => {
        const v = f[k];
        if (v === undefined || !Number.isFinite(v)) return "NA";
        return COUNTS.has(k) ? String(Math.round(v)) : v.toFixed(k.endsWith("_ms") ? 3 : 2);
    };
    return `bench: ${LINE_ORDER.map((k) => `${k}=${value(k)}`).join(" ")}`;
}

/**
 * How long a client saw no service, from a time-ordered sample of request outcomes: from the first
 * failure to the first success after the last failure (0 when nothing failed; the run's end when no
 * success followed).
 */
export function outageSeconds(samples: { t: number; ok: boolean }[]): number {
    const first = samples.findIndex((x) => !x.ok);
    if (first < 0) return 0;
    let last = first;
    samples.forEach((x, i) => {
        if (!x.ok) last = i;
    });
    const end = samples[last + 1] ?? samples[last];
    return (end.t - samples[first].t) / 1000;
}
