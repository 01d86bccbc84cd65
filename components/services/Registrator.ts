import * as pulumi from "@pulumi/pulumi";
import * as docker from "@pulumi/docker";
import { ConsulSpec, RegistratorSpec } from "../../lib/model";
import { managedVolume, pulledImage, serviceContainer, volumeSuffix } from "../host/containers";
import {
    DOCKER_PROXY_CONFIG,
    DOCKER_PROXY_DIR,
    DOCKER_PROXY_SOCKET,
    PROXIED_ENGINE_SOCKET,
    dockerProxyArgs,
    renderDockerProxyConfig,
} from "../../render/dockerProxy";
import { localAgentAddress } from "../../lib/consul";
import { registratorArgs } from "../../render/registrator";
import { DockerHost } from "../host/DockerHost";

export interface RegistratorArgs {
    hosts: DockerHost[];
    consul: ConsulSpec;
    /** Per host name: the Consul agent registrator talks to. */
    agents: Record<string, docker.Container>;
    image: string;
    /** HAProxy image of the read-only Docker API proxy. */
    proxyImage: string;
    spec: RegistratorSpec;
    /** Its ACL token (secret), and the resource after which the token exists. */
    token: pulumi.Output<string>;
    aclReady: pulumi.Resource;
}

/**
 * Registrator on every node, registering the node's containers into its local Consul agent. The
 * maintained fork (fayrus/registrator) is used: gliderlabs/registrator has had no release since 2017.
 * It never gets the engine's socket (whoever holds that is root on the host): it reads the engine
 * through a proxy that passes only the reads it makes (render/dockerProxy.ts), on a socket in a volume
 * the two share. The proxy has no network and no capability.
 */
export class Registrator extends pulumi.ComponentResource {
    readonly containers: Record<string, docker.Container>;

    constructor(name: string, args: RegistratorArgs, opts?: pulumi.ComponentResourceOptions) {
        super("swarm-platform:services:Registrator", name, {}, opts);
        this.containers = {};
        const suffix = volumeSuffix(`${name}-proxy-suffix`, this);
        for (const host of args.hosts) {
            const hostName = host.spec.name;
            const socketVolume = managedVolume(
                `${name}-proxy-socket-${hostName}`,
                host,
                pulumi.interpolate`registrator-docker-proxy-${suffix.result}`,
                this,
            );
            const proxyImage = pulledImage(`${name}-proxy-image-${hostName}`, host, args.proxyImage, this);
            const proxy = serviceContainer(
                `${name}-proxy-${hostName}`,
                host,
                {
                    containerName: "registrator-docker-proxy",
                    image: proxyImage.imageId,
                    entrypoints: ["haproxy"],
                    command: dockerProxyArgs(),
                    uploads: [{ file: DOCKER_PROXY_CONFIG, content: renderDockerProxyConfig() }],
                    // As root (the engine's socket is root's) but with no capability: the socket's owner needs none.
                    user: "root",
                    dropAllCapabilities: true,
                    network: "none",
                    volumes: [
                        { hostPath: host.spec.dockerSocket, containerPath: PROXIED_ENGINE_SOCKET },
                        { volumeName: socketVolume.name, containerPath: DOCKER_PROXY_DIR },
                    ],
                },
                { parent: this },
            );
            const image = pulledImage(`${name}-image-${hostName}`, host, args.image, this);
            this.containers[hostName] = serviceContainer(
                `${name}-${hostName}`,
                host,
                {
                    containerName: "registrator",
                    image: image.imageId,
                    command: registratorArgs(
                        host.spec.address,
                        localAgentAddress(args.consul, host.spec.address),
                        args.spec.internalAddresses,
                    ),
                    // Registrator's Consul client reads its token from the environment, as Consul's own API client does.
                    envs: [pulumi.interpolate`CONSUL_HTTP_TOKEN=${args.token}`, `DOCKER_HOST=unix://${DOCKER_PROXY_SOCKET}`],
                    volumes: [{ volumeName: socketVolume.name, containerPath: DOCKER_PROXY_DIR, readOnly: true }],
                    network: "host",
                },
                { parent: this, dependsOn: [args.agents[hostName], args.aclReady, proxy] },
            );
        }
        this.registerOutputs({ hosts: Object.keys(this.containers) });
    }
}
