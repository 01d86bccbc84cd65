/**
 * rig-dev: one host (rig-h1) with every role over SSH, where a swarm and a docker_gwbridge made by
 * hand beforehand must survive the stack's destroy.
 */
import { GWBRIDGE } from "../../render/gwbridge";
import { HostSnapshot, diffSnapshots, dockerOn, hostAddress, must, publicKeyOf, snapshotHosts, waitFor } from "../lib";
import { checkDestroy, checkHostKeyPinned, checkPreview, checkUp } from "../lifecycle";
import { RIG_HOST_KEY, rigStack } from "../pulumi";
import { assert, check, info } from "../report";
import { DEV } from "../scenario";
import { checkEdgeDynamics } from "../checks/edge";
import { gwbridgeOf, gwbridgeWant } from "../checks/networks";
import { ALL_HOSTS } from "./hosts";
import { checkDayOne } from "./dayOne";

export async function scenarioDev(baseline: HostSnapshot[]): Promise<void> {
    const s = DEV;
    info(
        `=== ${s.stack}: one host (rig-h1) with every role over SSH; a swarm and a docker_gwbridge made by hand beforehand must survive destroy`,
    );
    await must(
        dockerOn(1, [
            "network",
            "create",
            "--driver",
            "bridge",
            "--subnet",
            s.model.gwbridge.subnet,
            "--gateway",
            s.model.gwbridge.gateway,
            "-o",
            "com.docker.network.bridge.enable_icc=false",
            "-o",
            "com.docker.network.bridge.enable_ip_masquerade=true",
            "-o",
            `com.docker.network.bridge.name=${GWBRIDGE}`,
            GWBRIDGE,
        ]),
        `hand-made ${GWBRIDGE}`,
    );
    await must(dockerOn(1, ["swarm", "init", "--advertise-addr", hostAddress(1)]), "hand-made swarm init");
    // The swarm's ingress sandbox joins docker_gwbridge (and gets its raw/PREROUTING rule) a moment after
    // init: the "before" snapshot must include it.
    const sandbox = await waitFor(
        async () => {
            const ip = (
                await dockerOn(1, [
                    "network",
                    "inspect",
                    GWBRIDGE,
                    "-f",
                    '{{range .Containers}}{{if eq .Name "gateway_ingress-sbox"}}{{.IPv4Address}}{{end}}{{end}}',
                ])
            ).stdout
                .trim()
                .split("/")[0];
            return ip && (await snapshotHosts([1]))[0].firewall.some((r) => r.includes(`-d ${ip}/32`)) ? ip : undefined;
        },
        30_000,
        500,
        60,
    );
    if (!sandbox.value) info("the hand-made swarm's ingress sandbox did not show on docker_gwbridge within 30s");
    const pre = await snapshotHosts(ALL_HOSTS);
    const handSwarm = pre[0].swarm[0];
    const stack = await rigStack(s.stack);
    await checkHostKeyPinned(stack, s.hosts.length, ALL_HOSTS, publicKeyOf(RIG_HOST_KEY));
    try {
        if ((await checkPreview(stack, ALL_HOSTS)) && (await checkUp(stack, s))) await checkDayOne(stack, s, checkEdgeDynamics, 1);
    } finally {
        await checkDestroy(stack, ALL_HOSTS, pre, "before up (hand-made swarm and gwbridge included)");
    }
    await check(`preexisting-kept[${s.stack}]`, async () => {
        const now = await must(dockerOn(1, ["info", "--format", "{{.Swarm.LocalNodeState}} node={{.Swarm.NodeID}}"]), "docker info");
        assert(handSwarm.startsWith(now), `swarm was "${handSwarm}", is now "${now}"`);
        const gw = await gwbridgeOf(1);
        assert(gw.startsWith(gwbridgeWant(s.model.gwbridge)), `${GWBRIDGE} is "${gw}"`);
        return `hand-made swarm still ${now}; hand-made docker_gwbridge kept (${gw})`;
    });
    // Undo the hand-made setup so the next scenario starts from clean hosts.
    await dockerOn(1, ["swarm", "leave", "--force"]);
    await waitFor(async () => ((await dockerOn(1, ["network", "rm", GWBRIDGE])).code === 0 ? true : undefined), 20_000, 1000, 20);
    const diff = diffSnapshots(baseline, await snapshotHosts(ALL_HOSTS));
    if (diff.length > 0) info(`after undoing the hand-made swarm: hosts differ from the baseline: ${diff.join("; ")}`);
}
