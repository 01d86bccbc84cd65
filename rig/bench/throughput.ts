/**
 * What the edge costs: its requests/s beside a backend reached directly and beside a peer proxy
 * (HAProxy) with the same upstreams on the same host, interleaved at the same concurrency, with each
 * proxy's own CPU time per request read from its cgroup; then the latency it adds at a fixed rate of
 * half the direct saturation rate (the figure asked for) and, since that rate can be more than the edge
 * sustains on the rig's shared CPUs, at half the edge's own.
 *
 * Beside them, every instance loaded directly at once (`spread`): no proxy, but the load spread over the
 * six instances as any proxy spreads it. On the rig their six runtimes share two CPUs, which costs far
 * more than one busy instance; the edge beside `spread` shows what the hop itself adds.
 */
import { EDGE_CONTAINER } from "../../render/edge";
import { dockerOn, must } from "../lib";
import { info } from "../report";
import { passingInstances } from "../clients/consul";
import { Scenario } from "../scenario";
import { CpuCgroup, cpuCgroupOfPid, cpuSeconds } from "./cgroup";
import { median, wrkFailures } from "./figures";
import { LoadRun, wrk } from "./load";
import { startPeer } from "./peer";

const SATURATION = { connections: 32, seconds: 5 };
/** Rounds of one target differ by up to a fifth, and more on a noisy day, on the rig's shared CPUs. */
const SATURATION_ROUNDS = 5;
const LATENCY_ROUNDS = 3;
const PEER_PORT = 8099;
/** nginx's `worker_processes auto` on the rig's 2 CPUs; the peer gets as many threads. */
const PROXY_THREADS = 2;

interface Target {
    url: string;
    spreadOver?: string[];
}

export interface Targets {
    edge: Target;
    direct: Target;
    spread: Target;
    peer: Target;
}
/** The targets compared with each other run next to each other: edge and peer, peer and direct, direct and spread. */
const TARGETS: (keyof Targets)[] = ["edge", "peer", "direct", "spread"];

/**
 * A round's order: every other round backwards (edge, peer, direct, spread, then spread, direct, peer,
 * edge), so the machine's speed drifting during a pair of rounds favours neither target of a pair.
 */
const roundOrder = (round: number): (keyof Targets)[] => (round % 2 === 0 ? TARGETS : [...TARGETS].reverse());

/** Where each proxy's CPU time is read: the edge's container and the peer's group beside it. */
type ProxyCgroups = Record<"edge" | "peer", CpuCgroup>;
const isProxy = (k: keyof Targets): k is keyof ProxyCgroups => k === "edge" || k === "peer";

/** An empty list of runs per target. */
const perTarget = <T>(): Record<keyof Targets, T[]> => ({ edge: [], peer: [], direct: [], spread: [] });

const targetLine = (t: Target): string => (t.spreadOver ? `${t.spreadOver.length} instances at once` : t.url);

export interface Throughput {
    /** Median requests/s of each target. */
    rps: Record<keyof Targets, number>;
    /** Median over the rounds of each round's own ratio: a run is compared with its neighbours, not with another time of day. */
    ratios: Record<"edgeDirect" | "edgePeer" | "spreadDirect", number>;
    /** Median CPU microseconds each proxy spent per request it answered. */
    cpuPerRequestUs: Record<keyof ProxyCgroups, number>;
    detail: string;
}

interface SaturatingRun extends LoadRun {
    proxyCpuUs?: number;
}

const runLine = (r: SaturatingRun): string =>
    `${r.requestsPerSecond.toFixed(0)} req/s (CPU ${(r.cpu * 100).toFixed(0)}%${r.proxyCpuUs === undefined ? "" : `, proxy ${r.proxyCpuUs.toFixed(1)} us/request`}, ${wrkFailures(r)} failed)`;

/** A saturating run against `target`, with the CPU time per request of the proxy in `cgroup` when given. */
async function saturatingRun(target: Target, cgroup: CpuCgroup | undefined): Promise<SaturatingRun> {
    const load = () => wrk(target.url, { ...SATURATION, spreadOver: target.spreadOver });
    if (!cgroup) return load();
    const before = cpuSeconds(cgroup);
    const r = await load();
    return { ...r, proxyCpuUs: ((cpuSeconds(cgroup) - before) / Math.max(1, r.requests)) * 1e6 };
}

/** Saturating runs of every target, interleaved `SATURATION_ROUNDS` times (`roundOrder`); medians of each and of the rounds' ratios. */
async function saturate(targets: Targets, cgroups: ProxyCgroups): Promise<Throughput> {
    const runs = perTarget<SaturatingRun>();
    for (let round = 0; round < SATURATION_ROUNDS; round++) {
        for (const which of roundOrder(round)) {
            const r = await saturatingRun(targets[which], isProxy(which) ? cgroups[which] : undefined);
            runs[which].push(r);
            info(`throughput round ${round + 1}, ${which} (${targetLine(targets[which])}): ${runLine(r)}`);
        }
    }
    const rps = Object.fromEntries(TARGETS.map((k) => [k, median(runs[k].map((r) => r.requestsPerSecond))])) as Record<
        keyof Targets,
        number
    >;
    const cpuOf = (k: keyof ProxyCgroups) => median(runs[k].map((r) => r.proxyCpuUs ?? NaN));
    const cpuPerRequestUs = { edge: cpuOf("edge"), peer: cpuOf("peer") };
    const detail = TARGETS.map((k) => `${k} ${runs[k].map(runLine).join(", ")}`).join("; ");
    const byRound = (a: keyof Targets, b: keyof Targets) => runs[a].map((r, i) => r.requestsPerSecond / runs[b][i].requestsPerSecond);
    const ratios = {
        edgeDirect: median(byRound("edge", "direct")),
        edgePeer: median(byRound("edge", "peer")),
        spreadDirect: median(byRound("spread", "direct")),
    };
    const edgePeerRounds = byRound("edge", "peer")
        .map((x) => x.toFixed(2))
        .join(", ");
    return {
        rps,
        ratios,
        cpuPerRequestUs,
        detail: `${SATURATION.connections} connections, ${SATURATION.seconds} s runs: ${detail}; edge/peer by round ${edgePeerRounds}`,
    };
}

interface Latency {
    p50: number;
    p99: number;
}

/**
 * Latency at `perSecond`, paced by wrk's per-connection gap: every target interleaved `LATENCY_ROUNDS`
 * times; the medians of their p50 and p99. The peer's shows what any proxy hop adds on the same CPUs at
 * the same rate, `spread`'s what spreading the load over every instance adds without a hop.
 */
async function latencyAt(targets: Targets, perSecond: number): Promise<{ latency: Record<keyof Targets, Latency>; detail: string }> {
    const gapMs = 10;
    const connections = Math.max(1, Math.round((perSecond * gapMs) / 1000));
    const runs = perTarget<LoadRun>();
    for (let round = 0; round < LATENCY_ROUNDS; round++) {
        for (const which of roundOrder(round)) {
            const r = await wrk(targets[which].url, { connections, seconds: 6, gapMs, spreadOver: targets[which].spreadOver });
            runs[which].push(r);
            info(
                `latency round ${round + 1}, ${which}: ${r.requestsPerSecond.toFixed(0)} req/s, p50 ${r.latencyMs["50"]} ms, p99 ${r.latencyMs["99"]} ms, CPU ${(r.cpu * 100).toFixed(0)}%`,
            );
        }
    }
    const pct = (rs: LoadRun[], p: string) => median(rs.map((r) => r.latencyMs[p]));
    const latency = Object.fromEntries(TARGETS.map((k) => [k, { p50: pct(runs[k], "50"), p99: pct(runs[k], "99") }])) as Record<
        keyof Targets,
        Latency
    >;
    // Per target: one that fell short of the asked rate was saturated at it.
    const got = (k: keyof Targets) => median(runs[k].map((r) => r.requestsPerSecond)).toFixed(0);
    const line = TARGETS.map(
        (k) => `${k} got ${got(k)} req/s, p50 ${latency[k].p50.toFixed(3)} / p99 ${latency[k].p99.toFixed(3)} ms`,
    ).join("; ");
    return { latency, detail: `asked ${perSecond.toFixed(0)} req/s (${connections} connections, ${gapMs} ms apart): ${line}` };
}

export interface EdgeCost {
    edgeDirectRatio: number;
    edgePeerRatio: number;
    /** Every instance loaded at once beside one instance: what spreading alone leaves of the direct rate. */
    spreadDirectRatio: number;
    cpuPerRequestUs: Throughput["cpuPerRequestUs"];
    addedP50Ms: number;
    addedP99Ms: number;
    /** The edge's latency beside every instance loaded directly, at the same rate: the hop's own share. */
    hopAddedP50Ms: number;
    hopAddedP99Ms: number;
    detail: string;
}

/** Edge on the first edge host, the first passing instance for direct, HAProxy beside the edge as the peer. */
export async function measureEdgeCost(s: Scenario, edgeAddress: string): Promise<EdgeCost> {
    const upstreams = await passingInstances(s);
    if (upstreams.length !== s.replicas) throw new Error(`${upstreams.length} passing instances, expected ${s.replicas}`);
    const edgePid = Number(
        await must(
            dockerOn(s.edges[0], ["inspect", "--format", "{{.State.Pid}}", EDGE_CONTAINER]),
            `docker inspect ${EDGE_CONTAINER} on rig-h${s.edges[0]}`,
        ),
    );
    const edgeCgroup = cpuCgroupOfPid(edgePid);
    const peer = await startPeer(s.edges[0], edgeAddress, PEER_PORT, upstreams, PROXY_THREADS, edgeCgroup);
    try {
        const direct = `http://${upstreams[0].address}:${upstreams[0].port}/`;
        const targets: Targets = {
            edge: { url: `http://${edgeAddress}:${s.edgePort}/` },
            direct: { url: direct },
            spread: { url: direct, spreadOver: upstreams.map((u) => `${u.address}:${u.port}`) },
            peer: { url: peer.url },
        };
        const t = await saturate(targets, { edge: edgeCgroup, peer: peer.cgroup });
        const l = await latencyAt(targets, t.rps.direct / 2);
        const unsaturated = await latencyAt(targets, t.rps.edge / 2);
        return {
            edgeDirectRatio: t.ratios.edgeDirect,
            edgePeerRatio: t.ratios.edgePeer,
            spreadDirectRatio: t.ratios.spreadDirect,
            cpuPerRequestUs: t.cpuPerRequestUs,
            addedP50Ms: l.latency.edge.p50 - l.latency.direct.p50,
            addedP99Ms: l.latency.edge.p99 - l.latency.direct.p99,
            hopAddedP50Ms: l.latency.edge.p50 - l.latency.spread.p50,
            hopAddedP99Ms: l.latency.edge.p99 - l.latency.spread.p99,
            detail: `${t.detail}. Latency at half the direct rate: ${l.detail}. At half the edge's rate: ${unsaturated.detail}`,
        };
    } finally {
        await peer.stop();
    }
}
