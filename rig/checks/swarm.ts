/** The swarm: every host of the scenario a Ready node with its role, under a distinct engine name. */
import { dockerOn, must } from "../lib";
import { assert, check } from "../report";
import { Scenario } from "../scenario";

export async function checkSwarm(s: Scenario): Promise<void> {
    await check(`swarm[${s.stack}]`, async () => {
        const nodes = (
            await must(
                dockerOn(s.managers[0], ["node", "ls", "--format", "{{.Hostname}} {{.Status}} {{.Availability}} {{.ManagerStatus}}"]),
                "docker node ls",
            )
        )
            .split("\n")
            .filter(Boolean);
        const problems: string[] = [];
        for (const h of s.hosts) {
            const line = nodes.find((n) => n.startsWith(`rig-h${h} `));
            if (!line) problems.push(`rig-h${h} not in the swarm`);
            else if (!/ Ready Active/.test(line)) problems.push(`rig-h${h} not ready: ${line}`);
            else if (s.managers.includes(h) !== /(Leader|Reachable)$/.test(line)) problems.push(`rig-h${h} has the wrong role: ${line}`);
        }
        assert(nodes.length === s.hosts.length, `expected ${s.hosts.length} nodes, got ${nodes.length}: ${nodes.join("; ")}`);
        const names = await Promise.all(s.hosts.map((h) => must(dockerOn(h, ["info", "--format", "{{.Name}}"]), "docker info")));
        assert(new Set(names).size === names.length, `engine names not distinct: ${names.join(", ")}`);
        assert(problems.length === 0, problems.join("; "));
        return `${nodes.length} node(s) ready with their roles (${nodes
            .map((n) =>
                n
                    .split(" ")
                    .filter((_x, i) => i === 0 || i === 3)
                    .join("="),
            )
            .join(", ")}); distinct hostnames ${names.join(", ")}`;
    });
}
