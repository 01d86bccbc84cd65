/** docker_gwbridge moved to another subnet on the running stack and back, one node at a time, while watched. */
import { StackCli } from "../pulumi";
import { assert, check } from "../report";
import { Scenario } from "../scenario";
import { gwbridgeOf } from "../checks/networks";
import { resolveInContainer } from "../checks/dns";
import { STEP, replacedIn } from "./engineOutput";
import { swarmNodes } from "./hostChanged";
import { configure } from "./stackConfig";
import { assertUndisturbed, describe, watchedUp } from "./watch";

/**
 * docker_gwbridge moved to another subnet on the running stack (with gwbridgeAllowRebuild), then back,
 * each by `up` while the service is watched: one node at a time by name leaves the swarm, has its
 * bridge rebuilt and joins again, no Down node is left, and a container given the new gateway as its
 * DNS resolves services through Consul on every host.
 */
export async function checkGwbridgeRebuilt(stack: StackCli, s: Scenario): Promise<void> {
    const { subnet, gateway } = s.model.gwbridge;
    const moves = [
        { label: "gwbridge-rebuilt", subnet: "172.22.0.0/20", gateway: "172.22.0.1" },
        { label: "gwbridge-back", subnet, gateway },
    ];
    try {
        for (const move of moves) {
            await check(`${move.label}[${stack.label}]`, async () => {
                for (const [key, value] of [
                    ["gwbridgeAllowRebuild", "true"],
                    ["gwbridgeSubnet", move.subnet],
                    ["gwbridgeGateway", move.gateway],
                ])
                    await configure(stack, ["set", key, value]);
                const { r, w } = await watchedUp(stack, s, []);
                const created = (n: string) =>
                    r.output.split("\n").findIndex((l) => STEP.exec(l)?.[1] === n && /created replacement/.test(l));
                const order = s.hosts.map((h) => `rig-h${h}`).filter((n) => created(`platform-swarm-gwbridge-${n}`) >= 0);
                const line = describe(
                    r,
                    w,
                    `nodes rebuilt in order: ${order.join(", ") || "none"}; replaced elsewhere: ${
                        replacedIn(r)
                            .filter((n) => !/^platform-swarm-(gwbridge|rejoined)-/.test(n))
                            .join(", ") || "nothing"
                    }`,
                );
                assertUndisturbed(r, w, line);
                assert(order.length === s.hosts.length, `not every node was rebuilt; ${line}`);
                for (let i = 1; i < order.length; i++) {
                    assert(
                        created(`platform-swarm-rejoined-${order[i - 1]}`) < created(`platform-swarm-gwbridge-${order[i]}`),
                        `${order[i]} left before ${order[i - 1]} was back; ${line}`,
                    );
                }
                const bridges = await Promise.all(s.hosts.map(async (h) => `rig-h${h}: ${await gwbridgeOf(h)}`));
                const wrong = bridges.filter((b) => !b.endsWith(`: ${move.subnet} ${move.gateway} managed=true`));
                assert(wrong.length === 0, `docker_gwbridge: ${wrong.join("; ")}; ${line}`);
                const nodes = await swarmNodes(s.managers[0]);
                assert(
                    nodes.length === s.hosts.length && nodes.every((n) => n.endsWith(" Ready")),
                    `docker node ls: ${nodes.join(", ")}; ${line}`,
                );
                for (const h of s.hosts) {
                    const got = await resolveInContainer(h, `${s.model.backends.service}.service.consul`, move.gateway);
                    assert(got.length > 0, `a container on rig-h${h} with --dns ${move.gateway} resolves no web instance; ${line}`);
                }
                return `${line}; every docker_gwbridge ${move.subnet} ${move.gateway}, ${nodes.length} nodes Ready and none Down, web.service.consul resolved through ${move.gateway} on every host`;
            });
        }
    } finally {
        await configure(stack, ["rm", "gwbridgeAllowRebuild"]);
        await stack.cli("up");
    }
}
