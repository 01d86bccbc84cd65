import * as pulumi from "@pulumi/pulumi";
import * as docker from "@pulumi/docker";
import { OverlaySpec } from "../lib/model";
import { DockerHost } from "./DockerHost";

const VXLAN_ID_OPTION = "com.docker.network.driver.overlay.vxlanid_list";

export interface OverlayNetworkArgs {
    /** The first manager: swarm-scoped networks are created through a manager. */
    manager: DockerHost;
    spec: OverlaySpec;
    swarmMembers: pulumi.Resource[];
}

/**
 * The attachable overlay network with a fixed subnet and gateway (seed 001), so containers on any node
 * reach each other by name and their addresses never depend on what Docker picks.
 */
export class OverlayNetwork extends pulumi.ComponentResource {
    readonly name: pulumi.Output<string>;
    readonly subnet: string;

    constructor(name: string, args: OverlayNetworkArgs, opts?: pulumi.ComponentResourceOptions) {
        super("swarm-platform:cluster:OverlayNetwork", name, {}, opts);
        const network = new docker.Network(
            `${name}-network`,
            {
                name: args.spec.name,
                driver: "overlay",
                attachable: args.spec.attachable,
                ipamConfigs: [{ subnet: args.spec.subnet, gateway: args.spec.gateway }],
                options: args.spec.encrypted ? { encrypted: "true" } : {},
            },
            {
                parent: this,
                provider: args.manager.provider,
                dependsOn: args.swarmMembers,
                // The engine reports the VXLAN id it allocated as an option the network was not created with;
                // left in the diff, every later `up` would replace the overlay under running containers.
                ignoreChanges: [`options["${VXLAN_ID_OPTION}"]`],
            },
        );
        this.name = network.name;
        this.subnet = args.spec.subnet;
        this.registerOutputs({ name: this.name, subnet: this.subnet });
    }
}
