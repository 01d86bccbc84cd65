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
import { Scenario } from "./system";

const REQUEST_INTERVAL_MS = 50;
const LEADER_POLL_MS = 200;
// Bounds of the watch, whatever `up` does: about 5 minutes of requests and leader polls.
const MAX_REQUESTS = 6000;
const MAX_LEADER_POLLS = 1500;

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
}

const leaderOf = async (h: number): Promise<string> => {
    const r = await curlFromHost(h, "http://127.0.0.1:8500/v1/status/leader", { timeoutMs: 1000 });
    return r.status === 200 ? (JSON.parse(r.body) as string) : "";
};

/** Starts the client and the leader poll; `stop` ends both and says what they saw. */
function watchService(url: string, servers: number[]): { stop: () => Promise<WatchResult> } {
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
            const named = (await Promise.all(servers.map(leaderOf))).filter(Boolean);
            const now = Date.now();
            if (named.length === 0) seen.leaderlessMs += now - last;
            for (const l of named) if (seen.leaders[seen.leaders.length - 1] !== l) seen.leaders.push(l);
            last = now;
            await sleep(LEADER_POLL_MS);
        }
        return seen;
    })();
    return {
        stop: async () => {
            done = true;
            const [c, p] = await Promise.all([client, poll]);
            return { ...c, leaderlessSeconds: p.leaderlessMs / 1000, leaders: [...new Set(p.leaders)] };
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
export const touchedIn = (r: PulumiRun): string[] => [...new Set(r.output.split("\n").map((l) => STEP.exec(l)?.[1]).filter((n): n is string => Boolean(n)))];

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
        await must(dockerOn(h, ["build", "-q", "-t", tag, "-"], { input: `FROM ${base}\nLABEL io.swarm-platform.rig.variant=${JSON.stringify(tag)}\n`, env: { ...process.env, DOCKER_BUILDKIT: "0" } }), `docker build ${tag} on rig-h${h}`);
    }
}

const describe = (r: PulumiRun, w: WatchResult, changed: string): string =>
    `up ${r.seconds.toFixed(1)}s; ${changed}; ${w.requests} requests, ${w.failed} failed after one retry (${w.failedRaw} raw); ${w.leaderlessSeconds.toFixed(1)}s without a Consul leader (leaders: ${w.leaders.join(" -> ")})`;

/** `pulumi up` with `args` while the service is watched; the watch goes on 2 s past the end of `up`. */
async function watchedUp(stack: StackCli, s: Scenario, args: string[]): Promise<{ r: PulumiRun; w: WatchResult }> {
    const watch = watchService(`http://${s.vip}:${s.edgePort}/`, s.consulServers);
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
    assert(r.code === 0, `up exit ${r.code}: ${r.output.split("\n").filter((l) => /error/.test(l)).slice(0, 4).join(" / ")}; ${line}`);
    assert(w.failed === 0, `${w.failed} requests failed after a retry; ${line}`);
    assert(w.leaderlessSeconds === 0, `no leader for ${w.leaderlessSeconds.toFixed(1)}s; ${line}`);
}

/**
 * A config change rolled out by `up` while the service is watched: every resource matching `rolled`
 * is replaced, one host at a time, nothing outside `rolled` and `alsoTouched` changes, no request
 * fails after one retry and a server always names a leader.
 */
async function checkRollout(stack: StackCli, s: Scenario, label: string, config: string[], rolled: RegExp, alsoTouched: RegExp): Promise<boolean> {
    return check(`${label}[${stack.label}]`, async () => {
        const { r, w } = await watchedUp(stack, s, config.flatMap((c) => ["--config", c]));
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

const consulMembers = async (from: number): Promise<Member[]> => JSON.parse((await curlFromHost(from, "http://127.0.0.1:8500/v1/agent/members")).body || "[]") as Member[];
const swarmNodes = async (manager: number): Promise<string[]> => (await must(dockerOn(manager, ["node", "ls", "--format", "{{.Hostname}} {{.Status}}"]), "docker node ls")).split("\n").filter(Boolean);

/** The config keys of rig-h<h> as a worker and Consul client at position `index` of the hosts list, as a user sets them. */
const workerConfig = (index: number, h: number): [string, string][] => {
    const p = `hosts[${index}]`;
    return [
        [`${p}.name`, `rig-h${h}`],
        [`${p}.address`, hostAddress(h)],
        [`${p}.ssh.user`, "root"],
        [`${p}.ssh.privateKeyPath`, path.join(RIG_STATE, "id_ed25519")],
        [`${p}.ssh.hostKey`, publicKeyOf(RIG_HOST_KEY)],
        [`${p}.dockerSocket`, `${RIG_STATE}/h${h}.sock`],
        [`${p}.roles[0]`, "worker"],
        [`${p}.roles[1]`, "consul-client"],
    ];
};

/**
 * rig-h<h> added to the stack as a worker and Consul client, then removed again, each by `up` while
 * the service is watched: `up` touches only that host's resources; the host joins the swarm and
 * Consul, then leaves both, with no Down node left behind and nothing of the stack left on it.
 */
export async function checkWorkerAddedAndRemoved(stack: StackCli, s: Scenario, h: number): Promise<void> {
    const name = `rig-h${h}`;
    const ofHost = new RegExp(`-${name}(-|$)`);
    const manager = s.managers[0];
    const changedElsewhere = (r: PulumiRun): string[] => touchedIn(r).filter((n) => !ofHost.test(n));
    const added = await check(`worker-added[${stack.label}]`, async () => {
        for (const [key, value] of workerConfig(s.hosts.length, h)) await configure(stack, ["set", "--path", key, value]);
        const { r, w } = await watchedUp(stack, s, []);
        const touched = touchedIn(r);
        const line = describe(r, w, `changed ${touched.length} resources`);
        assertUndisturbed(r, w, line);
        assert(touched.length > 0, `up created nothing for ${name}; ${line}`);
        assert(changedElsewhere(r).length === 0, `up also changed ${changedElsewhere(r).join(", ")}; ${line}`);
        const node = (await swarmNodes(manager)).find((l) => l.startsWith(`${name} `));
        assert(node === `${name} Ready`, `docker node ls on rig-h${manager} shows ${node ?? `no ${name}`}; ${line}`);
        const member = (await consulMembers(manager)).find((m) => m.Name === name);
        assert(member?.Status === 1, `Consul lists ${name} as ${member ? `status ${member.Status}` : "no member"}; ${line}`);
        return `${line}; only ${name}'s resources; ${node}, Consul member alive`;
    });
    await check(`worker-removed[${stack.label}]`, async () => {
        assert(added, `${name} was not added, so there is nothing to remove`);
        await configure(stack, ["rm", "--path", `hosts[${s.hosts.length}]`]);
        const { r, w } = await watchedUp(stack, s, []);
        const touched = touchedIn(r);
        const line = describe(r, w, `changed ${touched.length} resources`);
        assertUndisturbed(r, w, line);
        assert(changedElsewhere(r).length === 0, `up also changed ${changedElsewhere(r).join(", ")}; ${line}`);
        const nodes = await swarmNodes(manager);
        assert(!nodes.some((l) => l.startsWith(`${name} `)), `docker node ls on rig-h${manager} still lists ${nodes.filter((l) => l.startsWith(name)).join(", ")}; ${line}`);
        const member = (await consulMembers(manager)).find((m) => m.Name === name);
        assert(!member || member.Status === 3, `Consul lists ${name} with status ${member?.Status} (3 is left); ${line}`);
        const state = (await must(dockerOn(h, ["info", "--format", "{{.Swarm.LocalNodeState}}"]), "docker info")).trim();
        assert(state === "inactive", `${name}'s engine is still in a swarm (${state}); ${line}`);
        const left = (await must(dockerOn(h, ["ps", "-aq", "--filter", "label=io.swarm-platform.managed"]), "docker ps")).trim();
        assert(left === "", `stack containers left on ${name}: ${left.split("\n").length}; ${line}`);
        return `${line}; only ${name}'s resources; gone from docker node ls, Consul member ${member ? "left" : "gone"}, engine out of the swarm, no stack container left`;
    });
}

/** The upgrades the rig rolls out: a config key, the rig's image it names, what it replaces and what else it may touch. */
const UPGRADES = [
    { label: "consul-upgrade", key: "swarm-platform:consulImage", image: "rig/consul:1.20.1", hosts: (s: Scenario) => s.hosts, rolled: /^platform-consul-(agent|rollout)-/, alsoTouched: /^platform-consul-(image|data-owner)-/ },
    { label: "edge-upgrade", key: "swarm-platform:edgeBaseImage", image: "rig/base:sid", hosts: (s: Scenario) => s.edges, rolled: /^platform-edge-(rig|vip|rollout)-/, alsoTouched: /^platform-edge-image-/ },
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
    return new Set((state.deployment.resources ?? []).filter((r) => r.type === "docker:index/container:Container" && r.id).map((r) => r.id as string));
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
        const ids = (await must(dockerOn(h, ["ps", "-aq", "--no-trunc", "--filter", "label=io.swarm-platform.managed"]), "docker ps")).split("\n").filter(Boolean);
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
            const watch = watchService(`http://${s.vip}:${s.edgePort}/`, s.consulServers);
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
            const line = describe(second, w, `killed after ${killed.seconds.toFixed(1)}s while ${secondAgent} was being created; ${steps}; the next up replaced ${replacedIn(second).filter((n) => u.rolled.test(n)).join(", ") || "nothing"}`);
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
        (await must(dockerOn(h, ["ps", "-a", "--filter", "label=io.swarm-platform.managed", "--format", "{{.Names}} {{.State}}"]), "docker ps"))
            .split("\n")
            .filter(Boolean)
            .map((l) => l.split(" ") as [string, string]),
    );

/**
 * Drift on rig-h<h>: registrator removed by hand, then the host's dockerd restarted, all while the
 * service is watched. What Docker can bring back comes back by itself (every other container, by its
 * restart policy; the flow rules, which live in the kernel, stay), and `pulumi refresh` then `pulumi
 * up` restore the rest, touching nothing else; a preview then finds nothing to change.
 */
export async function checkDrift(stack: StackCli, s: Scenario, h: number): Promise<void> {
    const name = `rig-h${h}`;
    await check(`drift[${stack.label}]`, async () => {
        const before = await snapshotHost(h);
        const running = [...(await containerStates(h)).entries()].filter(([, state]) => state === "running").map(([n]) => n);
        const watch = watchService(`http://${s.vip}:${s.edgePort}/`, s.consulServers);
        let back: string[] = [];
        let refresh: PulumiRun | undefined;
        let up: PulumiRun | undefined;
        try {
            await must(dockerOn(h, ["rm", "-f", "registrator"]), "docker rm -f registrator");
            await must(run("bash", [path.join(ROOT, "rig", "hosts.sh"), "restart-engine", String(h)], { timeoutMs: 180_000 }), `hosts.sh restart-engine ${h}`);
            const expected = running.filter((n) => n !== "registrator");
            const settled = await waitFor(async () => {
                const now = await containerStates(h);
                return expected.every((n) => now.get(n) === "running") ? [...now.keys()] : undefined;
            }, 60_000, 1000, 60);
            back = settled.value ?? [];
            assert(settled.value, `not back after the restart: ${expected.filter((n) => !back.includes(n)).join(", ")}`);
            refresh = await stack.cli("refresh");
            up = await stack.cli("up");
        } finally {
            await sleep(2000);
        }
        const w = await watch.stop();
        assert(refresh.code === 0, `pulumi refresh: exit ${refresh.code}: ${refresh.output.slice(-300)}`);
        const firewall = (await snapshotHost(h)).firewall;
        assert(JSON.stringify(firewall) === JSON.stringify(before.firewall), `${name}'s firewall rules changed over the restart`);
        const touched = touchedIn(up);
        const line = describe(up, w, `${back.length} containers back by themselves; refresh then up changed ${touched.join(", ") || "nothing"}`);
        assert(up.code === 0, `up exit ${up.code}; ${line}`);
        assert(touched.length > 0 && touched.every((n) => n === `platform-registrator-${name}`), `up should recreate only platform-registrator-${name}; ${line}`);
        assert((await containerStates(h)).get("registrator") === "running", `registrator not running on ${name}; ${line}`);
        const again = await stack.cli("preview", ["--expect-no-changes"]);
        assert(again.code === 0, `preview after the repair found changes: exit ${again.code}; ${line}`);
        return `${line}; flow rules unchanged; preview --expect-no-changes passes (${w.failed} failed requests, ${w.leaderlessSeconds.toFixed(1)}s without a leader while ${name}'s engine restarted)`;
    });
}
