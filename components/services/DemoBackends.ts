import * as pulumi from "@pulumi/pulumi";
import * as docker from "@pulumi/docker";
import { BackendSpec } from "../../lib/model";
import { pulledImage, serviceContainer } from "../host/containers";
import { placeReplicas } from "../../lib/topology";
import { backendEnvs } from "../../render/backends";
import { DockerHost } from "../host/DockerHost";

export interface DemoBackendsArgs {
    hosts: DockerHost[];
    spec: BackendSpec;
    image: string;
    /** Per host name: registrator, which must watch before backends start so none is missed. */
    registrators: Record<string, docker.Container>;
    /** Per replica name: the host the last deployment ran it on (the `backendPlacement` output). */
    previousPlacement: Record<string, string>;
}

/**
 * Demo web backends that answer with their own identity (traefik/whoami), published on a random host
 * port so registrator registers host address + port, and the edge serves traffic on a fresh stack.
 */
export class DemoBackends extends pulumi.ComponentResource {
    /** Per replica name, its host (the `backendPlacement` output). */
    readonly placement: Record<string, string>;

    constructor(name: string, args: DemoBackendsArgs, opts?: pulumi.ComponentResourceOptions) {
        super("swarm-platform:services:DemoBackends", name, {}, opts);
        const byName = new Map(args.hosts.map((h) => [h.spec.name, h]));
        const images = new Map(args.hosts.map((h) => [h.spec.name, pulledImage(`${name}-image-${h.spec.name}`, h, args.image, this)]));
        this.placement = placeReplicas(args.spec.service, args.spec.replicas, [...byName.keys()], args.previousPlacement);
        // One replica after another: a change that replaces them (a new image, new metadata) then takes
        // one instance out of service at a time rather than all at once.
        let previousReplica: docker.Container | undefined;
        for (const [containerName, hostName] of Object.entries(this.placement)) {
            const host = byName.get(hostName) as DockerHost;
            // Keyed by host too: the engine does not replace a container whose provider alone changes, so
            // under one name a replica moved off a host would stay running there. A stack from before
            // this naming keeps a replica that stays where it ran.
            const formerName = args.previousPlacement[containerName] === hostName ? [{ name: `${name}-${containerName}` }] : [];
            previousReplica = serviceContainer(
                `${name}-${containerName}-${hostName}`,
                host,
                {
                    containerName,
                    image: (images.get(hostName) as docker.RemoteImage).imageId,
                    command: ["--port", String(args.spec.containerPort), "--name", containerName],
                    envs: backendEnvs(args.spec),
                    ports: [{ internal: args.spec.containerPort }],
                    hostname: containerName,
                    workload: true,
                },
                {
                    parent: this,
                    dependsOn: [args.registrators[hostName], ...(previousReplica ? [previousReplica] : [])],
                    aliases: formerName,
                },
            );
        }
        this.registerOutputs({ placement: this.placement });
    }
}
