/**
 * The live checks: both rig scenarios end to end, through the harness (rig/harness.ts), against the
 * rig's hosts. Every check prints exactly one line, `PASS <name>: <detail>` or `FAIL <name>: <detail>`;
 * other lines are context. Traffic goes to 10.77.0.x and loopback only, and every loop is bounded in
 * count and time.
 *
 *   npx ts-node --transpile-only rig/checks.ts [dev] [multi]      (default: both)
 */
import { spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";
import {
    HostSnapshot, RIG_STATE, ROOT, diffSnapshots, run, dockerOn, hostAddress, httpGet, must, sleep, snapshotHosts, sshOn, waitFor,
} from "./lib";

const ALL_HOSTS = [1, 2, 3];
const BASE_IMAGE = "rig/base:bookworm";
const BACKEND_IMAGE = "rig/whoami:v1.10.3";
const GWBRIDGE_WANT = "172.21.0.0/20 172.21.0.1";
const MANAGED_LABEL = "io.swarm-platform.managed";

let passed = 0;
let failed = 0;
const timings: string[] = [];

function report(ok: boolean, name: string, detail: string): void {
    if (ok) passed++;
    else failed++;
    console.log(`${ok ? "PASS" : "FAIL"} ${name}: ${detail.replace(/\s*\n\s*/g, " | ")}`);
}

/** Runs one check: a returned string is its PASS detail, a thrown error its FAIL detail. */
async function check(name: string, f: () => Promise<string>): Promise<boolean> {
    try {
        report(true, name, await f());
        return true;
    } catch (e) {
        report(false, name, e instanceof Error ? e.message : String(e));
        return false;
    }
}

const info = (msg: string) => console.log(`[checks] ${msg}`);
const timing = (name: string, seconds: number) => {
    const line = `${name} ${seconds.toFixed(1)}s`;
    timings.push(line);
    info(`timing: ${line}`);
};

function assert(cond: unknown, msg: string): asserts cond {
    if (!cond) throw new Error(msg);
}

// ---------------------------------------------------------------------------------------------
// The harness, one child process per run (so each `up` loads the program afresh)

interface HarnessRun {
    code: number;
    output: string;
    seconds: number;
}

/** The harness run in progress, ended (by its pid) if this process is told to stop. */
let current: ReturnType<typeof spawn> | undefined;
for (const sig of ["SIGTERM", "SIGINT"] as const) {
    process.on(sig, () => {
        current?.kill("SIGKILL");
        console.log(`FAIL checks: stopped by ${sig}`);
        process.exit(1);
    });
}

/** nsenter arguments that put a process into rig-h<i>'s namespaces: its engine is then the local one. */
const insideHost = (i: number): string[] => ["--target", fs.readFileSync(path.join(RIG_STATE, `h${i}-dockerd.launch`), "utf8").trim(), "--mount", "--uts", "--net", "--"];

function harness(stack: string, args: string[], timeoutMs: number, localTo?: number): Promise<HarnessRun> {
    const t0 = Date.now();
    const argv = [process.execPath, "-r", require.resolve("ts-node/register/transpile-only"), path.join(__dirname, "harness.ts"), stack, ...args];
    const [cmd, ...cmdArgs] = localTo === undefined ? argv : ["nsenter", ...insideHost(localTo), "sh", "-c", `cd "$0" && exec "$@"`, ROOT, ...argv];
    return new Promise((resolve) => {
        const child = spawn(cmd, cmdArgs, {
            cwd: ROOT,
            stdio: ["ignore", "pipe", "pipe"],
        });
        let output = "";
        let partial = "";
        const onData = (d: Buffer) => {
            output += d.toString();
            const text = partial + d.toString();
            const lines = text.split("\n");
            partial = lines.pop() ?? "";
            for (const l of lines) console.log(`  | ${l}`);
        };
        child.stdout.on("data", onData);
        child.stderr.on("data", onData);
        current = child;
        const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
        child.on("close", (code) => {
            clearTimeout(timer);
            current = undefined;
            if (partial) console.log(`  | ${partial}`);
            resolve({ code: code ?? 1, output, seconds: (Date.now() - t0) / 1000 });
        });
    });
}

// ---------------------------------------------------------------------------------------------
// Scenario context

interface Scenario {
    stack: string;
    hosts: number[];
    managers: number[];
    consulServers: number[];
    edges: number[];
    edgePort: number;
    replicas: number;
    vip?: string;
}

const DEV: Scenario = { stack: "rig-dev", hosts: [1], managers: [1], consulServers: [1], edges: [1], edgePort: 8080, replicas: 3 };
const MULTI: Scenario = { stack: "rig-multi", hosts: [1, 2, 3], managers: [1, 2, 3], consulServers: [1, 2, 3], edges: [1, 2], edgePort: 80, replicas: 6, vip: "10.77.0.100" };

const backendName = (k: number) => `web-${k}`;
/** DemoBackends' round-robin placement: replica k (1-based) on host (k-1) mod n. */
const backendHost = (s: Scenario, k: number) => s.hosts[(k - 1) % s.hosts.length];
const edgeUrl = (s: Scenario, host = s.edges[0]) => `http://${hostAddress(host)}:${s.edgePort}/`;
const consulUrl = (p: string, host = 1) => `http://${hostAddress(host)}:8500${p}`;
const nameOf = (body: string) => /^Name: (.+)$/m.exec(body)?.[1]?.trim();

async function consulJson<T>(p: string, host = 1): Promise<T | undefined> {
    const r = await httpGet(consulUrl(p, host), 3000);
    if (r.status !== 200) return undefined;
    try {
        return JSON.parse(r.body) as T;
    } catch {
        return undefined;
    }
}

interface CatalogEntry {
    ServiceAddress: string;
    ServicePort: number;
    ServiceID: string;
}

const catalogCount = async (s: Scenario) => (await consulJson<CatalogEntry[]>(`/v1/catalog/service/web`, s.consulServers[0]))?.length;
const passingCount = async (s: Scenario) => (await consulJson<unknown[]>(`/v1/health/service/web?passing`, s.consulServers[0]))?.length;

/** Waits until the catalog and the passing health view both hold `n` web instances. */
async function waitBackends(s: Scenario, n: number, timeoutMs = 60_000): Promise<number> {
    const r = await waitFor(async () => ((await catalogCount(s)) === n && (await passingCount(s)) === n ? true : undefined), timeoutMs, 1000, 120);
    assert(r.value, `web did not reach ${n} registered and passing instances within ${timeoutMs / 1000}s (catalog ${await catalogCount(s)}, passing ${await passingCount(s)})`);
    return r.ms;
}

/** Distinct backend names seen over at most `max` requests (stops early once `want` are all seen). */
async function namesSeen(url: string, want: string[], max: number, timeoutMs: number): Promise<{ names: Set<string>; statuses: Record<number, number> }> {
    const names = new Set<string>();
    const statuses: Record<number, number> = {};
    const t0 = Date.now();
    for (let i = 0; i < max && Date.now() - t0 < timeoutMs; i++) {
        const r = await httpGet(url, 3000);
        statuses[r.status] = (statuses[r.status] ?? 0) + 1;
        const n = nameOf(r.body);
        if (r.status === 200 && n) names.add(n);
        if (want.every((w) => names.has(w))) break;
        await sleep(50);
    }
    return { names, statuses };
}

interface LoopSample {
    t: number;
    status: number;
    name?: string;
    error?: string;
}

/** A bounded request loop: at most `count` requests, at most `durationMs`, `intervalMs` apart. */
async function requestLoop(url: string, count: number, durationMs: number, intervalMs: number, stop?: (last: LoopSample) => boolean): Promise<LoopSample[]> {
    const out: LoopSample[] = [];
    const t0 = Date.now();
    for (let i = 0; i < count && Date.now() - t0 < durationMs; i++) {
        const r = await httpGet(url, 3000);
        const sample = { t: Date.now() - t0, status: r.status, name: nameOf(r.body), error: r.error };
        out.push(sample);
        if (stop?.(sample)) break;
        await sleep(intervalMs);
    }
    return out;
}

// ---------------------------------------------------------------------------------------------
// Checks

async function checkUp(s: Scenario, args: string[] = [], label = `up[${s.stack}]`): Promise<boolean> {
    const r = await harness(s.stack, ["up", ...args], 600_000);
    const summary = /up \S+: ok in [\d.]+s \((.*)\)/.exec(r.output)?.[1] ?? "";
    if (r.code === 0) {
        timing(`${label} duration`, r.seconds);
        // `up` returns when every resource exists; traffic flows once Consul has the backends passing
        // and consul-template has rendered them.
        const first = await waitFor(async () => {
            const x = await httpGet(edgeUrl(s), 2000);
            return x.status === 200 && nameOf(x.body) ? true : undefined;
        }, 90_000, 200, 450);
        if (first.value) timing(`first request served after ${label}`, first.ms / 1000);
        report(true, label, `converged in ${r.seconds.toFixed(1)}s: ${summary}; ${first.value ? `first request served via ${edgeUrl(s)} ${(first.ms / 1000).toFixed(1)}s later` : `but ${edgeUrl(s)} served nothing within 90s`}`);
        return true;
    }
    const errors = r.output.split("\n").filter((l) => l.includes("error:")).slice(0, 5).join(" / ");
    report(false, label, `exit ${r.code} after ${r.seconds.toFixed(1)}s: ${errors || r.output.slice(-500)}`);
    return false;
}

async function checkSwarm(s: Scenario): Promise<void> {
    await check(`swarm[${s.stack}]`, async () => {
        const nodes = (await must(dockerOn(s.managers[0], ["node", "ls", "--format", "{{.Hostname}} {{.Status}} {{.Availability}} {{.ManagerStatus}}"]), "docker node ls"))
            .split("\n")
            .filter(Boolean);
        const problems: string[] = [];
        for (const h of s.hosts) {
            const line = nodes.find((n) => n.startsWith(`rig-h${h} `));
            if (!line) problems.push(`rig-h${h} not in the swarm`);
            else if (!/ Ready Active/.test(line)) problems.push(`rig-h${h} not ready: ${line}`);
            else if (s.managers.includes(h) !== /(Leader|Reachable)$/.test(line)) problems.push(`rig-h${h} has the wrong role: ${line}`);
        }
        assert(nodes.length === s.hosts.length, `expected ${s.hosts.length} nodes, got ${nodes.length}: ${nodes.join("; ")}`);
        const names = await Promise.all(s.hosts.map((h) => must(dockerOn(h, ["info", "--format", "{{.Name}}"]), "docker info")));
        assert(new Set(names).size === names.length, `engine names not distinct: ${names.join(", ")}`);
        assert(problems.length === 0, problems.join("; "));
        return `${nodes.length} node(s) ready with their roles (${nodes.map((n) => n.split(" ").filter((_x, i) => i === 0 || i === 3).join("=")).join(", ")}); distinct hostnames ${names.join(", ")}`;
    });
}

async function checkOverlay(s: Scenario): Promise<void> {
    await check(`overlay[${s.stack}]`, async () => {
        const ipam = await must(dockerOn(s.managers[0], ["network", "inspect", "my-network-overlay", "--format", "{{range .IPAM.Config}}{{.Subnet}} {{.Gateway}}{{end}} driver={{.Driver}} attachable={{.Attachable}}"]), "network inspect");
        assert(ipam === "10.10.0.0/16 10.10.0.254 driver=overlay attachable=true", `my-network-overlay is "${ipam}"`);
        if (s.hosts.length < 2) return `${ipam} (single host: cross-host traffic checked on rig-multi)`;
        const [a, b] = [s.hosts[0], s.hosts[s.hosts.length - 1]];
        const start = (h: number, name: string) =>
            must(dockerOn(h, ["run", "-d", "--name", name, "--network", "my-network-overlay", BASE_IMAGE, "sleep", "300"]), `run ${name} on rig-h${h}`);
        try {
            await Promise.all([start(a, "ovl-a"), start(b, "ovl-b")]);
            const probe = (h: number, from: string, to: string) =>
                waitFor(async () => {
                    const r = await dockerOn(h, ["exec", from, "ping", "-c", "1", "-W", "2", to], { timeoutMs: 10_000 });
                    return r.code === 0 ? true : undefined;
                }, 20_000, 1000, 15);
            const [ab, ba] = await Promise.all([probe(a, "ovl-a", "ovl-b"), probe(b, "ovl-b", "ovl-a")]);
            assert(ab.value, `ovl-a on rig-h${a} did not reach ovl-b (rig-h${b}) by name`);
            assert(ba.value, `ovl-b on rig-h${b} did not reach ovl-a (rig-h${a}) by name`);
            const ipOf = async (h: number, n: string) => must(dockerOn(h, ["inspect", "-f", '{{(index .NetworkSettings.Networks "my-network-overlay").IPAddress}}', n]), "inspect");
            return `${ipam}; ovl-a@rig-h${a} (${await ipOf(a, "ovl-a")}) <-> ovl-b@rig-h${b} (${await ipOf(b, "ovl-b")}) ping each other by name both ways`;
        } finally {
            await Promise.all([dockerOn(a, ["rm", "-f", "ovl-a"]), dockerOn(b, ["rm", "-f", "ovl-b"])]);
        }
    });
}

const gwbridgeOf = async (h: number) =>
    (await dockerOn(h, ["network", "inspect", "docker_gwbridge", "--format", `{{range .IPAM.Config}}{{.Subnet}} {{.Gateway}}{{end}} managed={{index .Labels "${MANAGED_LABEL}"}}`])).stdout.trim();

async function checkGwbridge(s: Scenario): Promise<void> {
    await check(`gwbridge[${s.stack}]`, async () => {
        const found = await Promise.all(s.hosts.map(async (h) => `rig-h${h}: ${await gwbridgeOf(h)}`));
        const bad = found.filter((f) => !f.includes(`: ${GWBRIDGE_WANT} `));
        assert(bad.length === 0, `wrong docker_gwbridge: ${bad.join("; ")}`);
        return found.join("; ");
    });
}

interface Member {
    Name: string;
    Status: number;
}

async function consulHealthy(s: Scenario, from = s.consulServers[0]): Promise<string | undefined> {
    const leader = await consulJson<string>("/v1/status/leader", from);
    const members = await consulJson<Member[]>("/v1/agent/members", from);
    if (!leader || !members) return undefined;
    const alive = members.filter((m) => m.Status === 1).map((m) => m.Name).sort();
    const want = s.hosts.map((h) => `rig-h${h}`);
    return want.every((w) => alive.includes(w)) && members.length === want.length ? `leader ${leader}, members alive: ${alive.join(", ")}` : undefined;
}

async function checkConsul(s: Scenario): Promise<void> {
    await check(`consul[${s.stack}]`, async () => {
        const r = await waitFor(() => consulHealthy(s), 60_000, 1000, 60);
        assert(r.value, `no leader with every member alive within 60s: leader=${await consulJson<string>("/v1/status/leader")} members=${JSON.stringify(await consulJson<Member[]>("/v1/agent/members"))}`);
        return r.value;
    });
    if (s.consulServers.length < 3) return;
    const victim = s.consulServers[s.consulServers.length - 1];
    const asker = s.consulServers[0];
    await check(`consul-failover[${s.stack}]`, async () => {
        await must(dockerOn(victim, ["stop", "consul"]), `stop consul on rig-h${victim}`);
        try {
            const down = await waitFor(async () => {
                const m = await consulJson<Member[]>("/v1/agent/members", asker);
                return m?.find((x) => x.Name === `rig-h${victim}`)?.Status !== 1 ? true : undefined;
            }, 30_000, 1000, 30);
            assert(down.value, `rig-h${victim} still alive to the others 30s after its agent stopped`);
            // A leader must exist (re-elected within a few seconds if it was the victim) and answer reads.
            const leader = await waitFor(async () => {
                const l = await consulJson<string>("/v1/status/leader", asker);
                const kv = l ? await httpGet(consulUrl("/v1/catalog/nodes", asker), 3000) : undefined;
                return l && kv?.status === 200 ? l : undefined;
            }, 20_000, 1000, 20);
            assert(leader.value, `no leader within 20s with rig-h${victim}'s server stopped`);
            return `with rig-h${victim}'s server stopped: leader ${leader.value} after ${(leader.ms / 1000).toFixed(1)}s, catalog answers`;
        } finally {
            await dockerOn(victim, ["start", "consul"]);
            const back = await waitFor(() => consulHealthy(s, asker), 60_000, 1000, 60);
            info(back.value ? `consul on rig-h${victim} back: ${back.value}` : `consul on rig-h${victim} did not rejoin within 60s`);
        }
    });
}

async function checkRegistrator(s: Scenario): Promise<void> {
    await check(`registrator[${s.stack}]`, async () => {
        const ms = await waitBackends(s, s.replicas);
        const entries = (await consulJson<CatalogEntry[]>("/v1/catalog/service/web", s.consulServers[0])) ?? [];
        const where = entries.map((e) => `${e.ServiceAddress}:${e.ServicePort}`).sort();
        const victim = 2;
        const vh = backendHost(s, victim);
        await must(dockerOn(vh, ["stop", backendName(victim)]), `stop ${backendName(victim)}`);
        let gone;
        try {
            gone = await waitFor(async () => ((await catalogCount(s)) === s.replicas - 1 ? true : undefined), 30_000, 500, 60);
        } finally {
            await dockerOn(vh, ["start", backendName(victim)]);
        }
        assert(gone.value, `${backendName(victim)} stopped on rig-h${vh} but the catalog still has ${await catalogCount(s)} web instances after 30s`);
        const back = await waitBackends(s, s.replicas);
        return `${s.replicas} web instances registered and passing after ${(ms / 1000).toFixed(1)}s (${where.join(" ")}); ${backendName(victim)} stopped -> deregistered in ${(gone.ms / 1000).toFixed(1)}s, started -> back in ${(back / 1000).toFixed(1)}s`;
    });
}

async function checkEdgeReach(s: Scenario): Promise<void> {
    const want = Array.from({ length: s.replicas }, (_, i) => backendName(i + 1));
    for (const e of s.edges) {
        await check(`edge-reach[${s.stack}@rig-h${e}]`, async () => {
            await waitBackends(s, s.replicas);
            // Converged: consul-template has rendered every instance (it coalesces changes for 2 s).
            const warm = await namesSeen(edgeUrl(s, e), want, s.replicas * 40, 60_000);
            const missing = want.filter((w) => !warm.names.has(w));
            assert(missing.length === 0, `via ${edgeUrl(s, e)} never reached ${missing.join(", ")} within 60s (statuses ${JSON.stringify(warm.statuses)})`);
            // Then a plain round of requests: every one answered, every backend in rotation.
            const samples = await requestLoop(edgeUrl(s, e), s.replicas * 4, 30_000, 20);
            const names = new Set(samples.map((x) => x.name).filter(Boolean));
            const bad = samples.filter((x) => x.status !== 200);
            assert(bad.length === 0 && names.size === want.length, `after convergence: ${bad.length} of ${samples.length} requests failed, ${names.size} of ${want.length} backends answered`);
            return `${edgeUrl(s, e)}: all ${want.length} backends in rotation (${[...names].sort().join(", ")}); ${samples.length} of ${samples.length} requests 200 (convergence round: ${JSON.stringify(warm.statuses)})`;
        });
    }
}

async function checkEdgeDynamics(s: Scenario): Promise<void> {
    const url = edgeUrl(s);
    const h = s.edges[0];
    await check(`edge-new-backend[${s.stack}]`, async () => {
        await dockerOn(h, ["rm", "-f", "web-extra"]);
        const t0 = Date.now();
        try {
            await must(
                dockerOn(h, ["run", "-d", "-P", "--name", "web-extra", "-e", "SERVICE_NAME=web", "-e", "SERVICE_CHECK_HTTP=/health", "-e", "SERVICE_CHECK_INTERVAL=2s", BACKEND_IMAGE, "--name", "web-extra"]),
                "docker run web-extra",
            );
            const started = Date.now();
            const samples = await requestLoop(url, 600, 60_000, 100, (x) => x.name === "web-extra");
            const hit = samples.find((x) => x.name === "web-extra");
            assert(hit, `web-extra never answered through ${url} within 60s (${samples.length} requests)`);
            const failures = samples.filter((x) => x.status !== 200).length;
            const convergence = (started - t0 + hit.t) / 1000;
            timing(`convergence[${s.stack}] (backend started -> first request served via the edge)`, convergence);
            assert(failures === 0, `${failures} failed request(s) while web-extra joined`);
            return `web-extra served through the edge ${convergence.toFixed(1)}s after docker run (${samples.length} requests, none failed)`;
        } finally {
            await dockerOn(h, ["rm", "-f", "web-extra"]);
            await waitBackends(s, s.replicas).catch(() => undefined);
        }
    });

    await check(`edge-stop-no-failure[${s.stack}]`, async () => {
        await waitBackends(s, s.replicas);
        const victim = 2;
        const vh = backendHost(s, victim);
        let stoppedAt = 0;
        const stopper = (async () => {
            await sleep(2000);
            stoppedAt = Date.now();
            await must(dockerOn(vh, ["stop", backendName(victim)]), `stop ${backendName(victim)}`);
        })();
        const t0 = Date.now();
        const samples = await requestLoop(url, 200, 20_000, 50);
        await stopper;
        await dockerOn(vh, ["start", backendName(victim)]);
        const after = samples.filter((x) => t0 + x.t >= stoppedAt);
        const bad = samples.filter((x) => x.status !== 200);
        const victimAfter = after.filter((x) => x.name === backendName(victim) && t0 + x.t > stoppedAt + 1000).length;
        await waitBackends(s, s.replicas);
        assert(bad.length === 0, `${bad.length} of ${samples.length} requests failed around stopping ${backendName(victim)}: ${bad.slice(0, 3).map((b) => `${b.status} ${b.error ?? ""}`).join(", ")}`);
        return `${samples.length} requests in ${((samples.at(-1)?.t ?? 0) / 1000).toFixed(1)}s, ${after.length} after stopping ${backendName(victim)}, none failed (${victimAfter} served by it >1s after its stop)`;
    });

    await check(`edge-502-and-recovery[${s.stack}]`, async () => {
        const all = Array.from({ length: s.replicas }, (_, i) => i + 1);
        await Promise.all(all.map((k) => must(dockerOn(backendHost(s, k), ["stop", backendName(k)]), `stop ${backendName(k)}`)));
        try {
            const down = await waitFor(async () => {
                const rs = [await httpGet(url), await httpGet(url), await httpGet(url)];
                return rs.every((r) => r.status === 502) ? true : undefined;
            }, 30_000, 500, 60);
            assert(down.value, `with every backend stopped the edge did not answer 502 (got ${(await httpGet(url)).status})`);
            const t0 = Date.now();
            await must(dockerOn(backendHost(s, 1), ["start", backendName(1)]), `start ${backendName(1)}`);
            const up = await waitFor(async () => {
                const r = await httpGet(url);
                return r.status === 200 && nameOf(r.body) === backendName(1) ? true : undefined;
            }, 60_000, 100, 600);
            assert(up.value, `the edge did not recover within 60s of ${backendName(1)} starting (got ${(await httpGet(url)).status})`);
            const recovery = (Date.now() - t0) / 1000;
            timing(`recovery[${s.stack}] (first backend back -> served via the edge)`, recovery);
            return `502 with all ${s.replicas} backends stopped (after ${(down.ms / 1000).toFixed(1)}s); ${backendName(1)} started -> 200 again after ${recovery.toFixed(1)}s`;
        } finally {
            await Promise.all(all.map((k) => dockerOn(backendHost(s, k), ["start", backendName(k)])));
            await waitBackends(s, s.replicas).catch(() => undefined);
        }
    });
}

async function vipHolders(s: Scenario): Promise<number[]> {
    const has = await Promise.all(
        s.edges.map(async (h) => {
            const r = await sshOn(h, "ip -4 -o addr show dev eth0", { timeoutMs: 10_000 });
            return r.stdout.includes(` ${s.vip}/`) ? h : 0;
        }),
    );
    return has.filter((h) => h > 0);
}

async function checkVip(s: Scenario): Promise<void> {
    if (!s.vip) return;
    const url = `http://${s.vip}:${s.edgePort}/`;
    await check(`vip[${s.stack}]`, async () => {
        const settled = await waitFor(async () => {
            const holders = await vipHolders(s);
            const r = await httpGet(url);
            return holders.length === 1 && r.status === 200 ? holders[0] : undefined;
        }, 30_000, 1000, 30);
        assert(settled.value, `VIP ${s.vip} not held by exactly one edge host with service (holders: ${(await vipHolders(s)).join(",") || "none"})`);
        const { names, statuses } = await namesSeen(url, Array.from({ length: s.replicas }, (_, i) => backendName(i + 1)), s.replicas * 20, 30_000);
        assert(names.size === s.replicas, `via ${url} saw only ${[...names].join(", ")} (${JSON.stringify(statuses)})`);
        return `${s.vip} on rig-h${settled.value}; ${url} reached all ${names.size} backends`;
    });

    await check(`vip-failover[${s.stack}]`, async () => {
        const [master] = await vipHolders(s);
        assert(master, "no VIP holder");
        const backup = s.edges.find((h) => h !== master) as number;
        let stopAt = 0;
        let movedAt = 0;
        let done = false;
        const t0 = Date.now();
        const loop = requestLoop(url, 400, 45_000, 100, () => done);
        await sleep(2000);
        stopAt = Date.now();
        await must(dockerOn(master, ["stop", "edge"]), `stop edge on rig-h${master}`);
        try {
            const moved = await waitFor(async () => {
                const holders = await vipHolders(s);
                return holders.length === 1 && holders[0] === backup ? true : undefined;
            }, 30_000, 200, 150);
            movedAt = Date.now();
            assert(moved.value, `VIP still on rig-h${(await vipHolders(s)).join(",")} 30s after stopping the edge on rig-h${master}`);
            await sleep(4000);
            done = true;
            const samples = await loop;
            const afterStop = samples.filter((x) => t0 + x.t >= stopAt);
            const failedReqs = afterStop.filter((x) => x.status !== 200);
            const lastFail = failedReqs.at(-1);
            const restoredAt = lastFail ? t0 + lastFail.t : stopAt;
            const tail = samples.filter((x) => t0 + x.t > movedAt + 1000);
            assert(tail.length > 0 && tail.every((x) => x.status === 200), `requests via the VIP still failing after it moved: ${tail.filter((x) => x.status !== 200).length} of ${tail.length}`);
            const failover = (movedAt - stopAt) / 1000;
            timing(`vip failover[${s.stack}] (edge stopped -> VIP on backup)`, failover);
            timing(`vip service gap[${s.stack}] (edge stopped -> last failed request)`, (restoredAt - stopAt) / 1000);
            return `edge on rig-h${master} stopped -> VIP on rig-h${backup} in ${failover.toFixed(1)}s; ${afterStop.length} requests after the stop, ${failedReqs.length} failed (gap ${((restoredAt - stopAt) / 1000).toFixed(1)}s), all OK after the move`;
        } finally {
            done = true;
            await loop;
        }
    });
    await must(dockerOn(s.edges[0], ["start", "edge"]), `start edge on rig-h${s.edges[0]}`).catch((e) => info(String(e)));

    await check(`vip-restore[${s.stack}]`, async () => {
        const master = s.edges[0];
        const t0 = Date.now();
        let done = false;
        const loop = requestLoop(url, 400, 40_000, 100, () => done);
        try {
            const back = await waitFor(async () => {
                const holders = await vipHolders(s);
                assert(holders.length <= 1, `VIP on several hosts at once: ${holders.join(", ")}`);
                return holders[0] === master ? true : undefined;
            }, 30_000, 200, 150);
            assert(back.value, `VIP still on rig-h${(await vipHolders(s)).join(",") || "none"} 30s after the edge on rig-h${master} came back`);
            const failback = (Date.now() - t0) / 1000;
            // Stable: the MASTER keeps it, and requests are served, for a few more seconds.
            for (let i = 0; i < 5; i++) {
                await sleep(1000);
                const holders = await vipHolders(s);
                assert(holders.length === 1 && holders[0] === master, `VIP moved again after failback: holders ${holders.join(",") || "none"}`);
            }
            done = true;
            const samples = await loop;
            const bad = samples.filter((x) => x.status !== 200);
            const tail = samples.slice(-10);
            assert(tail.every((x) => x.status === 200), `requests via the VIP failing after failback: ${tail.map((x) => x.status).join(",")}`);
            timing(`vip failback[${s.stack}] (edge restarted -> VIP back on the MASTER)`, failback);
            return `edge restarted on rig-h${master}: VIP back on rig-h${master} (MASTER, preempt) in ${failback.toFixed(1)}s and stable for 5s; ${samples.length} requests across the failback, ${bad.length} failed`;
        } finally {
            done = true;
            await loop;
        }
    });
}

const LISTENER = [
    "printf '%s\\n' 'pid /tmp/n.pid;' 'error_log stderr;' 'events {}'",
    "'http { access_log off; server { listen 27017; listen 2181; listen 8081; location / { return 200 \"ok\\n\"; } } }' >/tmp/n.conf",
    "&& exec nginx -c /tmp/n.conf -g 'daemon off;'",
].join(" ");

async function checkIsolation(s: Scenario, h: number): Promise<void> {
    await check(`isolation[${s.stack}@rig-h${h}]`, async () => {
        const tiers = ["app", "mongo", "zookeeper"];
        try {
            await Promise.all(tiers.map((t) => must(dockerOn(h, ["run", "-d", "--name", `iso-${t}`, "--network", `net_${t}`, BASE_IMAGE, "sh", "-c", LISTENER]), `run iso-${t}`)));
            const ip: Record<string, string> = {};
            for (const t of tiers) ip[t] = await must(dockerOn(h, ["inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", `iso-${t}`]), "inspect");
            // Each listener answers locally first, so a closed path below is the network's doing.
            for (const t of tiers) {
                const ok = await waitFor(async () => ((await dockerOn(h, ["exec", `iso-${t}`, "curl", "-s", "-m", "2", "http://127.0.0.1:8081/"])).stdout.includes("ok") ? true : undefined), 15_000, 500, 30);
                assert(ok.value, `iso-${t} listener did not come up`);
            }
            const probe = async (from: string, to: string, port: number) => {
                const r = await dockerOn(h, ["exec", `iso-${from}`, "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-m", "3", `http://${ip[to]}:${port}/`], { timeoutMs: 15_000 });
                return r.stdout.trim() === "200";
            };
            const cases: [string, string, number, boolean][] = [
                ["app", "mongo", 27017, true],
                ["app", "zookeeper", 2181, true],
                ["app", "mongo", 8081, false],
                ["app", "zookeeper", 27017, false],
                ["mongo", "app", 8081, false],
                ["mongo", "zookeeper", 2181, false],
                ["zookeeper", "mongo", 27017, false],
            ];
            const results = await Promise.all(cases.map(async ([f, t, p, want]) => ({ f, t, p, want, got: await probe(f, t, p) })));
            const wrong = results.filter((r) => r.got !== r.want);
            const fmt = (r: (typeof results)[number]) => `${r.f}->${r.t}:${r.p} ${r.got ? "open" : "closed"}`;
            assert(wrong.length === 0, `unexpected: ${wrong.map(fmt).join(", ")}`);
            return results.map(fmt).join(", ");
        } finally {
            await Promise.all(tiers.map((t) => dockerOn(h, ["rm", "-f", `iso-${t}`])));
        }
    });
}

async function checkIdempotence(s: Scenario): Promise<void> {
    const before = await snapshotHosts(s.hosts);
    const r = await harness(s.stack, ["up"], 600_000);
    const after = await snapshotHosts(s.hosts);
    const diff = diffSnapshots(before, after);
    const reran = /(\d+) commands re-run, (\d+) already there/.exec(r.output);
    timing(`second up[${s.stack}]`, r.seconds);
    report(
        r.code === 0 && diff.length === 0,
        `idempotence[${s.stack}]`,
        r.code !== 0
            ? `second up failed (exit ${r.code}): ${r.output.split("\n").filter((l) => l.includes("error:")).slice(0, 3).join(" / ")}`
            : diff.length > 0
              ? `second up changed the hosts: ${diff.slice(0, 12).join("; ")}${diff.length > 12 ? ` (+${diff.length - 12} more)` : ""}`
              : `second up in ${r.seconds.toFixed(1)}s re-ran ${reran?.[1] ?? "?"} commands, found ${reran?.[2] ?? "?"} resources in place; snapshot of ${s.hosts.map((h) => `rig-h${h}`).join(", ")} (containers+StartedAt, networks, volumes, images, DOCKER-USER, swarm) unchanged`,
    );
}

/** Every check of a stack that is up; `edgeFailure` is how the scenario takes an edge path away, `isolationHost` where tiers are probed. */
async function checkRunningStack(s: Scenario, edgeFailure: (s: Scenario) => Promise<void>, isolationHost: number): Promise<void> {
    await checkSwarm(s);
    await checkOverlay(s);
    await checkGwbridge(s);
    await checkConsul(s);
    await checkRegistrator(s);
    await checkEdgeReach(s);
    await edgeFailure(s);
    await checkIsolation(s, isolationHost);
    await checkIdempotence(s);
}

async function checkDestroy(s: Scenario, reference: HostSnapshot[], label: string): Promise<void> {
    const r = await harness(s.stack, ["destroy"], 600_000);
    const deleted = /destroy \S+: (.*)$/m.exec(r.output)?.[1] ?? "";
    report(r.code === 0, `destroy[${s.stack}]`, r.code === 0 ? `${deleted} (${r.seconds.toFixed(1)}s)` : `exit ${r.code}: ${r.output.split("\n").filter((l) => l.includes("FAILED")).slice(0, 4).join(" / ")}`);
    const after = await snapshotHosts(ALL_HOSTS);
    const diff = diffSnapshots(reference, after);
    report(diff.length === 0, `destroy-clean[${s.stack}]`, diff.length === 0 ? `every host as ${label}` : `hosts differ from ${label}: ${diff.slice(0, 12).join("; ")}`);
}

// ---------------------------------------------------------------------------------------------
// Scenarios

async function scenarioDev(baseline: HostSnapshot[]): Promise<void> {
    const s = DEV;
    info(`=== ${s.stack}: one host (rig-h1) with every role; a swarm and a docker_gwbridge made by hand beforehand must survive destroy`);
    await must(
        dockerOn(1, ["network", "create", "--driver", "bridge", "--subnet", "172.21.0.0/20", "--gateway", "172.21.0.1", "-o", "com.docker.network.bridge.enable_icc=false",
            "-o", "com.docker.network.bridge.enable_ip_masquerade=true", "-o", "com.docker.network.bridge.name=docker_gwbridge", "docker_gwbridge"]),
        "hand-made docker_gwbridge",
    );
    await must(dockerOn(1, ["swarm", "init", "--advertise-addr", hostAddress(1)]), "hand-made swarm init");
    const pre = await snapshotHosts(ALL_HOSTS);
    const handSwarm = pre[0].swarm[0];
    try {
        if (await checkUp(s)) {
            await checkRunningStack(s, checkEdgeDynamics, 1);
        }
    } finally {
        await checkDestroy(s, pre, "before up (hand-made swarm and gwbridge included)");
    }
    await check(`preexisting-kept[${s.stack}]`, async () => {
        const now = (await must(dockerOn(1, ["info", "--format", "{{.Swarm.LocalNodeState}} node={{.Swarm.NodeID}}"]), "docker info"));
        assert(handSwarm.startsWith(now), `swarm was "${handSwarm}", is now "${now}"`);
        const gw = await gwbridgeOf(1);
        assert(gw.startsWith(GWBRIDGE_WANT), `docker_gwbridge is "${gw}"`);
        return `hand-made swarm still ${now}; hand-made docker_gwbridge kept (${gw})`;
    });
    // Undo the hand-made setup so rig-multi starts from clean hosts.
    await dockerOn(1, ["swarm", "leave", "--force"]);
    await waitFor(async () => ((await dockerOn(1, ["network", "rm", "docker_gwbridge"])).code === 0 ? true : undefined), 20_000, 1000, 20);
    const diff = diffSnapshots(baseline, await snapshotHosts(ALL_HOSTS));
    if (diff.length > 0) info(`after undoing the hand-made swarm: hosts differ from the baseline: ${diff.join("; ")}`);
}

async function scenarioMulti(baseline: HostSnapshot[]): Promise<void> {
    const s = MULTI;
    info(`=== ${s.stack}: three hosts, all managers and Consul servers, two edges sharing VIP ${s.vip}`);
    await check(`clean-start[${s.stack}]`, async () => {
        const diff = diffSnapshots(baseline, await snapshotHosts(ALL_HOSTS));
        assert(diff.length === 0, diff.slice(0, 10).join("; "));
        return "every host as in the baseline taken before any stack ran";
    });
    // A docker_gwbridge with another subnet on rig-h3: the default config must refuse to touch it.
    await must(
        dockerOn(3, ["network", "create", "--driver", "bridge", "--subnet", "172.22.0.0/20", "--gateway", "172.22.0.1", "-o", "com.docker.network.bridge.name=docker_gwbridge", "docker_gwbridge"]),
        "wrong-subnet docker_gwbridge on rig-h3",
    );
    try {
        await check(`gwbridge-guard[${s.stack}]`, async () => {
            const r = await harness(s.stack, ["up"], 600_000);
            assert(r.code !== 0, "up succeeded although rig-h3's docker_gwbridge has 172.22.0.0/20");
            const line = r.output.split("\n").find((l) => l.includes("error:") && l.includes("gwbridgeAllowRebuild"));
            assert(line && line.includes("rig-h3"), `up failed, but no error names gwbridgeAllowRebuild and rig-h3: ${r.output.split("\n").filter((l) => l.includes("error:")).join(" / ")}`);
            const gw = await gwbridgeOf(3);
            assert(gw.startsWith("172.22.0.0/20"), `rig-h3's docker_gwbridge changed to ${gw}`);
            return `up failed in ${r.seconds.toFixed(1)}s, bridge untouched; ${line.replace(/^.*error: /, "").slice(0, 260)}`;
        });
        // What the refused update created goes again; the bridge it refused to touch must stay.
        await check(`destroy-after-failed-up[${s.stack}]`, async () => {
            const r = await harness(s.stack, ["destroy"], 600_000);
            assert(r.code === 0, `destroy failed: ${r.output.split("\n").filter((l) => l.includes("FAILED")).slice(0, 3).join(" / ")}`);
            const gw = await gwbridgeOf(3);
            assert(gw.startsWith("172.22.0.0/20"), `rig-h3's docker_gwbridge is now "${gw}"`);
            const diff = diffSnapshots(baseline, await snapshotHosts(ALL_HOSTS)).filter((d) => !d.startsWith("rig-h3 networks: + docker_gwbridge"));
            assert(diff.length === 0, `hosts differ from the baseline: ${diff.slice(0, 8).join("; ")}`);
            return `${/destroy \S+: (.*)$/m.exec(r.output)?.[1] ?? ""}; hosts as in the baseline, rig-h3's foreign docker_gwbridge (172.22.0.0/20) kept`;
        });
        if (await checkUp(s, ["--set", "gwbridgeAllowRebuild=true"], `up[${s.stack}] (gwbridgeAllowRebuild=true)`)) {
            await check(`gwbridge-rebuild[${s.stack}]`, async () => {
                const gw = await gwbridgeOf(3);
                assert(gw === `${GWBRIDGE_WANT} managed=true`, `rig-h3's docker_gwbridge is "${gw}"`);
                return `rig-h3's docker_gwbridge rebuilt: ${gw}`;
            });
            await checkRunningStack(s, checkVip, 2);
        }
    } finally {
        await checkDestroy(s, baseline, "in the baseline taken before any stack ran");
        await dockerOn(3, ["network", "rm", "docker_gwbridge"]).then((r) => r.code === 0 && info("removed a docker_gwbridge left on rig-h3"));
    }
}

/**
 * Pulumi.dev.yaml's own shape (local engine over /var/run/docker.sock, local commands, 127.0.0.1), run
 * inside rig-h1's namespaces so that "local" is a rig host and not this machine.
 */
async function scenarioLocal(baseline: HostSnapshot[]): Promise<void> {
    const stack = "dev-local";
    info(`=== ${stack}: Pulumi.dev.yaml's shape, local commands and the local engine, inside rig-h1`);
    try {
        const up = await check(`up[${stack}]`, async () => {
            const r = await harness(stack, ["up"], 600_000, 1);
            assert(r.code === 0, `up failed: ${r.output.split("\n").filter((l) => l.includes("error")).slice(0, 3).join(" / ")}`);
            timings.push(`up[${stack}] duration ${r.seconds.toFixed(1)}s`);
            return `converged in ${r.seconds.toFixed(1)}s with command:local:Command and unix:///var/run/docker.sock`;
        });
        if (up) {
            await check(`edge-reach[${stack}]`, async () => {
                const names = new Set<string>();
                const probe = `for i in $(seq 1 30); do curl -s -m 2 http://127.0.0.1:8080/ | sed -n 's/^Name: //p'; sleep 0.3; done`;
                await waitFor(async () => {
                    const r = await run("nsenter", [...insideHost(1), "sh", "-c", probe], { timeoutMs: 30_000 });
                    r.stdout.split("\n").filter(Boolean).forEach((n) => names.add(n));
                    return names.size >= 3 ? true : undefined;
                }, 90_000, 1000, 6);
                assert(names.size >= 3, `only ${[...names].join(", ") || "no backend"} answered on http://127.0.0.1:8080/`);
                return `http://127.0.0.1:8080/ inside rig-h1 served ${[...names].sort().join(", ")}`;
            });
        }
    } finally {
        await check(`destroy-clean[${stack}]`, async () => {
            const r = await harness(stack, ["destroy"], 600_000, 1);
            assert(r.code === 0, "destroy failed");
            const diff = diffSnapshots(baseline, await snapshotHosts(ALL_HOSTS));
            assert(diff.length === 0, diff.slice(0, 8).join("; "));
            return "every host as in the baseline";
        });
    }
}

async function main(): Promise<number> {
    const which = process.argv.slice(2);
    const scenarios = which.length ? which : ["dev", "local", "multi"];
    const t0 = Date.now();
    const baseline = await snapshotHosts(ALL_HOSTS);
    fs.writeFileSync(path.join(RIG_STATE, "baseline.json"), JSON.stringify(baseline, null, 2));
    await check("baseline", async () => {
        const busy = baseline.filter((b) => b.containers.length > 0 || !b.swarm[0].startsWith("inactive") || b.volumes.length > 0);
        assert(busy.length === 0, `hosts not fresh: ${busy.map((b) => b.host).join(", ")}`);
        return baseline.map((b) => `${b.host}: ${b.networks.length} networks, ${b.images.length} images, DOCKER-USER ${b.dockerUser.length} rule(s), swarm ${b.swarm[0].split(" ")[0]}`).join("; ");
    });
    for (const sc of scenarios) {
        if (sc === "dev") await scenarioDev(baseline);
        else if (sc === "multi") await scenarioMulti(baseline);
        else if (sc === "local") await scenarioLocal(baseline);
        else throw new Error(`unknown scenario ${sc}`);
    }
    report(timings.length > 0, "timings", timings.join("; ") || "none recorded");
    info(`checks done in ${((Date.now() - t0) / 1000).toFixed(0)}s: ${passed} passed, ${failed} failed`);
    return failed === 0 ? 0 : 1;
}

main().then(
    (code) => process.exit(code),
    (e) => {
        report(false, "checks", `crashed: ${e instanceof Error ? e.stack : String(e)}`);
        process.exit(1);
    },
);
