/**
 * A host added to the running stack (a worker and Consul client, or a manager and Consul server) and
 * removed again, each by `up` while the service is watched: the host joins, or leaves without a trace.
 */
import { MANAGED_LABEL } from "../../render/shell";
import { dockerOn, hostAddress, must } from "../lib";
import { PulumiRun, StackCli } from "../pulumi";
import { assert, check } from "../report";
import { Scenario } from "../scenario";
import { members, raftPeers } from "../clients/consul";
import { BACKEND_REPLICA, overlappingHosts, replacedIn, touchedIn } from "./engineOutput";
import { configure, configuredHosts, hostConfig, hostIndex } from "./stackConfig";
import { assertUndisturbed, describe, watchedUp } from "./watch";

/** The roles a host added by the rig takes: a worker and Consul client, or a manager and Consul server. */
const ADDED_ROLES = { worker: ["worker", "consul-client"], manager: ["manager", "consul-server"] } as const;
export type AddedKind = keyof typeof ADDED_ROLES;

/** The swarm's nodes as manager rig-h<manager> lists them: "NAME STATUS". */
export const swarmNodes = async (manager: number): Promise<string[]> =>
    (await must(dockerOn(manager, ["node", "ls", "--format", "{{.Hostname}} {{.Status}}"]), "docker node ls")).split("\n").filter(Boolean);

export const swarmClusterId = async (h: number): Promise<string> =>
    (await must(dockerOn(h, ["info", "--format", "{{.Swarm.Cluster.ID}}"]), "docker info")).trim();

/** Fails unless rig-h<h> is a Ready node and a live Consul member (a server also a Raft peer), as manager rig-h<from> sees it. */
export async function assertJoined(h: number, server: boolean, from: number, line: string): Promise<string> {
    const name = `rig-h${h}`;
    const node = (await swarmNodes(from)).find((l) => l.startsWith(`${name} `));
    assert(node === `${name} Ready`, `docker node ls on rig-h${from} shows ${node ?? `no ${name}`}; ${line}`);
    const member = (await members(from)).find((m) => m.Name === name);
    assert(member?.Status === 1, `Consul lists ${name} as ${member ? `status ${member.Status}` : "no member"}; ${line}`);
    if (server)
        assert(
            (await raftPeers(from)).includes(`${hostAddress(h)}:8300`),
            `${name} is not a Raft peer: ${(await raftPeers(from)).join(", ")}; ${line}`,
        );
    return `${node}, Consul member alive${server ? ", a Raft peer" : ""}`;
}

/** Fails unless rig-h<h> left the swarm (no entry left, Down or not), Consul and Raft, and keeps nothing of the stack. */
export async function assertLeft(h: number, from: number, line: string): Promise<string> {
    const name = `rig-h${h}`;
    const nodes = await swarmNodes(from);
    assert(
        !nodes.some((l) => l.startsWith(`${name} `)),
        `docker node ls on rig-h${from} still lists ${nodes.filter((l) => l.startsWith(name)).join(", ")}; ${line}`,
    );
    const member = (await members(from)).find((m) => m.Name === name);
    assert(!member || member.Status === 3, `Consul lists ${name} with status ${member?.Status} (3 is left); ${line}`);
    const peers = await raftPeers(from);
    assert(!peers.includes(`${hostAddress(h)}:8300`), `${name} is still a Raft peer; ${line}`);
    const state = (await must(dockerOn(h, ["info", "--format", "{{.Swarm.LocalNodeState}}"]), "docker info")).trim();
    assert(state === "inactive", `${name}'s engine is still in a swarm (${state}); ${line}`);
    const left = (await must(dockerOn(h, ["ps", "-aq", "--filter", `label=${MANAGED_LABEL}`]), "docker ps")).trim();
    assert(left === "", `stack containers left on ${name}: ${left.split("\n").length}; ${line}`);
    return `gone from docker node ls, Consul member ${member ? "left" : "gone"}, Raft peers ${peers.length}, engine out of the swarm, no stack container left`;
}

// A Consul server joining or leaving changes every agent's bootstrap-expect, which rolls them one host at a time.
const rolledFor = (kind: AddedKind): RegExp => (kind === "manager" ? /^platform-consul-(agent|rollout)-/ : /^$/);

/**
 * `up` with config `changes` made first, while the service is watched: fails unless it was undisturbed,
 * touched nothing but `allowed` outside rig-h<h>'s own resources, and rolled each of `rollouts` one host
 * at a time.
 */
export async function watchedHostChange(
    stack: StackCli,
    s: Scenario,
    h: number,
    changes: string[][],
    allowed: RegExp,
    rollouts: RegExp[],
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
    const overlaps = overlappingHosts(r, rollouts);
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
        const { line } = await watchedHostChange(stack, s, h, changes, rolledFor(kind), [rolledFor(kind)]);
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
        const { line } = await watchedHostChange(stack, s, h, [["rm", "--path", `hosts[${await hostIndex(stack, h)}]`]], allowed, [
            rolledFor(kind),
        ]);
        return `${line}; ${await assertLeft(h, s.managers[0], line)}`;
    });
}
