import { FlowSpec, TierSpec } from "../lib/model";
import { IptablesRule, insertRules, posixScript } from "./shell";
import { removeKeptRules } from "./firewallKeeper";

/** Bridge names are fixed so DOCKER-USER rules can name them before Docker picks br-<id>. */
export const tierBridgeName = (tier: string): string => `br-${tier}`;

/**
 * The rules for one flow: new connections from→to on the port and their replies, in two places.
 * - filter/DOCKER-USER, which Docker evaluates before its isolation chains: the stateful decision,
 *   replies only for connections already established.
 * - raw/PREROUTING: Docker 28 drops there any packet for a container's address that does not arrive on
 *   the container's own bridge, before the filter table sees it. These two let the flow's packets
 *   through that check, and no others; on older engines they change nothing.
 */
export function flowRules(flow: FlowSpec, subnets: Record<string, string>, stack: string): IptablesRule[] {
    const comment = `-m comment --comment "swarm-platform:${stack}:${flow.from}->${flow.to}:${flow.port}/${flow.protocol}"`;
    const from = tierBridgeName(flow.from);
    const to = tierBridgeName(flow.to);
    const p = flow.protocol;
    return [
        { table: "filter", chain: "DOCKER-USER", spec: `-i ${from} -o ${to} -p ${p} --dport ${flow.port} ${comment} -j ACCEPT` },
        {
            table: "filter",
            chain: "DOCKER-USER",
            spec: `-i ${to} -o ${from} -p ${p} --sport ${flow.port} -m conntrack --ctstate ESTABLISHED,RELATED ${comment} -j ACCEPT`,
        },
        { table: "raw", chain: "PREROUTING", spec: `-i ${from} -d ${subnets[flow.to]} -p ${p} --dport ${flow.port} ${comment} -j ACCEPT` },
        {
            table: "raw",
            chain: "PREROUTING",
            spec: `-i ${to} -s ${subnets[flow.to]} -d ${subnets[flow.from]} -p ${p} --sport ${flow.port} ${comment} -j ACCEPT`,
        },
    ];
}

const subnetsOf = (tiers: TierSpec[]): Record<string, string> => Object.fromEntries(tiers.map((t) => [t.name, t.subnet]));

/** Every rule of every configured flow. */
export const flowRuleSet = (flows: FlowSpec[], tiers: TierSpec[], stack: string): IptablesRule[] =>
    flows.flatMap((f) => flowRules(f, subnetsOf(tiers), stack));

/** Inserts each flow's rules at the top of their chains; `-C` first keeps re-runs from stacking duplicates. */
export function renderFlowRulesApply(flows: FlowSpec[], tiers: TierSpec[], stack: string): string {
    const rules = flowRuleSet(flows, tiers, stack);
    return posixScript(
        `iptables -L DOCKER-USER -n >/dev/null 2>&1 || iptables -N DOCKER-USER`,
        ...insertRules(rules),
        `echo "flows: ${rules.length} rule(s) in place"`,
    );
}

/** Deletes exactly the rules apply inserted, every copy of them, and nothing else. */
export function renderFlowRulesRemove(flows: FlowSpec[], tiers: TierSpec[], stack: string): string {
    const rules = flowRuleSet(flows, tiers, stack);
    return posixScript(...removeKeptRules(rules), `echo "flows: ${rules.length} rule(s) removed"`);
}
