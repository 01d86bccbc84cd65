/** The networks every host gets: the swarm's overlay (reached across hosts) and docker_gwbridge on its configured subnet. */
import { GwBridgeSpec } from "../../lib/model";
import { GWBRIDGE } from "../../render/gwbridge";
import { MANAGED_LABEL } from "../../render/shell";
import { BASE_IMAGE, dockerOn, must, waitFor } from "../lib";
import { assert, check } from "../report";
import { Scenario } from "../scenario";

/** "SUBNET GATEWAY", as gwbridgeOf prints a bridge. */
export const gwbridgeWant = (spec: GwBridgeSpec): string => `${spec.subnet} ${spec.gateway}`;

/** rig-h<h>'s docker_gwbridge: "SUBNET GATEWAY managed=<the stack's label>"; "" when there is none. */
export const gwbridgeOf = async (h: number): Promise<string> =>
    (
        await dockerOn(h, [
            "network",
            "inspect",
            GWBRIDGE,
            "--format",
            `{{range .IPAM.Config}}{{.Subnet}} {{.Gateway}}{{end}} managed={{index .Labels "${MANAGED_LABEL}"}}`,
        ])
    ).stdout.trim();

export async function checkOverlay(s: Scenario): Promise<void> {
    const overlay = s.model.overlay;
    await check(`overlay[${s.stack}]`, async () => {
        const ipam = await must(
            dockerOn(s.managers[0], [
                "network",
                "inspect",
                overlay.name,
                "--format",
                "{{range .IPAM.Config}}{{.Subnet}} {{.Gateway}}{{end}} driver={{.Driver}} attachable={{.Attachable}}",
            ]),
            "network inspect",
        );
        const want = `${overlay.subnet} ${overlay.gateway} driver=overlay attachable=${overlay.attachable}`;
        assert(ipam === want, `${overlay.name} is "${ipam}"`);
        if (s.hosts.length < 2) return `${ipam} (single host: cross-host traffic checked on rig-multi)`;
        const [a, b] = [s.hosts[0], s.hosts[s.hosts.length - 1]];
        const start = (h: number, name: string) =>
            must(
                dockerOn(h, ["run", "-d", "--name", name, "--network", overlay.name, BASE_IMAGE, "sleep", "300"]),
                `run ${name} on rig-h${h}`,
            );
        try {
            await Promise.all([start(a, "ovl-a"), start(b, "ovl-b")]);
            const probe = (h: number, from: string, to: string) =>
                waitFor(
                    async () => {
                        const r = await dockerOn(h, ["exec", from, "ping", "-c", "1", "-W", "2", to], { timeoutMs: 10_000 });
                        return r.code === 0 ? true : undefined;
                    },
                    20_000,
                    1000,
                    15,
                );
            const [ab, ba] = await Promise.all([probe(a, "ovl-a", "ovl-b"), probe(b, "ovl-b", "ovl-a")]);
            assert(ab.value, `ovl-a on rig-h${a} did not reach ovl-b (rig-h${b}) by name`);
            assert(ba.value, `ovl-b on rig-h${b} did not reach ovl-a (rig-h${a}) by name`);
            const ipOf = async (h: number, n: string) =>
                must(dockerOn(h, ["inspect", "-f", `{{(index .NetworkSettings.Networks "${overlay.name}").IPAddress}}`, n]), "inspect");
            return `${ipam}; ovl-a@rig-h${a} (${await ipOf(a, "ovl-a")}) <-> ovl-b@rig-h${b} (${await ipOf(b, "ovl-b")}) ping each other by name both ways`;
        } finally {
            await Promise.all([dockerOn(a, ["rm", "-f", "ovl-a"]), dockerOn(b, ["rm", "-f", "ovl-b"])]);
        }
    });
}

export async function checkGwbridge(s: Scenario): Promise<void> {
    await check(`gwbridge[${s.stack}]`, async () => {
        const found = await Promise.all(s.hosts.map(async (h) => `rig-h${h}: ${await gwbridgeOf(h)}`));
        const bad = found.filter((f) => !f.includes(`: ${gwbridgeWant(s.model.gwbridge)} `));
        assert(bad.length === 0, `wrong ${GWBRIDGE}: ${bad.join("; ")}`);
        return found.join("; ");
    });
}
