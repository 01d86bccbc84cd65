import * as pulumi from "@pulumi/pulumi";
import * as docker from "@pulumi/docker";
import { ConsulSpec, RegistratorSpec } from "../lib/model";
import { pulledImage, serviceContainer } from "../lib/containers";
import { localAgentAddress } from "./ConsulCluster";
import { DockerHost } from "./DockerHost";

export interface RegistratorArgs {
    hosts: DockerHost[];
    consul: ConsulSpec;
    /** Per host name: the Consul agent registrator talks to. */
    agents: Record<string, docker.Container>;
    image: string;
    spec: RegistratorSpec;
    /** Its ACL token (secret), and the resource after which the token exists. */
    token: pulumi.Output<string>;
    aclReady: pulumi.Resource;
}

/** Registrator's flags: host address, local agent, deregistration on death, cleanup and periodic resync. */
export function registratorArgs(hostAddress: string, consulAddress: string, internalAddresses: boolean): string[] {
    return [
        "-ip", hostAddress,
        ...(internalAddresses ? ["-internal"] : []),
        "-cleanup",
        "-deregister", "always",
        "-resync", "15",
        "-retry-attempts", "-1",
        "-retry-interval", "2000",
        `consul://${consulAddress}`,
    ];
}

/**
 * Registrator on every node, registering the node's containers into its local Consul agent. The
 * maintained fork (fayrus/registrator) is used: gliderlabs/registrator has had no release since 2017.
 */
export class Registrator extends pulumi.ComponentResource {
    readonly containers: Record<string, docker.Container>;

    constructor(name: string, args: RegistratorArgs, opts?: pulumi.ComponentResourceOptions) {
        super("swarm-platform:services:Registrator", name, {}, opts);
        this.containers = {};
        for (const host of args.hosts) {
            const hostName = host.spec.name;
            const image = pulledImage(`${name}-image-${hostName}`, host, args.image, this);
            this.containers[hostName] = serviceContainer(
                `${name}-${hostName}`,
                host,
                {
                    containerName: "registrator",
                    image: image.imageId,
                    command: registratorArgs(host.spec.address, localAgentAddress(args.consul, host.spec.address), args.spec.internalAddresses),
                    // Registrator's Consul client reads its token from the environment, as Consul's own API client does.
                    envs: [pulumi.interpolate`CONSUL_HTTP_TOKEN=${args.token}`],
                    volumes: [{ hostPath: host.spec.dockerSocket, containerPath: "/tmp/docker.sock", readOnly: true }],
                    hostNetwork: true,
                },
                { parent: this, dependsOn: [args.agents[hostName], args.aclReady] },
            );
        }
        this.registerOutputs({ hosts: Object.keys(this.containers) });
    }
}
