import * as crypto from "crypto";
import * as pulumi from "@pulumi/pulumi";
import * as docker from "@pulumi/docker";
import * as random from "@pulumi/random";
import { DockerHost } from "./DockerHost";
import { renderImageBuild, renderImageRemove } from "../../render/image";
import { MANAGED_LABEL } from "../../render/shell";

/** An image by reference, pulled onto one host and kept when the stack goes (other things may use it). */
export function pulledImage(name: string, host: DockerHost, image: string, parent: pulumi.Resource): docker.RemoteImage {
    return new docker.RemoteImage(name, { name: image, keepLocally: true }, { parent, provider: host.provider });
}

/** A built image's tag follows its Dockerfile and build arguments, so a change rebuilds it and nothing else does. */
function recipeTag(repository: string, dockerfile: string, buildArgs: Record<string, string>): string {
    const hash = crypto.createHash("sha256").update(dockerfile);
    // Values only, in key order: the hash the edge's tags were made with, so existing tags stay.
    for (const key of Object.keys(buildArgs).sort()) hash.update(buildArgs[key]);
    return `${repository}:${hash.digest("hex").slice(0, 12)}`;
}

/**
 * An image built on the host itself from a Dockerfile that needs no context (see renderImageBuild);
 * resolves to its image id.
 */
export function hostBuiltImage(
    name: string,
    host: DockerHost,
    repository: string,
    dockerfile: string,
    buildArgs: Record<string, string>,
    parent: pulumi.Resource,
): pulumi.Output<string> {
    const tag = recipeTag(repository, dockerfile, buildArgs);
    const build = host.run(
        name,
        { create: renderImageBuild(tag, buildArgs), delete: renderImageRemove(tag), stdin: dockerfile },
        // A new recipe is a new tag: build it beside the old one, which goes once nothing uses it.
        { parent, replaceOnChanges: ["create"] },
    );
    return build.stdout.apply((id) => id.trim());
}

/**
 * The generated part of the names of a component's volumes. Docker's volume create returns an existing
 * volume of the same name, so a fixed name would adopt (and destroy would delete) a volume the stack
 * never made; a generated suffix cannot collide.
 */
export const volumeSuffix = (name: string, parent: pulumi.Resource): random.RandomString =>
    new random.RandomString(name, { length: 8, special: false, upper: false }, { parent });

/** A volume the stack made and labels as its own; `protect` keeps `pulumi destroy` away from its data. */
export function managedVolume(
    name: string,
    host: DockerHost,
    volumeName: pulumi.Input<string>,
    parent: pulumi.Resource,
    protect = false,
): docker.Volume {
    return new docker.Volume(
        name,
        { name: volumeName, labels: [{ label: MANAGED_LABEL, value: "true" }] },
        { parent, provider: host.provider, protect },
    );
}

export interface ServiceContainerArgs {
    containerName: string;
    image: pulumi.Input<string>;
    entrypoints?: string[];
    command?: pulumi.Input<string>[];
    uploads?: docker.types.input.ContainerUpload[];
    envs?: pulumi.Input<string>[];
    volumes?: docker.types.input.ContainerVolume[];
    capabilities?: string[];
    /** The user the container's process runs as, when not the image's. */
    user?: string;
    /** Starts from no capability at all (the ones in `capabilities` added back). */
    dropAllCapabilities?: boolean;
    /**
     * host: agents bind the host's own addresses (seeds 002/003) and keepalived needs its NICs;
     * none: a container that talks only over unix sockets; default: Docker's bridge.
     */
    network?: "host" | "none";
    ports?: docker.types.input.ContainerPort[];
    hostname?: string;
    /** Docker's init as PID 1 reaps zombies of supervised processes. */
    init?: boolean;
    /** Seconds between SIGTERM and SIGKILL for any stop of the container, by Docker or by the provider. */
    stopSeconds?: number;
    /** A service's own instance, not part of the platform: it gets Docker's default CPU weight. */
    workload?: boolean;
}

/**
 * The CPU weight of the platform's containers: four times the 1024 a workload gets on cgroup v1 (on v2
 * Docker converts shares to a weight, by a formula that depends on runc's version). Idle, they
 * take nothing from anyone; when the services on a host keep its CPUs busy, the edge every request
 * passes through, keepalived's adverts and checks and Consul's checks and gossip still run at once
 * instead of queueing behind them (which would slow every request and could move the VIP or fail a
 * healthy node). docs/performance.md has what the weight did to the edge's latency under load.
 */
export const PLATFORM_CPU_SHARES = 4096;

/** What a replaced or removed container gets between SIGTERM and SIGKILL: Docker's own default for `docker stop`. */
export const STOP_GRACE_SECONDS = 10;

/** A long-running container: restarted by Docker, labelled as the stack's, logs bounded, the platform's weighted above workloads. */
export function serviceContainer(
    name: string,
    host: DockerHost,
    args: ServiceContainerArgs,
    opts: pulumi.CustomResourceOptions,
): docker.Container {
    return new docker.Container(
        name,
        {
            name: args.containerName,
            image: args.image,
            entrypoints: args.entrypoints,
            command: args.command,
            uploads: args.uploads,
            envs: args.envs,
            volumes: args.volumes,
            capabilities:
                args.capabilities || args.dropAllCapabilities
                    ? { adds: args.capabilities ?? [], drops: args.dropAllCapabilities ? ["ALL"] : [] }
                    : undefined,
            networkMode: args.network ?? "bridge",
            ports: args.ports,
            hostname: args.hostname,
            init: args.init,
            user: args.user,
            restart: "unless-stopped",
            labels: [{ label: MANAGED_LABEL, value: "true" }],
            logOpts: { "max-size": "10m", "max-file": "3" },
            mustRun: true,
            // The provider's delete otherwise kills at once: nginx could not finish its requests,
            // keepalived could not hand the VIP over, Consul could not close its Raft log cleanly.
            destroyGraceSeconds: args.stopSeconds ?? STOP_GRACE_SECONDS,
            stopTimeout: args.stopSeconds,
            cpuShares: args.workload ? undefined : PLATFORM_CPU_SHARES,
        },
        { ...opts, provider: host.provider },
    );
}
