/** The rig hosts every scenario works on, and the baseline they start from. */
import { HostSnapshot, snapshotHosts } from "../lib";
import { assert, check } from "../report";

/** rig-h4 is in no stack file: rig-multi adds it and takes it out again. */
export const ALL_HOSTS = [1, 2, 3, 4];

/** Every host as the rig brought it up, before any stack ran: what each scenario's destroy must leave. */
export async function checkBaseline(): Promise<HostSnapshot[]> {
    const baseline = await snapshotHosts(ALL_HOSTS);
    await check("baseline", async () => {
        const busy = baseline.filter((b) => b.containers.length > 0 || !b.swarm[0].startsWith("inactive") || b.volumes.length > 0);
        assert(busy.length === 0, `hosts not fresh: ${busy.map((b) => b.host).join(", ")}`);
        return baseline
            .map(
                (b) =>
                    `${b.host}: ${b.networks.length} networks, ${b.images.length} images, ${b.firewall.length} DOCKER-USER/raw PREROUTING rule(s), swarm ${b.swarm[0].split(" ")[0]}`,
            )
            .join("; ");
    });
    return baseline;
}
