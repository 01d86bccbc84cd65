/**
 * Checks of a running platform on the rig: swarm, overlay, gwbridge, Consul, registrator, the edge, the
 * VIP and tier isolation, each against the hosts themselves. Traffic goes to 10.77.0.x and loopback
 * only, and every loop is bounded in count and time.
 */
import * as fs from "fs";
import { backendEnvs } from "../render/backends";
import { curlFromHost, dockerOn, hostAddress, httpGet, must, setLink, sleep, sshOn, waitFor } from "./lib";
import { assert, check, info, timing } from "./report";
import { cpuCgroupOfPid, cpuWeightOf } from "./bench/cgroup";

export const BASE_IMAGE = "rig/base:bookworm";
const BACKEND_IMAGE = "rig/whoami-stand-in:v1.10.3";
export const GWBRIDGE_WANT = "172.21.0.0/20 172.21.0.1";
const MANAGED_LABEL = "io.swarm-platform.managed";

export interface Scenario {
    stack: string;
    hosts: number[];
    managers: number[];
    consulServers: number[];
    edges: number[];
    edgePort: number;
    replicas: number;
    vip?: string;
}

export const DEV: Scenario = { stack: "rig-dev", hosts: [1], managers: [1], consulServers: [1], edges: [1], edgePort: 8080, replicas: 3 };
export const MULTI: Scenario = {
    stack: "rig-multi",
    hosts: [1, 2, 3],
    managers: [1, 2, 3],
    consulServers: [1, 2, 3],
    edges: [1, 2],
    edgePort: 80,
    replicas: 6,
    vip: "10.77.0.100",
};

export const backendName = (k: number) => `web-${k}`;
const BACKEND_NAME = /^web-\d+$/;
/** DemoBackends' round-robin placement: replica k (1-based) on host (k-1) mod n. */
export const backendHost = (s: Scenario, k: number) => s.hosts[(k - 1) % s.hosts.length];

/** A web instance started by hand on rig-h<h>, with the demo backends' image and registration metadata. */
export const runExtraBackend = (h: number, name: string): Promise<string> =>
    must(
        dockerOn(h, [
            "run",
            "-d",
            "-p",
            "80",
            "--name",
            name,
            ...backendEnvs({ service: "web", replicas: 1, containerPort: 80, healthPath: "/health" }).flatMap((e) => ["-e", e]),
            BACKEND_IMAGE,
            "--port",
            "80",
            "--name",
            name,
        ]),
        `docker run ${name} on rig-h${h}`,
    );
export const edgeUrl = (s: Scenario, host = s.edges[0]) => `http://${hostAddress(host)}:${s.edgePort}/`;
/** Consul's HTTP API on a host's loopback, the only address it listens on; reads need no token (the default token reads). */
const consulGet = (p: string, host = 1) => curlFromHost(host, `http://127.0.0.1:8500${p}`);

/** A PUT to Consul's API on rig-h<i>'s loopback, with a token or none; the HTTP status, 0 when nothing answered. */
const consulPut = async (host: number, p: string, body: string, token?: string): Promise<number> =>
    (
        await curlFromHost(host, `http://127.0.0.1:8500${p}`, {
            method: "PUT",
            data: body,
            headers: token ? [`X-Consul-Token: ${token}`] : [],
        })
    ).status;

/** The ACL tokens in a Consul agent's config on rig-h<i> (initial_management on servers only). */
async function agentAclTokens(h: number): Promise<Record<string, string>> {
    const config = (await dockerOn(h, ["exec", "consul", "cat", "/consul/config/agent.json"])).stdout;
    try {
        return (JSON.parse(config) as { acl?: { tokens?: Record<string, string> } }).acl?.tokens ?? {};
    } catch {
        return {};
    }
}

const managementToken = async (s: Scenario): Promise<string> => {
    const token = (await agentAclTokens(s.consulServers[0])).initial_management;
    assert(token, `no management token in rig-h${s.consulServers[0]}'s Consul config`);
    return token;
};
export const nameOf = (body: string) => /^Name: (.+)$/m.exec(body)?.[1]?.trim();

async function consulJson<T>(p: string, host = 1): Promise<T | undefined> {
    const r = await consulGet(p, host);
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

/** The web instances whose checks pass, as Consul hands them to the edge. */
export async function passingInstances(s: Scenario): Promise<{ address: string; port: number }[]> {
    const entries = await consulJson<{ Service: { Address: string; Port: number } }[]>(
        `/v1/health/service/web?passing`,
        s.consulServers[0],
    );
    return (entries ?? []).map((e) => ({ address: e.Service.Address, port: e.Service.Port }));
}

const catalogCount = async (s: Scenario) => (await consulJson<CatalogEntry[]>(`/v1/catalog/service/web`, s.consulServers[0]))?.length;
const passingCount = async (s: Scenario, from = s.consulServers[0], query = "passing") =>
    (await consulJson<unknown[]>(`/v1/health/service/web?${query}`, from))?.length;

/** Waits until the catalog and the passing health view both hold `n` web instances. */
export async function waitBackends(s: Scenario, n: number, timeoutMs = 60_000): Promise<number> {
    const r = await waitFor(
        async () => ((await catalogCount(s)) === n && (await passingCount(s)) === n ? true : undefined),
        timeoutMs,
        1000,
        120,
    );
    assert(
        r.value,
        `web did not reach ${n} registered and passing instances within ${timeoutMs / 1000}s (catalog ${await catalogCount(s)}, passing ${await passingCount(s)})`,
    );
    return r.ms;
}

/** Distinct backend names seen over at most `max` requests (stops early once `want` are all seen). */
async function namesSeen(
    url: string,
    want: string[],
    max: number,
    timeoutMs: number,
): Promise<{ names: Set<string>; statuses: Record<number, number> }> {
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
export async function requestLoop(
    url: string,
    count: number,
    durationMs: number,
    intervalMs: number,
    stop?: (last: LoopSample) => boolean,
): Promise<LoopSample[]> {
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

export async function checkSwarm(s: Scenario): Promise<void> {
    await check(`swarm[${s.stack}]`, async () => {
        const nodes = (
            await must(
                dockerOn(s.managers[0], ["node", "ls", "--format", "{{.Hostname}} {{.Status}} {{.Availability}} {{.ManagerStatus}}"]),
                "docker node ls",
            )
        )
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
        return `${nodes.length} node(s) ready with their roles (${nodes
            .map((n) =>
                n
                    .split(" ")
                    .filter((_x, i) => i === 0 || i === 3)
                    .join("="),
            )
            .join(", ")}); distinct hostnames ${names.join(", ")}`;
    });
}

export async function checkOverlay(s: Scenario): Promise<void> {
    await check(`overlay[${s.stack}]`, async () => {
        const ipam = await must(
            dockerOn(s.managers[0], [
                "network",
                "inspect",
                "my-network-overlay",
                "--format",
                "{{range .IPAM.Config}}{{.Subnet}} {{.Gateway}}{{end}} driver={{.Driver}} attachable={{.Attachable}}",
            ]),
            "network inspect",
        );
        assert(ipam === "10.10.0.0/16 10.10.0.254 driver=overlay attachable=true", `my-network-overlay is "${ipam}"`);
        if (s.hosts.length < 2) return `${ipam} (single host: cross-host traffic checked on rig-multi)`;
        const [a, b] = [s.hosts[0], s.hosts[s.hosts.length - 1]];
        const start = (h: number, name: string) =>
            must(
                dockerOn(h, ["run", "-d", "--name", name, "--network", "my-network-overlay", BASE_IMAGE, "sleep", "300"]),
                `run ${name} on rig-h${h}`,
            );
        try {
            await Promise.all([start(a, "ovl-a"), start(b, "ovl-b")]);
            const probe = (h: number, from: string, to: string) =>
                waitFor(
                    async () => {
                        const r = await dockerOn(h, ["exec", from, "ping", "-c", "1", "-W", "2", to], { timeoutMs: 10_000 });
                        return r.code === 0 ? true : undefined;
                    },
                    20_000,
                    1000,
                    15,
                );
            const [ab, ba] = await Promise.all([probe(a, "ovl-a", "ovl-b"), probe(b, "ovl-b", "ovl-a")]);
            assert(ab.value, `ovl-a on rig-h${a} did not reach ovl-b (rig-h${b}) by name`);
            assert(ba.value, `ovl-b on rig-h${b} did not reach ovl-a (rig-h${a}) by name`);
            const ipOf = async (h: number, n: string) =>
                must(dockerOn(h, ["inspect", "-f", '{{(index .NetworkSettings.Networks "my-network-overlay").IPAddress}}', n]), "inspect");
            return `${ipam}; ovl-a@rig-h${a} (${await ipOf(a, "ovl-a")}) <-> ovl-b@rig-h${b} (${await ipOf(b, "ovl-b")}) ping each other by name both ways`;
        } finally {
            await Promise.all([dockerOn(a, ["rm", "-f", "ovl-a"]), dockerOn(b, ["rm", "-f", "ovl-b"])]);
        }
    });
}

export const gwbridgeOf = async (h: number) =>
    (
        await dockerOn(h, [
            "network",
            "inspect",
            "docker_gwbridge",
            "--format",
            `{{range .IPAM.Config}}{{.Subnet}} {{.Gateway}}{{end}} managed={{index .Labels "${MANAGED_LABEL}"}}`,
        ])
    ).stdout.trim();

export async function checkGwbridge(s: Scenario): Promise<void> {
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
/** Serf's member states, as /v1/agent/members numbers them. */
const MEMBER_STATUS: Record<number, string> = { 0: "none", 1: "alive", 2: "leaving", 3: "left", 4: "failed" };

/** rig-h<h>'s state in rig-h<from>'s member list: "gone" when it is not listed, "unknown" when the list cannot be read. */
async function memberStatus(h: number, from: number): Promise<string> {
    const members = await consulJson<Member[]>("/v1/agent/members", from);
    if (!members) return "unknown";
    const m = members.find((x) => x.Name === `rig-h${h}`);
    return m ? (MEMBER_STATUS[m.Status] ?? String(m.Status)) : "gone";
}

async function consulHealthy(s: Scenario, from = s.consulServers[0]): Promise<string | undefined> {
    const leader = await consulJson<string>("/v1/status/leader", from);
    const members = await consulJson<Member[]>("/v1/agent/members", from);
    if (!leader || !members) return undefined;
    const alive = members
        .filter((m) => m.Status === 1)
        .map((m) => m.Name)
        .sort();
    const want = s.hosts.map((h) => `rig-h${h}`);
    return want.every((w) => alive.includes(w)) && members.length === want.length
        ? `leader ${leader}, members alive: ${alive.join(", ")}`
        : undefined;
}

/** Every Consul agent's process runs as the consul user (uid 100) with no effective capability. */
export async function checkConsulUnprivileged(s: Scenario): Promise<void> {
    await check(`consul-unprivileged[${s.stack}]`, async () => {
        const seen: string[] = [];
        for (const h of s.hosts) {
            const pid = (await must(dockerOn(h, ["inspect", "consul", "-f", "{{.State.Pid}}"]), `inspect consul on rig-h${h}`)).trim();
            const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
            const uid = /^Uid:\s+(\d+)/m.exec(status)?.[1];
            const caps = /^CapEff:\s+([0-9a-f]+)/m.exec(status)?.[1];
            assert(uid === "100" && caps && /^0+$/.test(caps), `rig-h${h}'s consul (pid ${pid}) runs as uid ${uid} with CapEff ${caps}`);
            seen.push(`rig-h${h}`);
        }
        return `the agents on ${seen.join(", ")} run as uid 100 with no effective capability; DNS reaches them through the host's redirect (service-dns)`;
    });
}

/** As the kernel sees it, on every host: each platform container weighs more on the CPUs than any backend. */
export async function checkCpuWeights(s: Scenario): Promise<void> {
    await check(`cpu-weight[${s.stack}]`, async () => {
        const seen: string[] = [];
        for (const h of s.hosts) {
            const names = (await must(dockerOn(h, ["ps", "--format", "{{.Names}}"]), `docker ps on rig-h${h}`)).split("\n").filter(Boolean);
            const weights = new Map<string, number>();
            for (const name of names) {
                const pid = Number(await must(dockerOn(h, ["inspect", name, "-f", "{{.State.Pid}}"]), `inspect ${name} on rig-h${h}`));
                weights.set(name, cpuWeightOf(cpuCgroupOfPid(pid)));
            }
            const backends = names.filter((n) => BACKEND_NAME.test(n));
            const platform = names.filter((n) => !BACKEND_NAME.test(n));
            if (!backends.length) continue;
            const heaviestBackend = Math.max(...backends.map((n) => weights.get(n) as number));
            const light = platform.filter((n) => (weights.get(n) as number) <= heaviestBackend);
            assert(
                platform.length && !light.length,
                `rig-h${h}: ${light.map((n) => `${n} ${weights.get(n)}`).join(", ") || "no platform container"} against backends at ${heaviestBackend}`,
            );
            seen.push(
                `rig-h${h} ${platform.length} platform containers at ${[...new Set(platform.map((n) => weights.get(n)))].join("/")}, ${backends.length} backends at ${heaviestBackend}`,
            );
        }
        assert(seen.length, "no host runs a backend");
        return seen.join("; ");
    });
}

export async function checkConsul(s: Scenario): Promise<void> {
    await check(`consul[${s.stack}]`, async () => {
        const r = await waitFor(() => consulHealthy(s), 60_000, 1000, 60);
        assert(
            r.value,
            `no leader with every member alive within 60s: leader=${await consulJson<string>("/v1/status/leader")} members=${JSON.stringify(await consulJson<Member[]>("/v1/agent/members"))}`,
        );
        const version = (await dockerOn(s.hosts[0], ["exec", "consul", "consul", "version"])).stdout.split("\n")[0];
        // The agents' own word on the rendered config: anything it calls deprecated or unknown is a fault.
        const complaints = (
            await Promise.all(
                s.hosts.map(async (h) =>
                    (await dockerOn(h, ["logs", "consul"]).then((r) => r.stdout + r.stderr)).split("\n").map((l) => `rig-h${h}: ${l}`),
                ),
            )
        )
            .flat()
            .filter((l) => /deprecat|unknown (field|key)|invalid config/i.test(l));
        assert(complaints.length === 0, `Consul complains about its config: ${complaints.slice(0, 3).join(" / ")}`);
        return `${version}; ${r.value}; no config warning in the agents' logs`;
    });
    if (s.consulServers.length < 3) return;
    const victim = s.consulServers[s.consulServers.length - 1];
    const asker = s.consulServers[0];
    await check(`consul-failover[${s.stack}]`, async () => {
        await must(dockerOn(victim, ["stop", "consul"]), `stop consul on rig-h${victim}`);
        try {
            const down = await waitFor(async () => ((await memberStatus(victim, asker)) !== "alive" ? true : undefined), 30_000, 1000, 30);
            assert(down.value, `rig-h${victim} still alive to the others 30s after its agent stopped`);
            // A leader must exist (re-elected within a few seconds if it was the victim) and answer reads.
            const leader = await waitFor(
                async () => {
                    const l = await consulJson<string>("/v1/status/leader", asker);
                    const kv = l ? await consulGet("/v1/catalog/nodes", asker) : undefined;
                    return l && kv?.status === 200 ? l : undefined;
                },
                20_000,
                1000,
                20,
            );
            assert(leader.value, `no leader within 20s with rig-h${victim}'s server stopped`);
            return `with rig-h${victim}'s server stopped: leader ${leader.value} after ${(leader.ms / 1000).toFixed(1)}s, catalog answers`;
        } finally {
            await dockerOn(victim, ["start", "consul"]);
            const back = await waitFor(() => consulHealthy(s, asker), 60_000, 1000, 60);
            info(back.value ? `consul on rig-h${victim} back: ${back.value}` : `consul on rig-h${victim} did not rejoin within 60s`);
        }
    });
}

// Longer than autopilot takes to act on a failed server (its reconcile runs every 10 s).
const CUT_OFF_AFTER_FAILED_MS = 15_000;
// Serf retries failed members every 30 s; a server that was force-left gets its services back only at
// its agent's next full sync after that (75 s later on the rig).
const SERVICES_BACK_MS = 45_000;

/**
 * A Consul server host cut off (its link down) long enough for the others to declare it failed, then
 * back: it must never have been forced out (left), must still be a Raft peer, and its backends must be
 * registered and passing again within `SERVICES_BACK_MS`. It also disturbs the swarm, so it ends only
 * once every node is Ready again.
 */
export async function checkConsulServerCutOff(s: Scenario): Promise<void> {
    const victim = s.consulServers[s.consulServers.length - 1];
    const asker = s.consulServers[0];
    await check(`consul-server-cut-off[${s.stack}]`, async () => {
        const t0 = Date.now();
        await setLink(victim, "down");
        let failedAfter: number | undefined;
        try {
            const failed = await waitFor(
                async () => ((await memberStatus(victim, asker)) === "failed" ? true : undefined),
                30_000,
                500,
                60,
            );
            assert(failed.value, `rig-h${victim} not failed to rig-h${asker} 30 s after its link went down`);
            failedAfter = (Date.now() - t0) / 1000;
            const statuses = new Set<string>();
            for (const until = Date.now() + CUT_OFF_AFTER_FAILED_MS; Date.now() < until;) {
                statuses.add(await memberStatus(victim, asker));
                await sleep(500);
            }
            assert(
                [...statuses].every((x) => x === "failed"),
                `rig-h${victim} was ${[...statuses].join(", then ")} to rig-h${asker} while cut off: forced out of the cluster`,
            );
        } finally {
            await setLink(victim, "up");
        }
        const cut = (Date.now() - t0) / 1000;
        const back = Date.now();
        const registered = await waitFor(
            async () => ((await catalogCount(s)) === s.replicas && (await passingCount(s)) === s.replicas ? true : undefined),
            SERVICES_BACK_MS,
            500,
            120,
        );
        assert(
            registered.value,
            `${SERVICES_BACK_MS / 1000} s after rig-h${victim}'s link came back: catalog ${await catalogCount(s)}, passing ${await passingCount(s)} web instances, expected ${s.replicas}`,
        );
        const servicesBack = (Date.now() - back) / 1000;
        const peers = await waitFor(
            async () =>
                (await consulJson<string[]>("/v1/status/peers", asker))?.includes(`${hostAddress(victim)}:8300`) ? true : undefined,
            30_000,
            1000,
            30,
        );
        assert(
            peers.value,
            `rig-h${victim} is no longer a Raft peer: ${JSON.stringify(await consulJson<string[]>("/v1/status/peers", asker))}`,
        );
        const healthy = await waitFor(() => consulHealthy(s, asker), 60_000, 1000, 60);
        assert(healthy.value, `Consul not healthy 60 s after rig-h${victim} came back`);
        let lastSeen = "";
        const swarm = await waitFor(
            async () => {
                const listed = await dockerOn(s.managers[0], ["node", "ls", "--format", "{{.Hostname}} {{.Status}} {{.ManagerStatus}}"]);
                lastSeen = (listed.stdout.trim() || listed.stderr.trim()).split("\n").join(", ");
                const statuses = listed.stdout
                    .split("\n")
                    .filter(Boolean)
                    .map((line) => line.split(" ")[1]);
                return statuses.length === s.hosts.length && statuses.every((n) => n === "Ready") ? true : undefined;
            },
            60_000,
            1000,
            60,
        );
        assert(
            swarm.value,
            `the swarm's nodes not all Ready 60 s after rig-h${victim} came back; rig-h${s.managers[0]} last listed: ${lastSeen || "nothing"}`,
        );
        return `rig-h${victim}'s link down ${cut.toFixed(1)} s (failed to the others after ${failedAfter?.toFixed(1)} s, never left); ${s.replicas} of ${s.replicas} web instances registered and passing ${servicesBack.toFixed(1)} s after it came back; still a Raft peer; ${healthy.value}; every swarm node Ready`;
    });
}

/**
 * Consul's HTTP API listens on each host's loopback only: another rig host trying to register a `web`
 * instance at a server's address gets no connection; on the host itself ACLs refuse it without a token.
 */
export async function checkConsulApiClosed(s: Scenario): Promise<void> {
    await check(`consul-api-closed[${s.stack}]`, async () => {
        const target = s.consulServers[0];
        const from = [1, 2, 3].find((h) => h !== target) as number;
        const forged = JSON.stringify({ Name: "web", ID: "forged", Address: "10.77.0.99", Port: 80 });
        const r = await curlFromHost(from, `http://${hostAddress(target)}:8500/v1/agent/service/register`, { method: "PUT", data: forged });
        assert(r.error && r.status === 0, `rig-h${from} reached rig-h${target}'s Consul API: HTTP ${r.status}`);
        // On the host itself, ACLs (default deny) refuse a registration without a token; the management token may.
        const anonymous = await consulPut(target, "/v1/agent/service/register", forged);
        assert(anonymous === 403, `a token-less registration on rig-h${target}'s loopback: HTTP ${anonymous}, want 403`);
        const tokens = await consulPut(target, "/v1/acl/token", "{}");
        assert(tokens === 403, `a token-less ACL token creation: HTTP ${tokens}, want 403`);
        const management = await managementToken(s);
        const managed = await consulPut(target, "/v1/agent/service/register", forged, management);
        await consulPut(target, "/v1/agent/service/deregister/forged", "", management);
        assert(managed === 200, `the management token's registration: HTTP ${managed}`);
        const entries = (await consulJson<CatalogEntry[]>("/v1/catalog/service/web", target)) ?? [];
        assert(!entries.some((e) => e.ServiceAddress === "10.77.0.99"), "the forged instance is still in the catalog");
        return `a registration PUT from rig-h${from} to ${hostAddress(target)}:8500 gets no connection (${r.error}); on rig-h${target}'s loopback without a token: HTTP ${anonymous} (and ${tokens} for an ACL token), with the management token: ${managed}`;
    });
}

/**
 * registrator holds no engine socket, only the proxy's: through that socket, from a container given
 * nothing else, the reads registrator makes pass and every write, exec, copy and other read is 403.
 */
export async function checkDockerProxy(s: Scenario): Promise<void> {
    await check(`docker-proxy[${s.stack}]`, async () => {
        const h = s.hosts[s.hosts.length - 1];
        const mounts = (
            await must(
                dockerOn(h, ["inspect", "registrator", "-f", "{{range .Mounts}}{{.Type}} {{.Name}} {{.Destination}};{{end}}"]),
                "inspect registrator",
            )
        ).trim();
        const volume = /^volume (registrator-docker-proxy-\S+) \/run\/docker-proxy;$/.exec(mounts)?.[1];
        assert(volume, `registrator's mounts are "${mounts}", want only the proxy's volume at /run/docker-proxy`);
        const status = async (method: string, p: string) =>
            (
                await dockerOn(h, [
                    "run",
                    "--rm",
                    "--network",
                    "none",
                    "-v",
                    `${volume}:/p:ro`,
                    BASE_IMAGE,
                    "curl",
                    "-s",
                    "-m",
                    "5",
                    "-o",
                    "/dev/null",
                    "-w",
                    "%{http_code}",
                    "-X",
                    method,
                    "--unix-socket",
                    "/p/docker.sock",
                    `http://engine${p}`,
                ])
            ).stdout.trim();
        const passed: [string, string][] = [
            ["GET", "/_ping"],
            ["GET", "/v1.41/containers/json"],
            ["GET", "/containers/registrator/json"],
            ["GET", "/info"],
            ["GET", "/events?since=0&until=1"],
        ];
        const refused: [string, string][] = [
            ["POST", "/containers/create"],
            ["POST", "/containers/registrator/exec"],
            ["GET", "/containers/registrator/archive?path=/etc"],
            ["DELETE", "/containers/web-1"],
            ["POST", "/containers/web-1/stop"],
            ["GET", "/images/json"],
            ["GET", "/containers/registrator/logs"],
        ];
        const wrong: string[] = [];
        for (const [want, requests] of [
            ["200", passed],
            ["403", refused],
        ] as const) {
            for (const [method, p] of requests) {
                const code = await status(method, p);
                if (code !== want) wrong.push(`${method} ${p} -> ${code}, want ${want}`);
            }
        }
        assert(wrong.length === 0, wrong.join("; "));
        return `rig-h${h}: registrator mounts only ${volume}; through its socket ${passed.length} reads pass (200) and ${refused.length} other requests (create, exec, archive, delete, stop, images, logs) get 403`;
    });
}

export async function checkRegistrator(s: Scenario): Promise<void> {
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
        assert(
            gone.value,
            `${backendName(victim)} stopped on rig-h${vh} but the catalog still has ${await catalogCount(s)} web instances after 30s`,
        );
        const back = await waitBackends(s, s.replicas);
        return `${s.replicas} web instances registered and passing after ${(ms / 1000).toFixed(1)}s (${where.join(" ")}); ${backendName(victim)} stopped -> deregistered in ${(gone.ms / 1000).toFixed(1)}s, started -> back in ${(back / 1000).toFixed(1)}s`;
    });
}

export async function checkEdgeReach(s: Scenario): Promise<void> {
    const want = Array.from({ length: s.replicas }, (_, i) => backendName(i + 1));
    for (const e of s.edges) {
        await check(`edge-reach[${s.stack}@rig-h${e}]`, async () => {
            await waitBackends(s, s.replicas);
            // Converged: nginx has every instance from Consul's DNS (it asks every second).
            const warm = await namesSeen(edgeUrl(s, e), want, s.replicas * 40, 60_000);
            const missing = want.filter((w) => !warm.names.has(w));
            assert(
                missing.length === 0,
                `via ${edgeUrl(s, e)} never reached ${missing.join(", ")} within 60s (statuses ${JSON.stringify(warm.statuses)})`,
            );
            // Then a plain round of requests: every one answered, every backend in rotation.
            const samples = await requestLoop(edgeUrl(s, e), s.replicas * 4, 30_000, 20);
            const names = new Set(samples.map((x) => x.name).filter(Boolean));
            const bad = samples.filter((x) => x.status !== 200);
            assert(
                bad.length === 0 && names.size === want.length,
                `after convergence: ${bad.length} of ${samples.length} requests failed, ${names.size} of ${want.length} backends answered`,
            );
            return `${edgeUrl(s, e)}: all ${want.length} backends in rotation (${[...names].sort().join(", ")}); ${samples.length} of ${samples.length} requests 200 (convergence round: ${JSON.stringify(warm.statuses)})`;
        });
    }
}

/**
 * Whoever can write to the catalog must not be able to write nginx's config, nor stop the edge serving:
 * the edge's files hold no catalog data at all (nginx takes instances from Consul's DNS), so they stay
 * as they are while instances with an address holding "; server ..." and with port 0 are registered,
 * and every request is still answered.
 */
export async function checkEdgeMalformedEntry(s: Scenario): Promise<void> {
    await check(`edge-malformed-entry[${s.stack}]`, async () => {
        const h = s.edges[0];
        const entries = [
            { ID: "rig-malformed-address", Name: "web", Address: "10.77.0.99;\n    server 10.77.0.98:80", Port: 80 },
            { ID: "rig-malformed-port", Name: "web", Address: "10.77.0.97", Port: 0 },
        ];
        const upstreams = async () => (await dockerOn(h, ["exec", "edge", "cat", "/etc/nginx/conf.d/upstreams.conf"])).stdout;
        const management = await managementToken(s);
        const before = await upstreams();
        try {
            for (const e of entries) {
                const status = await consulPut(h, "/v1/agent/service/register", JSON.stringify(e), management);
                assert(status === 200, `registering ${e.ID} on rig-h${h}'s agent: HTTP ${status}`);
            }
            // Three of nginx's once-a-second questions to Consul's DNS, each answered with the entries.
            await sleep(3000);
            const conf = await upstreams();
            assert(conf === before, `nginx's upstreams changed with the malformed entries registered:\n${conf}`);
            const samples = await requestLoop(edgeUrl(s, h), s.replicas * 4, 30_000, 20);
            const failed = samples.filter((x) => x.status !== 200).length;
            assert(failed === 0, `${failed} of ${samples.length} requests failed with the malformed entries in the catalog`);
            return `an address holding "; server ..." and a port 0 registered: nginx's upstreams unchanged; ${samples.length} of ${samples.length} requests 200`;
        } finally {
            for (const e of entries) await consulPut(h, `/v1/agent/service/deregister/${e.ID}`, "", management);
        }
    });
}

export async function checkEdgeDynamics(s: Scenario): Promise<void> {
    const url = edgeUrl(s);
    const h = s.edges[0];
    await check(`edge-new-backend[${s.stack}]`, async () => {
        await dockerOn(h, ["rm", "-f", "web-extra"]);
        const t0 = Date.now();
        try {
            await runExtraBackend(h, "web-extra");
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
        assert(
            bad.length === 0,
            `${bad.length} of ${samples.length} requests failed around stopping ${backendName(victim)}: ${bad
                .slice(0, 3)
                .map((b) => `${b.status} ${b.error ?? ""}`)
                .join(", ")}`,
        );
        return `${samples.length} requests in ${((samples.at(-1)?.t ?? 0) / 1000).toFixed(1)}s, ${after.length} after stopping ${backendName(victim)}, none failed (${victimAfter} served by it >1s after its stop)`;
    });

    await check(`edge-502-and-recovery[${s.stack}]`, async () => {
        const all = Array.from({ length: s.replicas }, (_, i) => i + 1);
        await Promise.all(all.map((k) => must(dockerOn(backendHost(s, k), ["stop", backendName(k)]), `stop ${backendName(k)}`)));
        try {
            const down = await waitFor(
                async () => {
                    const rs = [await httpGet(url), await httpGet(url), await httpGet(url)];
                    return rs.every((r) => r.status === 502) ? true : undefined;
                },
                30_000,
                500,
                60,
            );
            assert(down.value, `with every backend stopped the edge did not answer 502 (got ${(await httpGet(url)).status})`);
            const t0 = Date.now();
            await must(dockerOn(backendHost(s, 1), ["start", backendName(1)]), `start ${backendName(1)}`);
            const up = await waitFor(
                async () => {
                    const r = await httpGet(url);
                    return r.status === 200 && nameOf(r.body) === backendName(1) ? true : undefined;
                },
                60_000,
                100,
                600,
            );
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

/** Which of `hosts` (default: the edge hosts) hold the VIP. */
export async function vipHolders(s: Scenario, hosts = s.edges): Promise<number[]> {
    const has = await Promise.all(
        hosts.map(async (h) => {
            const r = await sshOn(h, "ip -4 -o addr show dev eth0", { timeoutMs: 10_000 });
            return r.stdout.includes(` ${s.vip}/`) ? h : 0;
        }),
    );
    return has.filter((h) => h > 0);
}

/** Requests through the VIP that may fail when its holder's edge is stopped: the one VRRP's hand-over catches, and one more. */
const MAX_FAILED_IN_HANDOVER = 2;

export async function checkVip(s: Scenario): Promise<void> {
    if (!s.vip) return;
    const url = `http://${s.vip}:${s.edgePort}/`;
    await check(`vip[${s.stack}]`, async () => {
        const settled = await waitFor(
            async () => {
                const holders = await vipHolders(s);
                const r = await httpGet(url);
                return holders.length === 1 && r.status === 200 ? holders[0] : undefined;
            },
            30_000,
            1000,
            30,
        );
        assert(
            settled.value,
            `VIP ${s.vip} not held by exactly one edge host with service (holders: ${(await vipHolders(s)).join(",") || "none"})`,
        );
        const { names, statuses } = await namesSeen(
            url,
            Array.from({ length: s.replicas }, (_, i) => backendName(i + 1)),
            s.replicas * 20,
            30_000,
        );
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
            const moved = await waitFor(
                async () => {
                    const holders = await vipHolders(s);
                    return holders.length === 1 && holders[0] === backup ? true : undefined;
                },
                30_000,
                200,
                150,
            );
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
            assert(
                tail.length > 0 && tail.every((x) => x.status === 200),
                `requests via the VIP still failing after it moved: ${tail.filter((x) => x.status !== 200).length} of ${tail.length}`,
            );
            // A stopping edge drains first, so at most a request caught in VRRP's hand-over fails; an
            // edge that stops serving before the VIP leaves fails every request until keepalived notices.
            assert(
                failedReqs.length <= MAX_FAILED_IN_HANDOVER,
                `${failedReqs.length} requests failed after the stop: the edge stopped serving before its VIP left`,
            );
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
            // The hosts are asked one ssh call each, so one sample can straddle the takeover (the new MASTER
            // has added the VIP, the old one has not yet seen its advert); two samples in a row cannot.
            let bothBefore = false;
            const back = await waitFor(
                async () => {
                    const holders = await vipHolders(s);
                    assert(
                        !(bothBefore && holders.length > 1),
                        `VIP on several hosts at once, in two samples in a row: ${holders.join(", ")}`,
                    );
                    bothBefore = holders.length > 1;
                    return holders.length === 1 && holders[0] === master ? true : undefined;
                },
                30_000,
                200,
                150,
            );
            assert(
                back.value,
                `VIP still on rig-h${(await vipHolders(s)).join(",") || "none"} 30s after the edge on rig-h${master} came back`,
            );
            const failback = (Date.now() - t0) / 1000;
            // Stable: the MASTER keeps it, and requests are served, for a few more seconds.
            for (let i = 0; i < 5; i++) {
                await sleep(1000);
                const holders = await vipHolders(s);
                assert(
                    holders.length === 1 && holders[0] === master,
                    `VIP moved again after failback: holders ${holders.join(",") || "none"}`,
                );
            }
            done = true;
            const samples = await loop;
            const bad = samples.filter((x) => x.status !== 200);
            const tail = samples.slice(-10);
            assert(
                tail.every((x) => x.status === 200),
                `requests via the VIP failing after failback: ${tail.map((x) => x.status).join(",")}`,
            );
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

export async function checkIsolation(s: Scenario, h: number): Promise<void> {
    await check(`isolation[${s.stack}@rig-h${h}]`, async () => {
        const tiers = ["app", "mongo", "zookeeper"];
        try {
            await Promise.all(
                tiers.map((t) =>
                    must(
                        dockerOn(h, ["run", "-d", "--name", `iso-${t}`, "--network", `net_${t}`, BASE_IMAGE, "sh", "-c", LISTENER]),
                        `run iso-${t}`,
                    ),
                ),
            );
            const ip: Record<string, string> = {};
            for (const t of tiers)
                ip[t] = await must(
                    dockerOn(h, ["inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", `iso-${t}`]),
                    "inspect",
                );
            // Each listener answers locally first, so a closed path below is the network's doing.
            for (const t of tiers) {
                const ok = await waitFor(
                    async () =>
                        (await dockerOn(h, ["exec", `iso-${t}`, "curl", "-s", "-m", "2", "http://127.0.0.1:8081/"])).stdout.includes("ok")
                            ? true
                            : undefined,
                    15_000,
                    500,
                    30,
                );
                assert(ok.value, `iso-${t} listener did not come up`);
            }
            const probe = async (from: string, to: string, port: number) => {
                const r = await dockerOn(
                    h,
                    ["exec", `iso-${from}`, "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-m", "3", `http://${ip[to]}:${port}/`],
                    { timeoutMs: 15_000 },
                );
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

/**
 * The secrets the platform put on the hosts, read back from the hosts themselves: the swarm's join
 * tokens, the Consul gossip key, the Consul tokens and the SSH key the program logged in with.
 */
export async function secretsOnHosts(s: Scenario, sshKeyFile?: string): Promise<Record<string, string[]>> {
    const manager = s.managers[0];
    const token = async (role: string) => (await dockerOn(manager, ["swarm", "join-token", "-q", role])).stdout.trim();
    const fileIn = async (h: number, container: string, file: string) => (await dockerOn(h, ["exec", container, "cat", file])).stdout;
    const gossip = /"encrypt"\s*:\s*"([^"]+)"/.exec(await fileIn(manager, "consul", "/consul/config/agent.json"))?.[1];
    const registratorEnv = (await dockerOn(s.hosts[0], ["inspect", "registrator", "-f", "{{range .Config.Env}}{{println .}}{{end}}"]))
        .stdout;
    const templateToken = /token\s*=\s*"([^"]+)"/.exec(await fileIn(s.edges[0], "edge", "/etc/consul-template/config.hcl"))?.[1];
    const secrets: Record<string, string[]> = {
        "swarm join tokens": (await Promise.all(["manager", "worker"].map(token))).filter(Boolean),
        "Consul gossip key": gossip ? [gossip] : [],
        "Consul ACL tokens": Object.values(await agentAclTokens(s.consulServers[0])),
        "registrator's Consul token": [/^CONSUL_HTTP_TOKEN=(.+)$/m.exec(registratorEnv)?.[1]].filter((t): t is string => Boolean(t)),
        "consul-template's Consul token": templateToken ? [templateToken] : [],
    };
    if (sshKeyFile) {
        // The key's base64 body lines: any of them in the state would be the key in plain text.
        secrets["SSH private key"] = fs
            .readFileSync(sshKeyFile, "utf8")
            .split("\n")
            .filter((l) => /^[A-Za-z0-9+/=]{40,}$/.test(l));
    }
    return secrets;
}

const versionAtLeast = (have: string, want: string): boolean => {
    const [a, b] = [have, want].map((v) => v.split(".").map(Number));
    for (let i = 0; i < Math.max(a.length, b.length); i++) if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) > (b[i] ?? 0);
    return true;
};

/**
 * What the scenario ran on, read from the running containers: the engine, Consul (the version the
 * stack defaults to), nginx (1.27.3 or later, which re-resolves upstream servers without a reload) and
 * keepalived.
 */
export async function checkVersions(s: Scenario, defaultConsulImage: string): Promise<void> {
    await check(`versions[${s.stack}]`, async () => {
        const h = s.edges[0];
        const out = async (args: string[]) => {
            const r = await dockerOn(h, args);
            return r.stdout + r.stderr;
        };
        const engine = (await dockerOn(h, ["version", "--format", "{{.Server.Version}}"])).stdout.trim();
        const consul = /Consul v(\S+)/.exec(await out(["exec", "consul", "consul", "version"]))?.[1] ?? "?";
        const nginx = /nginx\/(\S+)/.exec(await out(["exec", "edge", "nginx", "-v"]))?.[1] ?? "?";
        const keepalived = /Keepalived v(\S+)/.exec(await out(["exec", "edge", "keepalived", "--version"]))?.[1] ?? "?";
        const line = `Docker Engine ${engine}, Consul ${consul}, nginx ${nginx}, keepalived ${keepalived}`;
        const wantConsul = defaultConsulImage.split(":").pop() ?? "";
        assert(consul === wantConsul, `${line}: Consul is not the stack's default ${wantConsul}`);
        assert(versionAtLeast(nginx, "1.27.3"), `${line}: nginx older than 1.27.3`);
        return line;
    });
}

const DNS_GATEWAY = GWBRIDGE_WANT.split(" ")[1];

/**
 * The IPv4 addresses a new container on rig-h<h>, started with `--dns <gwbridge gateway>`, gets for
 * `name`; none when it does not resolve (getent exits 2). A container that fails to run throws.
 */
export async function resolveInContainer(h: number, name: string, network = "bridge", dns = DNS_GATEWAY): Promise<string[]> {
    const r = await dockerOn(h, ["run", "--rm", "--network", network, "--dns", dns, BASE_IMAGE, "getent", "ahostsv4", name], {
        timeoutMs: 30_000,
    });
    if (r.code !== 0 && r.code !== 2)
        throw new Error(`docker run on rig-h${h} (${network}) to resolve ${name}: exit ${r.code}: ${r.stderr.trim().slice(0, 300)}`);
    return [
        ...new Set(
            r.stdout
                .split("\n")
                .map((l) => l.split(/\s+/)[0])
                .filter(Boolean),
        ),
    ].sort();
}

/**
 * Seed 000's "smart DNS": a container on any host, given `--dns` = docker_gwbridge's gateway as the
 * README says, resolves web.service.consul to the hosts of its passing instances through Consul, and
 * ordinary names through Consul's recursors (the host's own nameserver: the rig's upstream.rig).
 */
export async function checkServiceDns(s: Scenario): Promise<void> {
    await check(`service-dns[${s.stack}]`, async () => {
        await waitBackends(s, s.replicas);
        const want = [...new Set(Array.from({ length: s.replicas }, (_, k) => hostAddress(backendHost(s, k + 1))))].sort();
        const seen: string[] = [];
        for (const h of s.hosts) {
            // Consul's DNS answers from the local agent's possibly stale view (allow_stale); an agent just
            // restarted by an earlier check may still be catching up, which is not what this check is about.
            const caughtUp = await waitFor(
                async () => ((await passingCount(s, h, "passing&stale")) === s.replicas ? true : undefined),
                60_000,
                1000,
                60,
            );
            assert(caughtUp.value, `rig-h${h}'s Consul agent (stale view) did not list ${s.replicas} passing web instances within 60s`);
            const got = await resolveInContainer(h, "web.service.consul");
            assert(
                got.join(" ") === want.join(" "),
                `from a container on rig-h${h}: web.service.consul -> ${got.join(" ") || "nothing"}, want ${want.join(" ")}`,
            );
            const upstream = await resolveInContainer(h, "upstream.rig");
            assert(
                upstream.join(" ") === "10.77.0.1",
                `from a container on rig-h${h}: upstream.rig -> ${upstream.join(" ") || "nothing"} (not through the recursors)`,
            );
            seen.push(`rig-h${h}`);
        }
        const overlay = await resolveInContainer(s.hosts[0], "web.service.consul", "my-network-overlay");
        assert(
            overlay.join(" ") === want.join(" "),
            `from the overlay on rig-h${s.hosts[0]}: web.service.consul -> ${overlay.join(" ") || "nothing"}`,
        );
        // Every backend of one host stops: its address leaves the answer, and comes back with them.
        const gone = s.hosts[s.hosts.length - 1];
        const theirs = Array.from({ length: s.replicas }, (_, k) => k + 1).filter((k) => backendHost(s, k) === gone);
        await Promise.all(theirs.map((k) => must(dockerOn(gone, ["stop", backendName(k)]), `stop ${backendName(k)}`)));
        let after: string[] = [];
        try {
            const r = await waitFor(
                async () => {
                    after = await resolveInContainer(s.hosts[0], "web.service.consul");
                    return after.includes(hostAddress(gone)) ? undefined : true;
                },
                30_000,
                1000,
                20,
            );
            assert(r.value, `with rig-h${gone}'s backends stopped, web.service.consul still -> ${after.join(" ")}`);
        } finally {
            await Promise.all(theirs.map((k) => dockerOn(gone, ["start", backendName(k)])));
            await waitBackends(s, s.replicas);
        }
        return `containers on ${seen.join(", ")} (default bridge) and on the overlay resolve web.service.consul -> ${want.join(" ")} and upstream.rig -> 10.77.0.1 with --dns ${DNS_GATEWAY}; rig-h${gone}'s backends stopped -> ${after.join(" ") || "no address (NXDOMAIN)"}`;
    });
}
