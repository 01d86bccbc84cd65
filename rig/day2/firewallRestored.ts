/** The stack's iptables rules lost from a host's kernel and put back by the host's firewall keeper. */
import { FIREWALL_KEEPER_CONTAINER } from "../../render/firewallKeeper";
import { STACK_RULE_CHAINS, dockerOn, must, run, snapshotHost, waitFor } from "../lib";
import { StackCli } from "../pulumi";
import { assert, check } from "../report";

/** Deletes every rule of the stack from rig-h<h>'s kernel, as a firewall reload would lose them; returns how many. */
export async function dropStackRules(h: number): Promise<number> {
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
        const log = await must(
            dockerOn(h, ["logs", "--since", String(droppedAt), FIREWALL_KEEPER_CONTAINER]),
            `docker logs ${FIREWALL_KEEPER_CONTAINER}`,
        );
        const putBack = log.split("\n").filter((l) => l.startsWith("put back: ")).length;
        assert(putBack === dropped, `the keeper logged ${putBack} rule(s) put back, ${dropped} were dropped`);
        const again = await stack.cli("preview", ["--expect-no-changes"]);
        assert(again.code === 0, `preview after the rules came back found changes: exit ${again.code}`);
        return `${dropped} rules dropped on rig-h${h}, all back by the keeper in ${(restored.ms / 1000).toFixed(1)}s (${putBack} "put back" lines); preview --expect-no-changes passes`;
    });
}
