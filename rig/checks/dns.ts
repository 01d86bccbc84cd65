/** Service DNS: Consul's answers reach containers on every host through docker_gwbridge's gateway. */
import { BASE_IMAGE, dockerOn, hostAddress, must, waitFor } from "../lib";
import { assert, check } from "../report";
import { Scenario, backendHost, backendName } from "../scenario";
import { passingCount, waitBackends } from "../clients/consul";

/**
 * The IPv4 addresses a new container on rig-h<h>, started with `--dns <dns>` (docker_gwbridge's gateway), gets for
 * `name`; none when it does not resolve (getent exits 2). A container that fails to run throws.
 */
export async function resolveInContainer(h: number, name: string, dns: string, network = "bridge"): Promise<string[]> {
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
    const dns = s.model.gwbridge.gateway;
    const service = `${s.model.backends.service}.service.consul`;
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
            const got = await resolveInContainer(h, service, dns);
            assert(
                got.join(" ") === want.join(" "),
                `from a container on rig-h${h}: web.service.consul -> ${got.join(" ") || "nothing"}, want ${want.join(" ")}`,
            );
            const upstream = await resolveInContainer(h, "upstream.rig", dns);
            assert(
                upstream.join(" ") === "10.77.0.1",
                `from a container on rig-h${h}: upstream.rig -> ${upstream.join(" ") || "nothing"} (not through the recursors)`,
            );
            seen.push(`rig-h${h}`);
        }
        const overlay = await resolveInContainer(s.hosts[0], service, dns, s.model.overlay.name);
        assert(
            overlay.join(" ") === want.join(" "),
            `from the overlay on rig-h${s.hosts[0]}: web.service.consul -> ${overlay.join(" ") || "nothing"}`,
        );
        // Every backend of one host stops: its address leaves the answer, and comes back with them.
        const gone = s.hosts[s.hosts.length - 1];
        const theirs = Array.from({ length: s.replicas }, (_, k) => k + 1).filter((k) => backendHost(s, k) === gone);
        await Promise.all(theirs.map((k) => must(dockerOn(gone, ["stop", backendName(s, k)]), `stop ${backendName(s, k)}`)));
        let after: string[] = [];
        try {
            const r = await waitFor(
                async () => {
                    after = await resolveInContainer(s.hosts[0], service, dns);
                    return after.includes(hostAddress(gone)) ? undefined : true;
                },
                30_000,
                1000,
                20,
            );
            assert(r.value, `with rig-h${gone}'s backends stopped, web.service.consul still -> ${after.join(" ")}`);
        } finally {
            await Promise.all(theirs.map((k) => dockerOn(gone, ["start", backendName(s, k)])));
            await waitBackends(s, s.replicas);
        }
        return `containers on ${seen.join(", ")} (default bridge) and on the overlay resolve web.service.consul -> ${want.join(" ")} and upstream.rig -> 10.77.0.1 with --dns ${dns}; rig-h${gone}'s backends stopped -> ${after.join(" ") || "no address (NXDOMAIN)"}`;
    });
}
