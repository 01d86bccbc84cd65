import * as pulumi from "@pulumi/pulumi";
import { OverlaySpec } from "../../lib/model";
import { renderOverlayCreate, renderOverlayDelete } from "../../render/overlay";
import { DockerHost } from "../host/DockerHost";

export interface OverlayNetworkArgs {
    /** The first manager: swarm-scoped networks are created through a manager. */
    manager: DockerHost;
    spec: OverlaySpec;
    swarmMembers: pulumi.Resource[];
}

/**
 * The attachable overlay network with a fixed subnet and gateway (seed 001), so containers on any node
 * reach each other by name and their addresses never depend on what Docker picks. A script rather than
 * a docker.Network: the engine reports options the network was not created with (its VXLAN id), which
 * the docker provider turns into a replacement of the overlay under running containers on every `up`.
 */
export class OverlayNetwork extends pulumi.ComponentResource {
    readonly name: pulumi.Output<string>;
    readonly subnet: string;

    constructor(name: string, args: OverlayNetworkArgs, opts?: pulumi.ComponentResourceOptions) {
        super("swarm-platform:cluster:OverlayNetwork", name, {}, opts);
        const network = args.manager.run(
            `${name}-network`,
            { create: renderOverlayCreate(args.spec), delete: renderOverlayDelete(args.spec) },
            // Another name is another network: the old one goes once the new one exists. Another subnet under
            // the same name fails in the script, naming the way out, instead of cutting attached containers.
            { parent: this, dependsOn: args.swarmMembers, replaceOnChanges: ["create"] },
        );
        this.name = network.stdout.apply(() => args.spec.name);
        this.subnet = args.spec.subnet;
        this.registerOutputs({ name: this.name, subnet: this.subnet });
    }
}
