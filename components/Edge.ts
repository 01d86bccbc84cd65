import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import * as docker from "@pulumi/docker";
import { ConsulSpec, EdgeSpec, ImageVersions } from "../lib/model";
import { serviceContainer } from "../lib/containers";
import { renderImageBuild, renderImageRemove } from "../render/image";
import { EDGE_PATHS, renderConsulTemplateConfig, renderNginxConf, renderUpstreamsTemplate } from "../render/edge";
import { localAgentAddress } from "./ConsulCluster";
import { DockerHost } from "./DockerHost";

export const EDGE_DOCKERFILE = path.join(__dirname, "..", "images", "edge", "Dockerfile");

/** The edge image's tag follows its Dockerfile and base images, so a change rebuilds it and nothing else does. */
export function edgeImageTag(images: Pick<ImageVersions, "edgeBase" | "consulTemplate">, dockerfile: string): string {
    const hash = crypto.createHash("sha256").update(dockerfile).update(images.edgeBase).update(images.consulTemplate);
    return `swarm-platform-edge:${hash.digest("hex").slice(0, 12)}`;
}

export interface EdgeArgs {
    hosts: DockerHost[];
    spec: EdgeSpec;
    consul: ConsulSpec;
    images: ImageVersions;
    /** Per host name: the Consul agent consul-template watches. */
    agents: Record<string, docker.Container>;
    /** consul-template's ACL token (secret), and the resource after which the token exists. */
    consulToken: pulumi.Output<string>;
    aclReady: pulumi.Resource;
}

/**
 * The edge on each edge host: nginx whose upstreams consul-template renders from Consul's healthy
 * instances (seed 004), under consul-template's supervision, with graceful reloads on change. The image
 * is built on the host itself from images/edge/Dockerfile (it needs no other context), with pinned
 * base images.
 */
export class Edge extends pulumi.ComponentResource {
    /** Per host name: the edge image's id, which keepalived reuses. */
    readonly imageIds: Record<string, pulumi.Output<string>>;
    readonly containers: Record<string, docker.Container>;
    readonly urls: string[];

    constructor(name: string, args: EdgeArgs, opts?: pulumi.ComponentResourceOptions) {
        super("swarm-platform:edge:Edge", name, {}, opts);
        const dockerfile = fs.readFileSync(EDGE_DOCKERFILE, "utf8");
        const tag = edgeImageTag(args.images, dockerfile);
        this.imageIds = {};
        this.containers = {};
        for (const host of args.hosts) {
            const hostName = host.spec.name;
            const build = host.run(
                `${name}-image-${hostName}`,
                {
                    create: renderImageBuild(tag, { BASE_IMAGE: args.images.edgeBase, CONSUL_TEMPLATE_IMAGE: args.images.consulTemplate }),
                    delete: renderImageRemove(tag),
                    stdin: dockerfile,
                },
                // A new recipe is a new tag: build it beside the old one, which goes once nothing uses it.
                { parent: this, replaceOnChanges: ["create"] },
            );
            const image = build.stdout.apply((id) => id.trim());
            this.imageIds[hostName] = image;
            this.containers[hostName] = serviceContainer(
                `${name}-${hostName}`,
                host,
                {
                    containerName: "edge",
                    image,
                    uploads: [
                        { file: EDGE_PATHS.nginxConf, content: renderNginxConf() },
                        { file: EDGE_PATHS.upstreamsTemplate, content: renderUpstreamsTemplate(args.spec.services, args.spec.port) },
                        {
                            file: EDGE_PATHS.consulTemplateConfig,
                            content: pulumi.secret(args.consulToken.apply((token) => renderConsulTemplateConfig(localAgentAddress(args.consul, host.spec.address), token))),
                        },
                    ],
                    network: "host",
                    init: true,
                },
                { parent: this, dependsOn: [args.agents[hostName], args.aclReady] },
            );
        }
        this.urls = args.hosts.map((h) => `http://${h.spec.address}:${args.spec.port}/`);
        this.registerOutputs({ urls: this.urls });
    }
}
