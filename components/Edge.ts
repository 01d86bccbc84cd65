import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import * as docker from "@pulumi/docker";
import { ConsulSpec, EdgeSpec, ImageVersions } from "../lib/model";
import { serviceContainer } from "../lib/containers";
import { EDGE_PATHS, renderConsulTemplateConfig, renderNginxConf, renderUpstreamsTemplate } from "../render/edge";
import { localAgentAddress } from "./ConsulCluster";
import { DockerHost } from "./DockerHost";

export const EDGE_IMAGE_CONTEXT = path.join(__dirname, "..", "images", "edge");

/** The edge image's tag follows its build context and base images, so a change rebuilds it and nothing else does. */
export function edgeImageTag(images: Pick<ImageVersions, "edgeBase" | "consulTemplate">, context = EDGE_IMAGE_CONTEXT): string {
    const hash = crypto.createHash("sha256");
    for (const file of fs.readdirSync(context).sort()) hash.update(file).update(fs.readFileSync(path.join(context, file)));
    hash.update(images.edgeBase).update(images.consulTemplate);
    return `swarm-platform-edge:${hash.digest("hex").slice(0, 12)}`;
}

export interface EdgeArgs {
    hosts: DockerHost[];
    spec: EdgeSpec;
    consul: ConsulSpec;
    images: ImageVersions;
    /** Per host name: the Consul agent consul-template watches. */
    agents: Record<string, docker.Container>;
}

/**
 * The edge on each edge host: nginx whose upstreams consul-template renders from Consul's healthy
 * instances (seed 004), under consul-template's supervision, with graceful reloads on change. The image
 * is built on the host itself from images/edge, with pinned base images.
 */
export class Edge extends pulumi.ComponentResource {
    /** Per host name: the edge image, which keepalived reuses. */
    readonly images: Record<string, docker.RemoteImage>;
    readonly containers: Record<string, docker.Container>;
    readonly urls: string[];

    constructor(name: string, args: EdgeArgs, opts?: pulumi.ComponentResourceOptions) {
        super("swarm-platform:edge:Edge", name, {}, opts);
        const tag = edgeImageTag(args.images);
        this.images = {};
        this.containers = {};
        for (const host of args.hosts) {
            const hostName = host.spec.name;
            const image = new docker.RemoteImage(
                `${name}-image-${hostName}`,
                {
                    name: tag,
                    build: {
                        context: EDGE_IMAGE_CONTEXT,
                        dockerfile: "Dockerfile",
                        buildArgs: { BASE_IMAGE: args.images.edgeBase, CONSUL_TEMPLATE_IMAGE: args.images.consulTemplate },
                    },
                    keepLocally: false,
                },
                { parent: this, provider: host.provider },
            );
            this.images[hostName] = image;
            this.containers[hostName] = serviceContainer(
                `${name}-${hostName}`,
                host,
                {
                    containerName: "edge",
                    image: image.imageId,
                    uploads: [
                        { file: EDGE_PATHS.nginxConf, content: renderNginxConf() },
                        { file: EDGE_PATHS.upstreamsTemplate, content: renderUpstreamsTemplate(args.spec.services, args.spec.port) },
                        { file: EDGE_PATHS.consulTemplateConfig, content: renderConsulTemplateConfig(localAgentAddress(args.consul, host.spec.address)) },
                    ],
                    hostNetwork: true,
                    init: true,
                },
                { parent: this, dependsOn: [args.agents[hostName]] },
            );
        }
        this.urls = args.hosts.map((h) => `http://${h.spec.address}:${args.spec.port}/`);
        this.registerOutputs({ urls: this.urls });
    }
}
