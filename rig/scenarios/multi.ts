/**
 * rig-multi: three hosts, all managers and Consul servers, two edges sharing a VIP; rig-h4 (in no
 * stack file) is added and removed as a worker and as a manager; every day-2 change runs on it.
 */
import { GWBRIDGE } from "../../render/gwbridge";
import { HostSnapshot, diffSnapshots, dockerOn, must, snapshotHosts } from "../lib";
import { checkDestroy, checkPreview, checkReorder, checkScale, checkUp } from "../lifecycle";
import { rigStack } from "../pulumi";
import { assert, check, info } from "../report";
import { MULTI } from "../scenario";
import { checkConsulServerCutOff } from "../checks/consul";
import { gwbridgeOf, gwbridgeWant } from "../checks/networks";
import { checkIsolation } from "../checks/tiers";
import { checkVip } from "../checks/vip";
import { checkDrift } from "../day2/drift";
import { checkFirewallRestored } from "../day2/firewallRestored";
import { checkFlowsChanged } from "../day2/flowsChanged";
import { checkGwbridgeRebuilt } from "../day2/gwbridgeRebuilt";
import { checkHostAdded, checkHostRemoved } from "../day2/hostChanged";
import { checkInitManagerRetired } from "../day2/initManagerRetired";
import { checkInterrupted } from "../day2/interruptedUp";
import { checkUpgrades } from "../day2/upgrades";
import { ALL_HOSTS } from "./hosts";
import { checkDayOne } from "./dayOne";

export async function scenarioMulti(baseline: HostSnapshot[]): Promise<void> {
    const s = MULTI;
    info(`=== ${s.stack}: three hosts, all managers and Consul servers, two edges sharing VIP ${s.vip}`);
    await check(`clean-start[${s.stack}]`, async () => {
        const diff = diffSnapshots(baseline, await snapshotHosts(ALL_HOSTS));
        assert(diff.length === 0, diff.slice(0, 10).join("; "));
        return "every host as in the baseline taken before any stack ran";
    });
    // A docker_gwbridge with another subnet on rig-h3: the default config must refuse to touch it.
    await must(
        dockerOn(3, [
            "network",
            "create",
            "--driver",
            "bridge",
            "--subnet",
            "172.22.0.0/20",
            "--gateway",
            "172.22.0.1",
            "-o",
            `com.docker.network.bridge.name=${GWBRIDGE}`,
            GWBRIDGE,
        ]),
        "wrong-subnet docker_gwbridge on rig-h3",
    );
    const pre = await snapshotHosts(ALL_HOSTS);
    const stack = await rigStack(s.stack);
    try {
        await checkPreview(stack, ALL_HOSTS);
        await check(`gwbridge-guard[${s.stack}]`, async () => {
            const r = await stack.cli("up");
            assert(r.code !== 0, "up succeeded although rig-h3's docker_gwbridge has 172.22.0.0/20");
            const line = r.output.split("\n").find((l) => l.includes("gwbridgeAllowRebuild") && l.includes("rig-h3"));
            assert(
                line,
                `up failed, but no line names gwbridgeAllowRebuild and rig-h3: ${r.output
                    .split("\n")
                    .filter((l) => l.includes("error"))
                    .slice(0, 4)
                    .join(" / ")}`,
            );
            const gw = await gwbridgeOf(3);
            assert(gw.startsWith("172.22.0.0/20"), `rig-h3's docker_gwbridge changed to ${gw}`);
            return `up failed in ${r.seconds.toFixed(1)}s, bridge untouched; ${line.trim().slice(0, 260)}`;
        });
        // What the refused update created goes again; the bridge it refused to touch must stay.
        await checkDestroy(stack, ALL_HOSTS, pre, "before the refused up (rig-h3's foreign docker_gwbridge included)");
        if (
            await checkUp(stack, s, ["--config", "swarm-platform:gwbridgeAllowRebuild=true"], `up[${s.stack}] (gwbridgeAllowRebuild=true)`)
        ) {
            await check(`gwbridge-rebuild[${s.stack}]`, async () => {
                const gw = await gwbridgeOf(3);
                assert(gw === `${gwbridgeWant(s.model.gwbridge)} managed=true`, `rig-h3's docker_gwbridge is "${gw}"`);
                return `rig-h3's docker_gwbridge rebuilt: ${gw}`;
            });
            await checkDayOne(stack, s, checkVip, 2);
            await checkScale(stack, s, `http://${s.vip}:${s.edgePort}/`, [9, 3]);
            await checkUpgrades(stack, s);
            await checkHostRemoved(stack, s, 4, "worker", await checkHostAdded(stack, s, 4, "worker"));
            const managerAdded = await checkHostAdded(stack, s, 4, "manager");
            await checkInitManagerRetired(stack, s, 4, managerAdded);
            await checkHostRemoved(stack, s, 4, "manager", managerAdded);
            await checkGwbridgeRebuilt(stack, s);
            await checkInterrupted(stack, s);
            await checkDrift(stack, s, 2);
            await checkFirewallRestored(stack, 2);
            await checkIsolation(s, 2);
            await checkFlowsChanged(stack, s);
            // Late: it disturbs Consul and the swarm more than the checks above.
            await checkConsulServerCutOff(s);
            await checkReorder(stack);
        }
    } finally {
        await checkDestroy(stack, ALL_HOSTS, baseline, "in the baseline taken before any stack ran");
        await dockerOn(3, ["network", "rm", GWBRIDGE]).then((r) => r.code === 0 && info("removed a docker_gwbridge left on rig-h3"));
    }
}
