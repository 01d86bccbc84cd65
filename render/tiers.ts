import { FlowSpec } from "../lib/model";
import { posixScript } from "./shell";

/** Bridge names are fixed so DOCKER-USER rules can name them before Docker picks br-<id>. */
export const tierBridgeName = (tier: string): string => `br-${tier}`;

/** The iptables rule pair for one flow: new connections from→to on the port, and their replies. */
export function flowRules(flow: FlowSpec, stack: string): string[] {
    const comment = `-m comment --comment "swarm-platform:${stack}:${flow.from}->${flow.to}:${flow.port}/${flow.protocol}"`;
    const from = tierBridgeName(flow.from);
    const to = tierBridgeName(flow.to);
    return [
        `-i ${from} -o ${to} -p ${flow.protocol} --dport ${flow.port} ${comment} -j ACCEPT`,
        `-i ${to} -o ${from} -p ${flow.protocol} --sport ${flow.port} -m conntrack --ctstate ESTABLISHED,RELATED ${comment} -j ACCEPT`,
    ];
}

/**
 * Inserts each flow's rules at the top of DOCKER-USER, which Docker evaluates before its own isolation
 * chains; `-C` first keeps re-runs from stacking duplicates.
 */
export function renderFlowRulesApply(flows: FlowSpec[], stack: string): string {
    const rules = flows.flatMap((f) => flowRules(f, stack));
    return posixScript(
        `iptables -L DOCKER-USER -n >/dev/null 2>&1 || iptables -N DOCKER-USER`,
        ...rules.map((r) => `iptables -C DOCKER-USER ${r} 2>/dev/null || iptables -I DOCKER-USER 1 ${r}`),
        `echo "DOCKER-USER: ${rules.length} rule(s) in place"`,
    );
}

/** Deletes exactly the rules apply inserted, every copy of them, and nothing else. */
export function renderFlowRulesRemove(flows: FlowSpec[], stack: string): string {
    const rules = flows.flatMap((f) => flowRules(f, stack));
    return posixScript(
        ...rules.map((r) => `while iptables -C DOCKER-USER ${r} 2>/dev/null; do iptables -D DOCKER-USER ${r}; done`),
        `echo "DOCKER-USER: ${rules.length} rule(s) removed"`,
    );
}
