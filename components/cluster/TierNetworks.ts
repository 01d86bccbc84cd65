import * as pulumi from "@pulumi/pulumi";
import * as docker from "@pulumi/docker";
import { FlowSpec, TierSpec } from "../../lib/model";
import { flowRuleSet, renderFlowRulesApply, renderFlowRulesRemove, tierBridgeName } from "../../render/tiers";
import { DockerHost } from "../host/DockerHost";
import { AppliedRules } from "./FirewallKeeper";

export interface TierNetworksArgs {
    host: DockerHost;
    tiers: TierSpec[];
    flows: FlowSpec[];
    stack: string;
}

/**
 * Per-tier bridge networks on one host (seed 000): Docker isolates bridges from each other, and
 * DOCKER-USER rules open exactly the configured flows (with their replies) and nothing more.
 */
export class TierNetworks extends pulumi.ComponentResource {
    readonly networks: Record<string, pulumi.Output<string>>;
    /** The flow rules and the step that applied them; none without flows. */
    readonly flowRules?: AppliedRules;

    constructor(name: string, args: TierNetworksArgs, opts?: pulumi.ComponentResourceOptions) {
        super("swarm-platform:cluster:TierNetworks", name, {}, opts);
        const networks = args.tiers.map(
            (tier) =>
                new docker.Network(
                    `${name}-${tier.name}`,
                    {
                        name: `net_${tier.name}`,
                        driver: "bridge",
                        ipamConfigs: [{ subnet: tier.subnet, gateway: tier.gateway }],
                        options: { "com.docker.network.bridge.name": tierBridgeName(tier.name) },
                    },
                    { parent: this, provider: args.host.provider },
                ),
        );
        if (args.flows.length > 0) {
            const appliedBy = args.host.run(
                `${name}-flows`,
                {
                    create: renderFlowRulesApply(args.flows, args.tiers, args.stack),
                    delete: renderFlowRulesRemove(args.flows, args.tiers, args.stack),
                },
                // Old rules go before new ones land: with create-before-delete, removing the old set would
                // also strip rules the new set shares with it.
                { parent: this, dependsOn: networks, replaceOnChanges: ["create"], deleteBeforeReplace: true },
            );
            this.flowRules = { rules: flowRuleSet(args.flows, args.tiers, args.stack), appliedBy };
        }
        this.networks = Object.fromEntries(args.tiers.map((t, i) => [t.name, networks[i].name]));
        this.registerOutputs({ networks: this.networks });
    }
}
