import * as pulumi from "@pulumi/pulumi";
import { GwBridgeSpec } from "../../lib/model";
import { renderGwBridgeCreate, renderGwBridgeDelete } from "../../render/gwbridge";
import { DockerHost } from "../host/DockerHost";

export interface GwBridgeArgs {
    host: DockerHost;
    spec: GwBridgeSpec;
}

/**
 * docker_gwbridge on one node, with the configured subnet, in place before the node joins the swarm.
 * It is local to each node, so every node gets one (seed 001); destroy removes only a bridge the stack
 * created.
 */
export class GwBridge extends pulumi.ComponentResource {
    /** Ready when docker_gwbridge carries the configured subnet; joins depend on it. */
    readonly ready: pulumi.Resource;

    constructor(name: string, args: GwBridgeArgs, opts?: pulumi.ComponentResourceOptions) {
        super("swarm-platform:cluster:GwBridge", name, {}, opts);
        this.ready = args.host.run(
            `${name}-network`,
            { create: renderGwBridgeCreate(args.spec, args.host.spec.name), delete: renderGwBridgeDelete() },
            { parent: this },
        );
        this.registerOutputs({ subnet: args.spec.subnet, gateway: args.spec.gateway });
    }
}
