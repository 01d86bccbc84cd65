/**
 * The Consul cluster: a leader with every host an alive member and no complaint about the rendered
 * config; a server stopped (a leader still answers) and a server cut off long enough to be declared
 * failed (never forced out, its services back).
 */
import { dockerOn, hostAddress, must, setLink, sleep, waitFor } from "../lib";
import { assert, check, info } from "../report";
import { Scenario } from "../scenario";
import { Member, catalogCount, consulGet, consulHealthy, consulJson, memberStatus, passingCount } from "../clients/consul";

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
