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
    /** Per replica name: the host the last deployment ran it on (the `backendPlacement` output). */
    previousPlacement: Record<string, string>;
}

/**
 * Per replica name (`<service>-<k>`), its host: where the last deployment ran it while that host
 * remains, so adding or removing a host or scaling moves no other replica; a new replica, or one whose
 * host went, goes to the host with the fewest, the first by name on a tie. On a first deployment that
 * is round-robin over the hosts in name order.
 */
export function placeReplicas(service: string, replicas: number, hostNames: string[], previous: Record<string, string>): Record<string, string> {
    const load = new Map([...hostNames].sort().map((h) => [h, 0]));
    const names = Array.from({ length: replicas }, (_, i) => `${service}-${i + 1}`);
    const placement: Record<string, string> = {};
    const place = (replica: string, host: string) => {
        placement[replica] = host;
        load.set(host, (load.get(host) ?? 0) + 1);
    };
    for (const replica of names) if (load.has(previous[replica])) place(replica, previous[replica]);
    for (const replica of names.filter((r) => !(r in placement))) {
        place(replica, [...load.entries()].reduce((least, entry) => (entry[1] < least[1] ? entry : least))[0]);
    }
    return Object.fromEntries(names.map((r) => [r, placement[r]]));
}

/**
 * The registrator metadata that names the service and gives it an HTTP health check in Consul.
 *
 * The check starts as passing: Consul runs a new check's first probe at a random point of its
 * interval (to spread many checks), which alone would keep a new instance out for up to a second.
 * whoami serves from its first moment, registrator registers it only once it has started, and while
 * an instance that is not ready after all waits for its first probe, the edge retries its refused
 * connections on the next instance. A service that needs a warm-up would start as critical instead.
 */
export function backendEnvs(spec: BackendSpec): string[] {
    return [
        `SERVICE_NAME=${spec.service}`,
        `SERVICE_CHECK_HTTP=${spec.healthPath}`,
        "SERVICE_CHECK_INTERVAL=1s",
        "SERVICE_CHECK_TIMEOUT=1s",
        "SERVICE_CHECK_INITIAL_STATUS=passing",
    ];
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
                { parent: this, dependsOn: [args.registrators[hostName], ...(previousReplica ? [previousReplica] : [])], aliases: formerName },
            );
        }
        this.registerOutputs({ placement: this.placement });
    }
}
