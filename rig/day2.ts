/**
 * Day-2 changes of a running stack through `pulumi up`, each watched from outside while it runs: a
 * client sends requests through the VIP the whole time (retrying a failed one once, as idempotent
 * clients do) and every Consul server is asked for the leader. Each check prints one line: how long
 * `up` took, what it replaced, in what order, the failed requests and the seconds without a leader.
 */
import * as path from "path";
import { RIG_STATE, ROOT, curlFromHost, dockerOn, hostAddress, httpGet, must, publicKeyOf, run, sleep, snapshotHost, waitFor } from "./lib";
import { PulumiRun, RIG_HOST_KEY, StackCli } from "./pulumi";
import { assert, check } from "./report";
import { GWBRIDGE_WANT, Scenario, gwbridgeOf, resolveInContainer, vipHolders } from "./system";
import { FIREWALL_KEEPER_INTERVAL_SECONDS } from "../render/firewallKeeper";
import { projectConfigDefaults } from "../lib/defaults";

const DEFAULT_FLOWS = projectConfigDefaults().flows as { from: string; to: string; port: number; protocol: string }[];

const REQUEST_INTERVAL_MS = 50;
const LEADER_POLL_MS = 200;
const VIP_POLL_MS = 200;
// Bounds of the watch, whatever `up` does: about 5 minutes of requests and leader polls.
const MAX_REQUESTS = 6000;
const MAX_LEADER_POLLS = 1500;
const MAX_VIP_POLLS = 1500;

interface WatchResult {
    requests: number;
    /** Requests that failed on the first try. */
    failedRaw: number;
    /** Requests that failed again when retried once. */
    failed: number;
    /** Seconds during which no server named a leader. */
    leaderlessSeconds: number;
    /** The leaders named, in order of appearance. */
    leaders: string[];
    vipPolls: number;
    /** Polls that found the VIP on more than one host, and the longest run of them in a row. */
    splitVipPolls: number;
    splitVipRun: number;
}

const leaderOf = async (h: number): Promise<string> => {
    const r = await curlFromHost(h, "http://127.0.0.1:8500/v1/status/leader", { timeoutMs: 1000 });
    return r.status === 200 ? (JSON.parse(r.body) as string) : "";
};

/** Starts the client, the leader poll and the VIP holder poll; `stop` ends them and says what they saw. */
function watchService(s: Scenario): { stop: () => Promise<WatchResult> } {
    const url = `http://${s.vip}:${s.edgePort}/`;
    let done = false;
    const client = (async () => {
        const seen = { requests: 0, failedRaw: 0, failed: 0 };
        for (let i = 0; i < MAX_REQUESTS && !done; i++) {
            seen.requests++;
            if ((await httpGet(url, 2000)).status !== 200) {
                seen.failedRaw++;
                if ((await httpGet(url, 2000)).status !== 200) seen.failed++;
            }
            await sleep(REQUEST_INTERVAL_MS);
        }
        return seen;
    })();
    const poll = (async () => {
        const seen = { leaderlessMs: 0, leaders: [] as string[] };
        let last = Date.now();
        for (let i = 0; i < MAX_LEADER_POLLS && !done; i++) {
            const named = (await Promise.all(s.consulServers.map(leaderOf))).filter(Boolean);
            const now = Date.now();
            if (named.length === 0) seen.leaderlessMs += now - last;
            for (const l of named) if (seen.leaders[seen.leaders.length - 1] !== l) seen.leaders.push(l);
            last = now;
            await sleep(LEADER_POLL_MS);
        }
        return seen;
    })();
    const vip = (async () => {
        const seen = { vipPolls: 0, splitVipPolls: 0, splitVipRun: 0 };
        let run = 0;
        for (let i = 0; i < MAX_VIP_POLLS && !done; i++) {
            const split = (await vipHolders(s, s.hosts)).length > 1;
            seen.vipPolls++;
            run = split ? run + 1 : 0;
            if (split) seen.splitVipPolls++;
            seen.splitVipRun = Math.max(seen.splitVipRun, run);
            await sleep(VIP_POLL_MS);
        }
        return seen;
    })();
    return {
        stop: async () => {
            done = true;
            const [c, p, v] = await Promise.all([client, poll, vip]);
            return { ...c, ...v, leaderlessSeconds: p.leaderlessMs / 1000, leaders: [...new Set(p.leaders)] };
        },
    };
}

/** The engine's step lines of a resource: `name` deleting / deleted / creating / created, in output order. */
const STEP = /^\s*[-+~]{1,3}\s+\S+\s+(\S+)\s+(deleting original|created replacement|replaced|created|deleted|updated)\b/;

/** The resources `up` replaced, in the order their replacements were created. */
const replacedIn = (r: PulumiRun): string[] =>
    r.output
        .split("\n")
        .map((l) => STEP.exec(l))
        .filter((m): m is RegExpExecArray => m !== null && m[2] === "created replacement")
        .map((m) => m[1]);

/** The resources `up` touched at all (created, deleted, updated or replaced). */
export const touchedIn = (r: PulumiRun): string[] => [
    ...new Set(
        r.output
            .split("\n")
            .map((l) => STEP.exec(l)?.[1])
            .filter((n): n is string => Boolean(n)),
    ),
];

/** The rig host a resource belongs to, by the host name its name ends with. */
const hostOf = (name: string): string | undefined => /(rig-h\d+)$/.exec(name)?.[1];

/**
 * Hosts whose replacements overlapped, by the engine's own output: a host is in the middle of a change
 * from the deletion of its first matching resource until every one it deleted has its replacement.
 */
function overlappingHosts(r: PulumiRun, of: RegExp): string[] {
    const pending = new Map<string, Set<string>>();
    const overlaps = new Set<string>();
    for (const line of r.output.split("\n")) {
        const m = STEP.exec(line);
        const host = m && of.test(m[1]) ? hostOf(m[1]) : undefined;
        if (!m || !host) continue;
        if (m[2] === "deleting original") {
            for (const [other, names] of pending) if (other !== host && names.size > 0) overlaps.add([other, host].sort().join(" + "));
            pending.set(host, (pending.get(host) ?? new Set()).add(m[1]));
        } else if (m[2] === "created replacement") pending.get(host)?.delete(m[1]);
    }
    return [...overlaps];
}

/** A locally built image that differs from `base` (a label), tagged `tag` on each host: an upgrade with nothing else changed. */
async function buildVariant(hosts: number[], base: string, tag: string): Promise<void> {
    for (const h of hosts) {
        await must(
            dockerOn(h, ["build", "-q", "-t", tag, "-"], {
                input: `FROM ${base}\nLABEL io.swarm-platform.rig.variant=${JSON.stringify(tag)}\n`,
                env: { ...process.env, DOCKER_BUILDKIT: "0" },
            }),
            `docker build ${tag} on rig-h${h}`,
        );
    }
}

const describe = (r: PulumiRun, w: WatchResult, changed: string): string =>
    `up ${r.seconds.toFixed(1)}s; ${changed}; ${w.requests} requests, ${w.failed} failed after one retry (${w.failedRaw} raw); ${w.leaderlessSeconds.toFixed(1)}s without a Consul leader (leaders: ${w.leaders.join(" -> ")}); VIP on two hosts in ${w.splitVipPolls} of ${w.vipPolls} polls (${w.splitVipRun} in a row at most)`;

/** `pulumi up` with `args` while the service is watched; the watch goes on 2 s past the end of `up`. */
async function watchedUp(stack: StackCli, s: Scenario, args: string[]): Promise<{ r: PulumiRun; w: WatchResult }> {
    const watch = watchService(s);
    let r: PulumiRun;
    try {
        r = await stack.cli("up", args);
    } finally {
        await sleep(2000);
    }
    return { r, w: await watch.stop() };
}

/** Fails the check unless `up` succeeded with nothing failed and a leader throughout. */
function assertUndisturbed(r: PulumiRun, w: WatchResult, line: string): void {
    assert(
        r.code === 0,
        `up exit ${r.code}: ${r.output
            .split("\n")
            .filter((l) => /error/.test(l))
            .slice(0, 4)
            .join(" / ")}; ${line}`,
    );
    assert(w.failed === 0, `${w.failed} requests failed after a retry; ${line}`);
    assert(w.leaderlessSeconds === 0, `no leader for ${w.leaderlessSeconds.toFixed(1)}s; ${line}`);
    // A VRRP hand-over can leave the old MASTER holding the VIP for the moment it takes to hear the
    // new one, which one poll may catch; two in a row (about a second) are two MASTERs.
    assert(w.splitVipRun < 2, `the VIP was on two hosts in ${w.splitVipRun} polls in a row; ${line}`);
}

/**
 * A config change rolled out by `up` while the service is watched: every resource matching `rolled`
 * is replaced, one host at a time, nothing outside `rolled` and `alsoTouched` changes, no request
 * fails after one retry and a server always names a leader.
 */
async function checkRollout(
    stack: StackCli,
    s: Scenario,
    label: string,
    config: string[],
    rolled: RegExp,
    alsoTouched: RegExp,
): Promise<boolean> {
    return check(`${label}[${stack.label}]`, async () => {
        const { r, w } = await watchedUp(
            stack,
            s,
            config.flatMap((c) => ["--config", c]),
        );
        const replaced = replacedIn(r).filter((n) => rolled.test(n));
        const line = describe(r, w, `replaced in order: ${replaced.join(", ") || "nothing"}`);
        assertUndisturbed(r, w, line);
        const outside = touchedIn(r).filter((n) => !rolled.test(n) && !alsoTouched.test(n));
        assert(replaced.length > 0, `nothing matching ${rolled} was replaced; ${line}`);
        assert(outside.length === 0, `up also changed ${outside.join(", ")}; ${line}`);
        const overlaps = overlappingHosts(r, rolled);
        assert(overlaps.length === 0, `hosts changed at the same time: ${overlaps.join("; ")}; ${line}`);
        return line;
    });
}

/** `pulumi config <args>` on the stack, as a user changes it; a refusal fails the check. */
async function configure(stack: StackCli, args: string[]): Promise<void> {
    const r = await stack.cli("config", args);
    if (r.code !== 0) throw new Error(`pulumi config ${args.join(" ")}: exit ${r.code}: ${r.output.slice(-300)}`);
}

interface Member {
    Name: string;
    /** Serf's member status: 1 alive, 3 left. */
    Status: number;
}

const consulMembers = async (from: number): Promise<Member[]> =>
    JSON.parse((await curlFromHost(from, "http://127.0.0.1:8500/v1/agent/members")).body || "[]") as Member[];
const swarmNodes = async (manager: number): Promise<string[]> =>
    (await must(dockerOn(manager, ["node", "ls", "--format", "{{.Hostname}} {{.Status}}"]), "docker node ls")).split("\n").filter(Boolean);

/** The roles a host added by the rig takes: a worker and Consul client, or a manager and Consul server. */
const ADDED_ROLES = { worker: ["worker", "consul-client"], manager: ["manager", "consul-server"] } as const;
type AddedKind = keyof typeof ADDED_ROLES;

/** The config keys of rig-h<h> with `roles` at position `index` of the hosts list, as a user sets them. */
const hostConfig = (index: number, h: number, roles: readonly string[]): [string, string][] => {
    const p = `hosts[${index}]`;
    return [
        [`${p}.name`, `rig-h${h}`],
        [`${p}.address`, hostAddress(h)],
        [`${p}.ssh.user`, "root"],
        [`${p}.ssh.privateKeyPath`, path.join(RIG_STATE, "id_ed25519")],
        [`${p}.ssh.hostKey`, publicKeyOf(RIG_HOST_KEY)],
        [`${p}.dockerSocket`, `${RIG_STATE}/h${h}.sock`],
        ...roles.map((role, i): [string, string] => [`${p}.roles[${i}]`, role]),
    ];
};

/** The stack's hosts list as its config holds it now. */
async function configuredHosts(stack: StackCli): Promise<{ name: string; roles: string[] }[]> {
    const r = await stack.cli("config", ["get", "swarm-platform:hosts"]);
    if (r.code !== 0) throw new Error(`pulumi config get swarm-platform:hosts: exit ${r.code}`);
    return JSON.parse(r.output.trim()) as { name: string; roles: string[] }[];
}

/** Where rig-h<h> is in the stack's hosts list; the list moves when a host before it goes. */
async function hostIndex(stack: StackCli, h: number): Promise<number> {
    const i = (await configuredHosts(stack)).findIndex((host) => host.name === `rig-h${h}`);
    if (i < 0) throw new Error(`rig-h${h} is not in the stack's hosts`);
    return i;
}

/** The Raft peers (address:port) a Consul server knows; no token needed. */
const raftPeers = async (from: number): Promise<string[]> =>
    JSON.parse((await curlFromHost(from, "http://127.0.0.1:8500/v1/status/peers")).body || "[]") as string[];

const swarmClusterId = async (h: number): Promise<string> =>
    (await must(dockerOn(h, ["info", "--format", "{{.Swarm.Cluster.ID}}"]), "docker info")).trim();

/** Fails unless rig-h<h> is a Ready node and a live Consul member (a server also a Raft peer), as manager rig-h<from> sees it. */
async function assertJoined(h: number, server: boolean, from: number, line: string): Promise<string> {
    const name = `rig-h${h}`;
    const node = (await swarmNodes(from)).find((l) => l.startsWith(`${name} `));
    assert(node === `${name} Ready`, `docker node ls on rig-h${from} shows ${node ?? `no ${name}`}; ${line}`);
    const member = (await consulMembers(from)).find((m) => m.Name === name);
    assert(member?.Status === 1, `Consul lists ${name} as ${member ? `status ${member.Status}` : "no member"}; ${line}`);
    if (server)
        assert(
            (await raftPeers(from)).includes(`${hostAddress(h)}:8300`),
            `${name} is not a Raft peer: ${(await raftPeers(from)).join(", ")}; ${line}`,
        );
    return `${node}, Consul member alive${server ? ", a Raft peer" : ""}`;
}

/** Fails unless rig-h<h> left the swarm (no entry left, Down or not), Consul and Raft, and keeps nothing of the stack. */
async function assertLeft(h: number, from: number, line: string): Promise<string> {
    const name = `rig-h${h}`;
    const nodes = await swarmNodes(from);
    assert(
        !nodes.some((l) => l.startsWith(`${name} `)),
        `docker node ls on rig-h${from} still lists ${nodes.filter((l) => l.startsWith(name)).join(", ")}; ${line}`,
    );
    const member = (await consulMembers(from)).find((m) => m.Name === name);
    assert(!member || member.Status === 3, `Consul lists ${name} with status ${member?.Status} (3 is left); ${line}`);
    const peers = await raftPeers(from);
    assert(!peers.includes(`${hostAddress(h)}:8300`), `${name} is still a Raft peer; ${line}`);
    const state = (await must(dockerOn(h, ["info", "--format", "{{.Swarm.LocalNodeState}}"]), "docker info")).trim();
    assert(state === "inactive", `${name}'s engine is still in a swarm (${state}); ${line}`);
    const left = (await must(dockerOn(h, ["ps", "-aq", "--filter", "label=io.swarm-platform.managed"]), "docker ps")).trim();
    assert(left === "", `stack containers left on ${name}: ${left.split("\n").length}; ${line}`);
    return `gone from docker node ls, Consul member ${member ? "left" : "gone"}, Raft peers ${peers.length}, engine out of the swarm, no stack container left`;
}

/** A demo backend replica's resource, keyed by replica and host. */
export const BACKEND_REPLICA = /^platform-backends-web-\d+-rig-h\d+$/;

// A Consul server joining or leaving changes every agent's bootstrap-expect, which rolls them one host at a time.
const rolledFor = (kind: AddedKind): RegExp => (kind === "manager" ? /^platform-consul-(agent|rollout)-/ : /^$/);

/**
 * `up` with config `changes` made first, while the service is watched: fails unless it was undisturbed,
 * touched nothing but `allowed` outside rig-h<h>'s own resources, and rolled `rolled` one host at a time.
 */
async function watchedHostChange(
    stack: StackCli,
    s: Scenario,
    h: number,
    changes: string[][],
    allowed: RegExp,
    rolled: RegExp,
): Promise<{ r: PulumiRun; line: string }> {
    const ofHost = new RegExp(`-rig-h${h}(-|$)`);
    for (const c of changes) await configure(stack, c);
    const { r, w } = await watchedUp(stack, s, []);
    const touched = touchedIn(r);
    const line = describe(
        r,
        w,
        `changed ${touched.length} resources, replaced elsewhere: ${
            replacedIn(r)
                .filter((n) => !ofHost.test(n))
                .join(", ") || "nothing"
        }`,
    );
    assertUndisturbed(r, w, line);
    assert(
        touched.some((n) => ofHost.test(n)),
        `up changed nothing of rig-h${h}; ${line}`,
    );
    const elsewhere = touched.filter((n) => !ofHost.test(n) && !allowed.test(n));
    assert(elsewhere.length === 0, `up also changed ${elsewhere.join(", ")}; ${line}`);
    const overlaps = overlappingHosts(r, rolled);
    assert(overlaps.length === 0, `hosts changed at the same time: ${overlaps.join("; ")}; ${line}`);
    return { r, line };
}

/**
 * rig-h<h> added to the stack (a worker and Consul client, or a manager and Consul server) by `up`
 * while the service is watched: `up` touches only that host's resources, besides the rolled agents of
 * a new server, and the host joins the swarm and Consul (a server also Raft).
 */
export async function checkHostAdded(stack: StackCli, s: Scenario, h: number, kind: AddedKind): Promise<boolean> {
    return check(`${kind}-added[${stack.label}]`, async () => {
        const changes = hostConfig((await configuredHosts(stack)).length, h, ADDED_ROLES[kind]).map(([key, value]) => [
            "set",
            "--path",
            key,
            value,
        ]);
        const { line } = await watchedHostChange(stack, s, h, changes, rolledFor(kind), rolledFor(kind));
        return `${line}; ${await assertJoined(h, kind === "manager", s.managers[0], line)}`;
    });
}

/**
 * rig-h<h>, added before, removed from the stack by `up` while the service is watched: its backend
 * replicas move to other hosts, and it leaves the swarm, Consul and Raft, with no Down node and no Raft peer left behind and nothing of the stack on it.
 */
export async function checkHostRemoved(stack: StackCli, s: Scenario, h: number, kind: AddedKind, added: boolean): Promise<void> {
    await check(`${kind}-removed[${stack.label}]`, async () => {
        assert(added, `rig-h${h} was not added, so there is nothing to remove`);
        // The replicas it ran move to the hosts with the fewest.
        const allowed = new RegExp(`${rolledFor(kind).source}|${BACKEND_REPLICA.source}`);
        const { line } = await watchedHostChange(
            stack,
            s,
            h,
            [["rm", "--path", `hosts[${await hostIndex(stack, h)}]`]],
            allowed,
            rolledFor(kind),
        );
        return `${line}; ${await assertLeft(h, s.managers[0], line)}`;
    });
}

const managerAddressOutput = async (stack: StackCli): Promise<string> =>
    (await stack.cli("stack", ["output", "managerAddress"])).output.trim();

// Retiring a host that is also a Consul server and an edge rolls the other agents (bootstrap-expect)
// and edges (the VRRP MASTER is the first edge by name), moves its backends, re-runs the joins and
// trackers against the next manager, whose address the other nodes' gwbridge steps also name (re-run,
// they find their bridge right), and writes the ACLs and autopilot settings again from the next
// server (both idempotent): nothing else changes, and no membership or network is replaced.
const RETIREMENT_TOUCHES =
    /^platform-(consul-(agent|rollout|server|acl|autopilot)|edge-|backends?-|swarm-(member|node|gwbridge|rejoined|manager-token|worker-token)-?|overlay-)/;
const ROLLED_ON_RETIREMENT = /^platform-(consul-(agent|rollout)|edge-(rig|vip|rollout))-/;

/** Fails if `up` replaced a swarm membership or the overlay: that would take nodes out of the swarm or cut attached containers. */
function assertNothingRejoined(r: PulumiRun, line: string): void {
    const replaced = replacedIn(r).filter((n) => /^platform-(swarm|overlay)-/.test(n));
    assert(replaced.length === 0, `up replaced ${replaced.join(", ")}; ${line}`);
}

/**
 * The manager that initialised the swarm (the first of s.managers, also a Consul server and an edge)
 * retired by `up`, with the third manager taking its edge role, then added back, each while the
 * service is watched; rig-h<extra>, a fourth manager and Consul server, keeps Raft's quorum at three
 * meanwhile. The next manager by name takes over init and keeps the swarm (same cluster id, nobody
 * rejoins); the returning host joins that swarm rather than making a new one.
 */
export async function checkInitManagerRetired(stack: StackCli, s: Scenario, extra: number, extraAdded: boolean): Promise<void> {
    const [init, heir, third] = s.managers;
    await check(`init-manager-retired[${stack.label}]`, async () => {
        assert(extraAdded, `rig-h${extra} was not added as a manager, so retiring rig-h${init} would leave two`);
        assert(!s.edges.includes(third), `rig-h${third} is already an edge`);
        const holder = await managerAddressOutput(stack);
        assert(holder === hostAddress(init), `init is on ${holder}, not on rig-h${init} as on a new stack`);
        const cluster = await swarmClusterId(heir);
        const thirdIndex = await hostIndex(stack, third);
        const changes = [
            ["set", "--path", `hosts[${thirdIndex}].roles[${(await configuredHosts(stack))[thirdIndex].roles.length}]`, "edge"],
            ["rm", "--path", `hosts[${await hostIndex(stack, init)}]`],
        ];
        const change = await watchedHostChange(stack, s, init, changes, RETIREMENT_TOUCHES, ROLLED_ON_RETIREMENT);
        const line = `${change.line}; rig-h${third} took its edge role`;
        assertNothingRejoined(change.r, line);
        assert((await swarmClusterId(heir)) === cluster, `the swarm on rig-h${heir} is not the one it was in; ${line}`);
        const manager = await managerAddressOutput(stack);
        assert(manager === hostAddress(heir), `managerAddress is ${manager}, not rig-h${heir}'s; ${line}`);
        return `${line}; ${await assertLeft(init, heir, line)}; rig-h${heir} holds init (managerAddress ${manager}) in the same swarm`;
    });
    // Also after a failed retirement: whatever of it `up` did, rig-h<init> comes back.
    await check(`init-manager-back[${stack.label}]`, async () => {
        assert(!(await configuredHosts(stack)).some((h) => h.name === `rig-h${init}`), `rig-h${init} was not taken out of the stack`);
        const cluster = await swarmClusterId(heir);
        const thirdIndex = await hostIndex(stack, third);
        const changes = [
            ["rm", "--path", `hosts[${thirdIndex}].roles[${(await configuredHosts(stack))[thirdIndex].roles.indexOf("edge")}]`],
            ...hostConfig((await configuredHosts(stack)).length, init, ["manager", "consul-server", "edge"]).map(([key, value]) => [
                "set",
                "--path",
                key,
                value,
            ]),
        ];
        const change = await watchedHostChange(stack, s, init, changes, RETIREMENT_TOUCHES, ROLLED_ON_RETIREMENT);
        const line = `${change.line}; rig-h${third} gave its edge role back`;
        assertNothingRejoined(change.r, line);
        assert((await swarmClusterId(init)) === cluster, `rig-h${init} is in another swarm than rig-h${heir}; ${line}`);
        const manager = await managerAddressOutput(stack);
        assert(manager === hostAddress(heir), `managerAddress moved to ${manager}; ${line}`);
        return `${line}; ${await assertJoined(init, true, heir, line)}; joined rig-h${heir}'s swarm, which keeps init`;
    });
}

/**
 * docker_gwbridge moved to another subnet on the running stack (with gwbridgeAllowRebuild), then back,
 * each by `up` while the service is watched: one node at a time by name leaves the swarm, has its
 * bridge rebuilt and joins again, no Down node is left, and a container given the new gateway as its
 * DNS resolves services through Consul on every host.
 */
export async function checkGwbridgeRebuilt(stack: StackCli, s: Scenario): Promise<void> {
    const [subnet, gateway] = GWBRIDGE_WANT.split(" ");
    const moves = [
        { label: "gwbridge-rebuilt", subnet: "172.22.0.0/20", gateway: "172.22.0.1" },
        { label: "gwbridge-back", subnet, gateway },
    ];
    try {
        for (const move of moves) {
            await check(`${move.label}[${stack.label}]`, async () => {
                for (const [key, value] of [
                    ["gwbridgeAllowRebuild", "true"],
                    ["gwbridgeSubnet", move.subnet],
                    ["gwbridgeGateway", move.gateway],
                ])
                    await configure(stack, ["set", key, value]);
                const { r, w } = await watchedUp(stack, s, []);
                const created = (n: string) =>
                    r.output.split("\n").findIndex((l) => STEP.exec(l)?.[1] === n && /created replacement/.test(l));
                const order = s.hosts.map((h) => `rig-h${h}`).filter((n) => created(`platform-swarm-gwbridge-${n}`) >= 0);
                const line = describe(
                    r,
                    w,
                    `nodes rebuilt in order: ${order.join(", ") || "none"}; replaced elsewhere: ${
                        replacedIn(r)
                            .filter((n) => !/^platform-swarm-(gwbridge|rejoined)-/.test(n))
                            .join(", ") || "nothing"
                    }`,
                );
                assertUndisturbed(r, w, line);
                assert(order.length === s.hosts.length, `not every node was rebuilt; ${line}`);
                for (let i = 1; i < order.length; i++) {
                    assert(
                        created(`platform-swarm-rejoined-${order[i - 1]}`) < created(`platform-swarm-gwbridge-${order[i]}`),
                        `${order[i]} left before ${order[i - 1]} was back; ${line}`,
                    );
                }
                const bridges = await Promise.all(s.hosts.map(async (h) => `rig-h${h}: ${await gwbridgeOf(h)}`));
                const wrong = bridges.filter((b) => !b.endsWith(`: ${move.subnet} ${move.gateway} managed=true`));
                assert(wrong.length === 0, `docker_gwbridge: ${wrong.join("; ")}; ${line}`);
                const nodes = await swarmNodes(s.managers[0]);
                assert(
                    nodes.length === s.hosts.length && nodes.every((n) => n.endsWith(" Ready")),
                    `docker node ls: ${nodes.join(", ")}; ${line}`,
                );
                for (const h of s.hosts) {
                    const got = await resolveInContainer(h, "web.service.consul", "bridge", move.gateway);
                    assert(got.length > 0, `a container on rig-h${h} with --dns ${move.gateway} resolves no web instance; ${line}`);
                }
                return `${line}; every docker_gwbridge ${move.subnet} ${move.gateway}, ${nodes.length} nodes Ready and none Down, web.service.consul resolved through ${move.gateway} on every host`;
            });
        }
    } finally {
        await configure(stack, ["rm", "gwbridgeAllowRebuild"]);
        await stack.cli("up");
    }
}

/** The upgrades the rig rolls out: a config key, the rig's image it names, what it replaces and what else it may touch. */
const UPGRADES = [
    {
        label: "consul-upgrade",
        key: "swarm-platform:consulImage",
        image: "rig/consul:1.20.1",
        hosts: (s: Scenario) => s.hosts,
        rolled: /^platform-consul-(agent|rollout)-/,
        alsoTouched: /^platform-consul-(image|data-owner)-/,
    },
    {
        label: "edge-upgrade",
        key: "swarm-platform:edgeBaseImage",
        image: "rig/base:sid",
        hosts: (s: Scenario) => s.edges,
        rolled: /^platform-edge-(rig|vip|rollout)-/,
        alsoTouched: /^platform-edge-image-/,
    },
];

/**
 * Each upgrade to a rebuilt image and back again, both rolled out while watched; the rebuilt images
 * go afterwards, so the hosts end as the stack found them.
 */
export async function checkUpgrades(stack: StackCli, s: Scenario): Promise<void> {
    for (const u of UPGRADES) {
        const rebuilt = `${u.image}-rebuilt`;
        await buildVariant(u.hosts(s), u.image, rebuilt);
        try {
            if (await checkRollout(stack, s, u.label, [`${u.key}=${rebuilt}`], u.rolled, u.alsoTouched)) {
                await checkRollout(stack, s, `${u.label}-back`, [`${u.key}=${u.image}`], u.rolled, u.alsoTouched);
            }
        } finally {
            await configure(stack, ["set", u.key, u.image]);
            for (const h of u.hosts(s)) await dockerOn(h, ["image", "rm", rebuilt]);
        }
    }
}

/** The ids of the containers the stack's state holds. */
async function containersInState(stack: StackCli): Promise<Set<string>> {
    const state = JSON.parse(await stack.exportState()) as { deployment: { resources?: { type: string; id?: string }[] } };
    return new Set(
        (state.deployment.resources ?? []).filter((r) => r.type === "docker:index/container:Container" && r.id).map((r) => r.id as string),
    );
}

/**
 * The README's recovery from an interrupted `up`, step by step as an operator runs it: the lock the
 * killed CLI left goes (`pulumi cancel`), `pulumi refresh --clear-pending-creates` forgets what was
 * being created, and every container of the stack that the state does not know (half made by the
 * interrupted create, it holds the name the next create needs) is removed from its host.
 */
async function recoverInterrupted(stack: StackCli, hosts: number[]): Promise<string> {
    const cancel = await stack.cli("cancel");
    assert(cancel.code === 0, `pulumi cancel: exit ${cancel.code}: ${cancel.output.slice(-300)}`);
    const refresh = await stack.cli("refresh", ["--clear-pending-creates"]);
    assert(refresh.code === 0, `pulumi refresh --clear-pending-creates: exit ${refresh.code}: ${refresh.output.slice(-300)}`);
    const known = await containersInState(stack);
    const removed: string[] = [];
    for (const h of hosts) {
        const ids = (await must(dockerOn(h, ["ps", "-aq", "--no-trunc", "--filter", "label=io.swarm-platform.managed"]), "docker ps"))
            .split("\n")
            .filter(Boolean);
        for (const id of ids.filter((i) => !known.has(i))) {
            const name = (await must(dockerOn(h, ["inspect", "--format", "{{.Name}} {{.State.Status}}", id]), "docker inspect")).trim();
            await must(dockerOn(h, ["rm", "-f", id]), `docker rm -f ${id}`);
            removed.push(`rig-h${h}:${name}`);
        }
    }
    return `cancel, refresh --clear-pending-creates, removed ${removed.join(", ") || "no leftover"}`;
}

/**
 * `pulumi up` of a Consul upgrade killed with SIGKILL while the second agent is being created, then
 * the README's recovery and `up` again, all while the service is watched: the second `up` completes
 * the rollout, a preview then finds nothing to change, and the upgrade is rolled back.
 */
export async function checkInterrupted(stack: StackCli, s: Scenario): Promise<void> {
    const u = UPGRADES[0];
    const rebuilt = `${u.image}-rebuilt`;
    const secondAgent = `platform-consul-agent-rig-h${s.consulServers[1]}`;
    await buildVariant(u.hosts(s), u.image, rebuilt);
    try {
        await check(`interrupted-up[${stack.label}]`, async () => {
            const watch = watchService(s);
            let steps = "";
            let second: PulumiRun | undefined;
            let killed: PulumiRun | undefined;
            try {
                killed = await stack.cli("up", ["--config", `${u.key}=${rebuilt}`], new RegExp(`${secondAgent} creating replacement`));
                if (killed.killed) {
                    steps = await recoverInterrupted(stack, s.hosts);
                    second = await stack.cli("up");
                }
            } finally {
                await sleep(2000);
            }
            const w = await watch.stop();
            assert(killed.killed, `up ended (exit ${killed.code}) before ${secondAgent} was being created`);
            assert(second, "no second up");
            const line = describe(
                second,
                w,
                `killed after ${killed.seconds.toFixed(1)}s while ${secondAgent} was being created; ${steps}; the next up replaced ${
                    replacedIn(second)
                        .filter((n) => u.rolled.test(n))
                        .join(", ") || "nothing"
                }`,
            );
            assertUndisturbed(second, w, line);
            const again = await stack.cli("preview", ["--expect-no-changes"]);
            assert(again.code === 0, `preview after the recovered up found changes: exit ${again.code}; ${line}`);
            return `${line}; preview --expect-no-changes passes`;
        });
    } finally {
        await configure(stack, ["set", u.key, u.image]);
        await checkRollout(stack, s, `${u.label}-after-interruption`, [], u.rolled, u.alsoTouched);
        for (const h of u.hosts(s)) await dockerOn(h, ["image", "rm", rebuilt]);
    }
}

const containerStates = async (h: number): Promise<Map<string, string>> =>
    new Map(
        (
            await must(
                dockerOn(h, ["ps", "-a", "--filter", "label=io.swarm-platform.managed", "--format", "{{.Names}} {{.State}}"]),
                "docker ps",
            )
        )
            .split("\n")
            .filter(Boolean)
            .map((l) => l.split(" ") as [string, string]),
    );

/**
 * Drift on rig-h<h>: registrator removed by hand, then, as a reboot would, the stack's iptables rules
 * lost and the host's dockerd restarted, all while the service is watched. What Docker can bring back
 * comes back by itself (every other container, by its restart policy; the rules, by the firewall
 * keeper), and `pulumi refresh` then `pulumi up` restore the rest, touching nothing else; a preview
 * then finds nothing to change.
 */
export async function checkDrift(stack: StackCli, s: Scenario, h: number): Promise<void> {
    const name = `rig-h${h}`;
    await check(`drift[${stack.label}]`, async () => {
        const before = await snapshotHost(h);
        const running = [...(await containerStates(h)).entries()].filter(([, state]) => state === "running").map(([n]) => n);
        const watch = watchService(s);
        let back: string[] = [];
        let dropped = 0;
        let rulesBack = 0;
        let refresh: PulumiRun | undefined;
        let up: PulumiRun | undefined;
        try {
            await must(dockerOn(h, ["rm", "-f", "registrator"]), "docker rm -f registrator");
            dropped = await dropStackRules(h);
            await must(
                run("bash", [path.join(ROOT, "rig", "hosts.sh"), "restart-engine", String(h)], { timeoutMs: 180_000 }),
                `hosts.sh restart-engine ${h}`,
            );
            const expected = running.filter((n) => n !== "registrator");
            const settled = await waitFor(
                async () => {
                    const now = await containerStates(h);
                    return expected.every((n) => now.get(n) === "running") ? [...now.keys()] : undefined;
                },
                60_000,
                1000,
                60,
            );
            back = settled.value ?? [];
            assert(settled.value, `not back after the restart: ${expected.filter((n) => !back.includes(n)).join(", ")}`);
            const rules = await waitFor(
                async () => (JSON.stringify((await snapshotHost(h)).firewall) === JSON.stringify(before.firewall) ? true : undefined),
                30_000,
                250,
                200,
            );
            assert(rules.value, `${name}'s firewall rules not back ${(rules.ms / 1000).toFixed(1)}s after its containers`);
            rulesBack = (settled.ms + rules.ms) / 1000;
            refresh = await stack.cli("refresh");
            up = await stack.cli("up");
        } finally {
            await sleep(2000);
        }
        const w = await watch.stop();
        assert(refresh.code === 0, `pulumi refresh: exit ${refresh.code}: ${refresh.output.slice(-300)}`);
        const touched = touchedIn(up);
        const line = describe(
            up,
            w,
            `${back.length} containers back by themselves; refresh then up changed ${touched.join(", ") || "nothing"}`,
        );
        assert(up.code === 0, `up exit ${up.code}; ${line}`);
        assert(
            touched.length > 0 && touched.every((n) => n === `platform-registrator-${name}`),
            `up should recreate only platform-registrator-${name}; ${line}`,
        );
        assert((await containerStates(h)).get("registrator") === "running", `registrator not running on ${name}; ${line}`);
        const again = await stack.cli("preview", ["--expect-no-changes"]);
        assert(again.code === 0, `preview after the repair found changes: exit ${again.code}; ${line}`);
        return `${line}; ${dropped} stack rules dropped before the restart, all back ${rulesBack.toFixed(1)}s after it; preview --expect-no-changes passes (${w.failed} failed requests, ${w.leaderlessSeconds.toFixed(1)}s without a leader while ${name}'s engine restarted)`;
    });
}

/** Where the stack's rules go; a rule of the stack carries "swarm-platform" in its comment. */
const STACK_RULE_CHAINS: [string, string][] = [
    ["filter", "DOCKER-USER"],
    ["raw", "PREROUTING"],
    ["nat", "PREROUTING"],
    ["nat", "OUTPUT"],
];

/** Deletes every rule of the stack from rig-h<h>'s kernel, as a firewall reload would lose them; returns how many. */
async function dropStackRules(h: number): Promise<number> {
    let dropped = 0;
    for (const [table, chain] of STACK_RULE_CHAINS) {
        const listed = await must(
            run("ip", ["netns", "exec", `rig-h${h}`, "iptables", "-t", table, "-S", chain], { timeoutMs: 10_000 }),
            `iptables -S ${chain}`,
        );
        for (const rule of listed.split("\n").filter((l) => l.startsWith("-A ") && l.includes("swarm-platform"))) {
            // Through sh: the listed rule quotes its comment as iptables wants it back.
            await must(
                run("ip", ["netns", "exec", `rig-h${h}`, "sh", "-c", `iptables -t ${table} -D ${rule.slice(3)}`], { timeoutMs: 10_000 }),
                `iptables -D ${rule}`,
            );
            dropped++;
        }
    }
    return dropped;
}

/**
 * Flow and DNS-redirect rules lost from rig-h<h>'s kernel (what a reboot, a firewall reload or
 * `iptables -F` does, and no refresh can see): the host's firewall keeper puts every one back by
 * itself, the tiers' isolation holds again, and a preview finds nothing to change.
 */
export async function checkFirewallRestored(stack: StackCli, h: number): Promise<void> {
    await check(`firewall-restored[${stack.label}]`, async () => {
        const before = JSON.stringify((await snapshotHost(h)).firewall);
        const droppedAt = Math.floor(Date.now() / 1000);
        const dropped = await dropStackRules(h);
        assert(dropped > 0, `rig-h${h} had no rule of the stack to drop`);
        assert(JSON.stringify((await snapshotHost(h)).firewall) !== before, `rig-h${h}'s rules looked the same after dropping ${dropped}`);
        const restored = await waitFor(
            async () => (JSON.stringify((await snapshotHost(h)).firewall) === before ? true : undefined),
            30_000,
            250,
            200,
        );
        assert(restored.value, `rig-h${h}'s rules not back after ${(restored.ms / 1000).toFixed(1)}s`);
        const log = await must(dockerOn(h, ["logs", "--since", String(droppedAt), "firewall-keeper"]), "docker logs firewall-keeper");
        const putBack = log.split("\n").filter((l) => l.startsWith("put back: ")).length;
        assert(putBack === dropped, `the keeper logged ${putBack} rule(s) put back, ${dropped} were dropped`);
        const again = await stack.cli("preview", ["--expect-no-changes"]);
        assert(again.code === 0, `preview after the rules came back found changes: exit ${again.code}`);
        return `${dropped} rules dropped on rig-h${h}, all back by the keeper in ${(restored.ms / 1000).toFixed(1)}s (${putBack} "put back" lines); preview --expect-no-changes passes`;
    });
}

/** The stack's rules in rig-h<h>'s kernel, as `iptables -S` lists them. */
async function stackRules(h: number): Promise<string[]> {
    return (await snapshotHost(h)).firewall.filter((l) => l.includes("swarm-platform"));
}

/**
 * A flow added to the configured flows, then the flows back to the defaults, each by `up`: on every
 * host the old rules' removal stops the keeper first (so it cannot put them back), the keeper is
 * replaced, and after two of its passes each host holds exactly the new set.
 */
export async function checkFlowsChanged(stack: StackCli, s: Scenario): Promise<void> {
    const added = { from: "app", to: "mongo", port: 27018, protocol: "tcp" };
    const flows = [...DEFAULT_FLOWS, added];
    const moves = [
        {
            label: "flow-added",
            config: flows.flatMap((f, i) => Object.entries(f).map(([k, v]) => ["set", "--path", `flows[${i}].${k}`, String(v)])),
            want: flows.length,
        },
        { label: "flows-back", config: [["rm", "flows"]], want: DEFAULT_FLOWS.length },
    ];
    for (const move of moves) {
        await check(`${move.label}[${stack.label}]`, async () => {
            const before = await stackRules(s.hosts[0]);
            for (const c of move.config) await configure(stack, c);
            const r = await stack.cli("up");
            const lines = r.output.split("\n");
            const stepLines = (n: string) => lines.filter((l) => STEP.exec(l)?.[1] === n);
            const line = `up ${r.seconds.toFixed(1)}s; replaced: ${replacedIn(r).join(", ") || "nothing"}`;
            assert(r.code === 0, `up exit ${r.code}; ${line}; ${r.output.slice(-300)}`);
            for (const h of s.hosts) {
                const removal = stepLines(`platform-tiers-rig-h${h}-flows`);
                assert(
                    removal.some((l) => l.includes("firewall-keeper stopped")),
                    `rig-h${h}: the old flow rules' removal did not stop the keeper first: ${removal.join(" / ").slice(0, 300)}; ${line}`,
                );
                assert(
                    stepLines(`platform-firewall-rig-h${h}-keeper`).some((l) => /created replacement/.test(l)),
                    `rig-h${h}: the keeper was not replaced; ${line}`,
                );
            }
            await sleep(2 * FIREWALL_KEEPER_INTERVAL_SECONDS * 1000);
            const counts: string[] = [];
            for (const h of s.hosts) {
                const now = await stackRules(h);
                const flowRules = now.filter((l) => l.includes(`swarm-platform:${stack.label}:`));
                assert(
                    flowRules.length === move.want * 4,
                    `rig-h${h} holds ${flowRules.length} flow rules, want ${move.want * 4}: ${flowRules.join(" | ")}; ${line}`,
                );
                assert(
                    flowRules.some((l) => l.includes(":27018/")) === move.want > DEFAULT_FLOWS.length,
                    `rig-h${h}: the 27018 flow's rules are ${move.want > DEFAULT_FLOWS.length ? "missing" : "still there"}; ${line}`,
                );
                counts.push(`rig-h${h} ${flowRules.length}`);
            }
            return `${line}; each keeper stopped before its host's old rules went, then replaced; flow rules after ${2 * FIREWALL_KEEPER_INTERVAL_SECONDS}s: ${counts.join(", ")} (rig-h${s.hosts[0]} had ${before.length} stack rules before)`;
        });
    }
}
