/** A flow added to the configured flows and the flows back to the defaults, each by `up`. */
import { projectConfigDefaults } from "../../lib/defaults";
import { FIREWALL_KEEPER_CONTAINER, FIREWALL_KEEPER_INTERVAL_SECONDS } from "../../render/firewallKeeper";
import { sleep, snapshotHost } from "../lib";
import { StackCli } from "../pulumi";
import { assert, check } from "../report";
import { Scenario } from "../scenario";
import { STEP, replacedIn } from "./engineOutput";
import { configure } from "./stackConfig";

const DEFAULT_FLOWS = projectConfigDefaults().flows as { from: string; to: string; port: number; protocol: string }[];

/** The stack's rules in rig-h<h>'s kernel, as `iptables -S` lists them. */
async function stackRules(h: number): Promise<string[]> {
    return (await snapshotHost(h)).firewall.filter((l) => l.includes("swarm-platform"));
}

/**
 * A flow added to the configured flows, then the flows back to the defaults, each by `up`: on every
 * host the old rules' removal stops the keeper first (so it cannot put them back), the keeper is
 * replaced, and after two of its passes each host holds exactly the new set.
 */
export async function checkFlowsChanged(stack: StackCli, s: Scenario): Promise<void> {
    const added = { from: "app", to: "mongo", port: 27018, protocol: "tcp" };
    const flows = [...DEFAULT_FLOWS, added];
    const moves = [
        {
            label: "flow-added",
            config: flows.flatMap((f, i) => Object.entries(f).map(([k, v]) => ["set", "--path", `flows[${i}].${k}`, String(v)])),
            want: flows.length,
        },
        { label: "flows-back", config: [["rm", "flows"]], want: DEFAULT_FLOWS.length },
    ];
    for (const move of moves) {
        await check(`${move.label}[${stack.label}]`, async () => {
            const before = await stackRules(s.hosts[0]);
            for (const c of move.config) await configure(stack, c);
            const r = await stack.cli("up");
            const lines = r.output.split("\n");
            const stepLines = (n: string) => lines.filter((l) => STEP.exec(l)?.[1] === n);
            const line = `up ${r.seconds.toFixed(1)}s; replaced: ${replacedIn(r).join(", ") || "nothing"}`;
            assert(r.code === 0, `up exit ${r.code}; ${line}; ${r.output.slice(-300)}`);
            for (const h of s.hosts) {
                const removal = stepLines(`platform-tiers-rig-h${h}-flows`);
                assert(
                    removal.some((l) => l.includes(`${FIREWALL_KEEPER_CONTAINER} stopped`)),
                    `rig-h${h}: the old flow rules' removal did not stop the keeper first: ${removal.join(" / ").slice(0, 300)}; ${line}`,
                );
                assert(
                    stepLines(`platform-firewall-rig-h${h}-keeper`).some((l) => /created replacement/.test(l)),
                    `rig-h${h}: the keeper was not replaced; ${line}`,
                );
            }
            await sleep(2 * FIREWALL_KEEPER_INTERVAL_SECONDS * 1000);
            const counts: string[] = [];
            for (const h of s.hosts) {
                const now = await stackRules(h);
                const flowRules = now.filter((l) => l.includes(`swarm-platform:${stack.label}:`));
                assert(
                    flowRules.length === move.want * 4,
                    `rig-h${h} holds ${flowRules.length} flow rules, want ${move.want * 4}: ${flowRules.join(" | ")}; ${line}`,
                );
                assert(
                    flowRules.some((l) => l.includes(":27018/")) === move.want > DEFAULT_FLOWS.length,
                    `rig-h${h}: the 27018 flow's rules are ${move.want > DEFAULT_FLOWS.length ? "missing" : "still there"}; ${line}`,
                );
                counts.push(`rig-h${h} ${flowRules.length}`);
            }
            return `${line}; each keeper stopped before its host's old rules went, then replaced; flow rules after ${2 * FIREWALL_KEEPER_INTERVAL_SECONDS}s: ${counts.join(", ")} (rig-h${s.hosts[0]} had ${before.length} stack rules before)`;
        });
    }
}
