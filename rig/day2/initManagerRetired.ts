/** The manager that initialised the swarm retired and added back, each by `up` while the service is watched. */
import { hostAddress } from "../lib";
import { PulumiRun, StackCli } from "../pulumi";
import { assert, check } from "../report";
import { Scenario } from "../scenario";
import { replacedIn } from "./engineOutput";
import { assertJoined, assertLeft, swarmClusterId, watchedHostChange } from "./hostChanged";
import { configuredHosts, hostConfig, hostIndex } from "./stackConfig";

const managerAddressOutput = async (stack: StackCli): Promise<string> =>
    (await stack.cli("stack", ["output", "managerAddress"])).output.trim();

// Retiring a host that is also a Consul server and an edge rolls the other agents (bootstrap-expect)
// and edges (the VRRP MASTER is the first edge by name), moves its backends, re-runs the joins and
// trackers against the next manager, whose address the other nodes' gwbridge steps also name (re-run,
// they find their bridge right), and writes the ACLs and autopilot settings again from the next
// server (both idempotent): nothing else changes, and no membership or network is replaced.
const RETIREMENT_TOUCHES =
    /^platform-(consul-(agent|rollout|server|acl|autopilot)|edge-|backends?-|swarm-(member|node|gwbridge|rejoined|manager-token|worker-token)-?|overlay-)/;
// Two rollouts, each one host at a time and not ordered against the other: an edge starts once its
// host's agent and the ACLs are there, while the next agents may still be rejoining.
const ROLLED_ON_RETIREMENT = [/^platform-consul-(agent|rollout)-/, /^platform-edge-(rig|vip|rollout)-/];

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
