/**
 * `npm run bench`: the performance figures of issue 9, measured on rig-multi (three hosts, six backends,
 * edges on rig-h1/rig-h2 sharing a VIP) brought up by the real Pulumi CLI, each printed with its goal,
 * then the one closing `bench:` line. The figures print; they do not gate. A failure to measure is a
 * FAIL line and NA in the closing line.
 *
 *   RIG_PULUMI_BIN=... node -r ts-node/register/transpile-only rig/bench/run.ts   (rig/run bench does this)
 */
import { checkDestroy, checkUp } from "../lifecycle";
import { hostAddress, snapshotHosts } from "../lib";
import { installPlugins, killCurrent, rigStack } from "../pulumi";
import { check, info, report, tally } from "../report";
import { waitBackends } from "../clients/consul";
import { MULTI } from "../scenario";
import { convergenceSummary, measureConvergence, measureReloadDrops, measureStopFailures } from "./edge";
import { BenchFigures, benchLine, percentile } from "./figures";
import { measureEvaluation } from "./evaluation";
import { measureEdgeCost } from "./throughput";
import { Failover, measureEdgeFailover, measureHostFailover } from "./vip";

// Twenty, so the p95 is not simply the largest run.
const CONVERGENCE_RUNS = 20;
const FAILOVER_RUNS = 3;
const figures: BenchFigures = {};

for (const sig of ["SIGTERM", "SIGINT"] as const) {
    process.on(sig, () => {
        killCurrent();
        console.log(`FAIL bench: stopped by ${sig}`);
        process.exit(1);
    });
}

/** One figure: its check line carries the measurement and the goal; a failure leaves the figure NA. */
const measure = (name: string, goal: string, f: () => Promise<string>): Promise<boolean> =>
    check(`bench ${name}`, async () => `${await f()} [goal: ${goal}]`);

// At least five of each, alternating: the floor ratio is a ratio of medians.
const EVALUATION_PAIRS = 5;

async function evaluation(): Promise<void> {
    await measure("evaluation", "100 hosts < 5 s; 1000 hosts linear from 100 within 10 %; program/floor <= 1.2", async () => {
        const e = await measureEvaluation(EVALUATION_PAIRS);
        figures.eval_100_hosts_s = e.eval100;
        figures.eval_1000_hosts_s = e.eval1000.cpuSeconds;
        figures.eval_1000_linearity = e.linearity;
        figures.eval_1000_peak_mb = e.eval1000.maxRssMb;
        figures.eval_sdk_floor_ratio = e.floorRatio;
        return `100 hosts ${e.eval100.toFixed(2)} s CPU (median), 1000 hosts ${e.eval1000.cpuSeconds.toFixed(1)} s (${e.linearity.toFixed(2)} of linear), program/floor ${e.floorRatio.toFixed(2)}; ${e.detail}`;
    });
}

const outageLine = (f: Failover): string =>
    `VIP unanswered for p50 ${percentile(f.outage, 50).toFixed(2)} s, max ${Math.max(...f.outage).toFixed(2)} s; ${f.detail}`;

async function onRunningStack(): Promise<void> {
    const s = MULTI;
    const vip = `http://${s.vip}:${s.edgePort}/`;
    await waitBackends(s, s.replicas, 90_000);
    await measure("convergence_p95_s", "p95 <= 1.0 s", async () => {
        const c = await measureConvergence(s, vip, CONVERGENCE_RUNS);
        figures.convergence_p95_s = percentile(c.seconds, 95);
        return `new backend: docker run returned -> first request served through ${vip}: ${convergenceSummary(c.seconds)}; ${c.detail}`;
    });
    await measure("reload_drops", "0", async () => {
        const d = await measureReloadDrops(s, vip);
        // A reload by hand is measured beside the backend changes, not as one: nothing reloads nginx when
        // instances come and go any more, yet a reload still closes kept-alive connections.
        const { ["no change"]: baseline, ["reload without change"]: byHand, ...changes } = d.perChange;
        figures.reload_drops = Math.max(...Object.values(changes));
        return `failed requests per backend change under 32 keep-alive connections through ${vip}, worst ${figures.reload_drops} (baseline without change ${baseline}; nginx reloaded by hand ${byHand}): ${d.detail}`;
    });
    await measure("stop_failed", "0", async () => {
        const f = await measureStopFailures(s, vip);
        figures.stop_failed = f.failed;
        return `${f.failed} failed requests in all: ${f.detail}`;
    });
    await measure("vip_failover_edge_s", "<= 1.0 s", async () => {
        const f = await measureEdgeFailover(s, vip, FAILOVER_RUNS, "stop");
        figures.vip_failover_edge_s = percentile(f.outage, 95);
        return outageLine(f);
    });
    // Printed beside it, not in the closing line: the figure is a stop, a crash is the worse case.
    await measure("vip_failover_edge_killed_s", "<= 1.0 s", async () =>
        outageLine(await measureEdgeFailover(s, vip, FAILOVER_RUNS, "kill")),
    );
    await measure("edge_cost", "edge/peer >= 1.0; added p50 <= 0.3 ms, p99 <= 2 ms; edge/direct printed", async () => {
        const c = await measureEdgeCost(s, hostAddress(s.edges[0]));
        figures.edge_direct_ratio = c.edgeDirectRatio;
        figures.edge_peer_ratio = c.edgePeerRatio;
        figures.edge_added_p50_ms = c.addedP50Ms;
        figures.edge_added_p99_ms = c.addedP99Ms;
        const cpu = `CPU per request (median): edge container ${c.cpuPerRequestUs.edge.toFixed(1)} us, peer ${c.cpuPerRequestUs.peer.toFixed(1)} us`;
        const spread = `every instance directly at once / one instance ${c.spreadDirectRatio.toFixed(2)}; the edge over every instance directly: p50 ${c.hopAddedP50Ms.toFixed(3)} ms, p99 ${c.hopAddedP99Ms.toFixed(3)} ms`;
        return `edge/direct ${c.edgeDirectRatio.toFixed(2)}, edge/peer ${c.edgePeerRatio.toFixed(2)} (${cpu}), added p50 ${c.addedP50Ms.toFixed(3)} ms, p99 ${c.addedP99Ms.toFixed(3)} ms (${spread}); ${c.detail}`;
    });
    // Last: cutting a host off disturbs Consul and the swarm more than anything above.
    await measure("vip_failover_host_s", "<= 2.0 s", async () => {
        const f = await measureHostFailover(s, vip, FAILOVER_RUNS);
        figures.vip_failover_host_s = percentile(f.outage, 95);
        return outageLine(f);
    });
}

async function main(): Promise<number> {
    const hosts = MULTI.hosts;
    await check("toolchain", installPlugins);
    await evaluation();
    const baseline = await snapshotHosts(hosts);
    const stack = await rigStack(MULTI.stack);
    try {
        if (await checkUp(stack, MULTI)) await onRunningStack();
    } finally {
        await checkDestroy(stack, hosts, baseline, "before the benchmark");
    }
    info(`bench done: ${tally.passed} passed, ${tally.failed} failed`);
    console.log(benchLine(figures));
    return tally.failed === 0 ? 0 : 1;
}

main().then(
    (code) => process.exit(code),
    (e) => {
        report(false, "bench", `crashed: ${e instanceof Error ? e.stack : String(e)}`);
        console.log(benchLine(figures));
        process.exit(1);
    },
);
