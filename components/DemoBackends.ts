import * as pulumi from "@pulumi/pulumi";
import * as docker from "@pulumi/docker";
import { BackendSpec } from "../lib/model";
import { pulledImage, serviceContainer } from "../lib/containers";
import { DockerHost } from "./DockerHost";

export interface DemoBackendsArgs {
    hosts: DockerHost[];
    spec: BackendSpec;
    image: string;
    /** Per host name: registrator, which must watch before backends start so none is missed. */
    registrators: Record<string, docker.Container>;
}

/** Round-robin placement: replica i runs on host i mod n, so replicas spread over every host. */
export const placeReplicas = (replicas: number, hostNames: string[]): string[] =>
    Array.from({ length: replicas }, (_, i) => hostNames[i % hostNames.length]);

/** The registrator metadata that names the service and gives it an HTTP health check in Consul. */
export function backendEnvs(spec: BackendSpec): string[] {
    return [
        `SERVICE_NAME=${spec.service}`,
        `SERVICE_CHECK_HTTP=${spec.healthPath}`,
        "SERVICE_CHECK_INTERVAL=1s",
        "SERVICE_CHECK_TIMEOUT=1s",
    ];
}

/**
 * Demo web backends that answer with their own identity (traefik/whoami), published on a random host
 * port so registrator registers host address + port, and the edge serves traffic on a fresh stack.
 */
export class DemoBackends extends pulumi.ComponentResource {
    readonly names: string[];

    constructor(name: string, args: DemoBackendsArgs, opts?: pulumi.ComponentResourceOptions) {
        super("swarm-platform:services:DemoBackends", name, {}, opts);
        const byName = new Map(args.hosts.map((h) => [h.spec.name, h]));
        const images = new Map(args.hosts.map((h) => [h.spec.name, pulledImage(`${name}-image-${h.spec.name}`, h, args.image, this)]));
        this.names = placeReplicas(args.spec.replicas, [...byName.keys()]).map((hostName, i) => {
            const host = byName.get(hostName) as DockerHost;
            const containerName = `${args.spec.service}-${i + 1}`;
            serviceContainer(
                `${name}-${containerName}`,
                host,
                {
                    containerName,
                    image: (images.get(hostName) as docker.RemoteImage).imageId,
                    command: ["--port", String(args.spec.containerPort), "--name", containerName],
                    envs: backendEnvs(args.spec),
                    ports: [{ internal: args.spec.containerPort }],
                    hostname: containerName,
                },
                { parent: this, dependsOn: [args.registrators[hostName]] },
            );
            return containerName;
        });
        this.registerOutputs({ names: this.names });
    }
}
