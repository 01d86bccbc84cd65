import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import * as docker from "@pulumi/docker";
import { ConsulSpec, EdgeSpec, ImageVersions, byHostName } from "../../lib/model";
import { PROJECT_DIR } from "../../lib/project";
import { hostBuiltImage, serviceContainer } from "../host/containers";
import {
    ConsulDns,
    EDGE_CONTAINER,
    EDGE_HEALTH_PATH,
    EDGE_PATHS,
    EDGE_STOP_SECONDS,
    renderConsulTemplateConfig,
    renderEdgeCommand,
    renderEdgeDrain,
    renderEdgeReady,
    renderNginxConf,
    renderUpstreamsTemplate,
} from "../../render/edge";
import { KEEPALIVED_CONF_PATH, VIP_SETTLE_SECONDS, keepalivedArgs, renderKeepalivedConf } from "../../render/keepalived";
import { localAgentAddress } from "../../lib/consul";
import { DockerHost } from "../host/DockerHost";

export const EDGE_DOCKERFILE = path.join(PROJECT_DIR, "images", "edge", "Dockerfile");
const EDGE_IMAGE_REPOSITORY = "swarm-platform-edge";

// Close to the top: when the MASTER goes to FAULT it advertises priority 0, and the BACKUP takes over
// after (256 - its priority) / 256 of an advert interval.
const PRIORITIES = { MASTER: 250, BACKUP: 240 } as const;

export interface EdgeArgs {
    /** The edge hosts; with a VIP exactly two, the first by name MASTER. */
    hosts: DockerHost[];
    spec: EdgeSpec;
    consul: ConsulSpec;
    /** Where nginx asks Consul for the services' passing instances (the same on every host). */
    consulDns: ConsulDns;
    images: ImageVersions;
    /** Per host name: the Consul agent consul-template watches. */
    agents: Record<string, docker.Container>;
    /** consul-template's ACL token (secret), and the resource after which the token exists. */
    consulToken: pulumi.Output<string>;
    aclReady: pulumi.Resource;
    /** Where the keepalived containers and their password lived before they joined this component (an edge VIP component of that name). */
    formerVipComponent?: string;
}

/**
 * The edge on each edge host: nginx whose upstreams consul-template renders from Consul's healthy
 * instances (seed 004), under consul-template's supervision, with graceful reloads on change; with a
 * VIP, keepalived beside it (seed 000) with only the capabilities VRRP needs instead of --privileged,
 * tracking the edge's health endpoint so the VIP leaves a host whose nginx is down. The image is built
 * on the host itself from images/edge/Dockerfile (it needs no other context), with pinned base images.
 *
 * Edge hosts change one at a time, by name: a host's edge drains first (its health check fails, so
 * the VIP moves while nginx still serves), and the next host waits until this one serves again. A stop
 * by anyone else (`docker stop`, the host shutting down) drains the same way from inside the container.
 */
export class Edge extends pulumi.ComponentResource {
    readonly containers: Record<string, docker.Container>;
    readonly urls: string[];
    readonly vipUrl?: string;

    constructor(name: string, args: EdgeArgs, opts?: pulumi.ComponentResourceOptions) {
        super("swarm-platform:edge:Edge", name, {}, opts);
        const dockerfile = fs.readFileSync(EDGE_DOCKERFILE, "utf8");
        const buildArgs = { BASE_IMAGE: args.images.edgeBase, CONSUL_TEMPLATE_IMAGE: args.images.consulTemplate };
        const hosts = [...args.hosts].sort((a, b) => byHostName(a.spec, b.spec));
        const vip = args.spec.vip;
        if (vip && hosts.length !== 2) throw new pulumi.ResourceError(`a VIP needs exactly two edge hosts, got ${hosts.length}`, this);
        const formerName = (part: string) =>
            args.formerVipComponent
                ? [
                      {
                          name: `${args.formerVipComponent}-${part}`,
                          parent: pulumi.createUrn(args.formerVipComponent, "swarm-platform:edge:EdgeVip", opts?.parent),
                      },
                  ]
                : [];

        this.containers = {};
        let previousHostReady: pulumi.Resource | undefined;
        hosts.forEach((host, i) => {
            const hostName = host.spec.name;
            const image = hostBuiltImage(`${name}-image-${hostName}`, host, EDGE_IMAGE_REPOSITORY, dockerfile, buildArgs, this);
            const edge = serviceContainer(
                `${name}-${hostName}`,
                host,
                {
                    containerName: EDGE_CONTAINER,
                    image,
                    command: renderEdgeCommand(vip),
                    stopSeconds: EDGE_STOP_SECONDS,
                    uploads: [
                        { file: EDGE_PATHS.nginxConf, content: renderNginxConf() },
                        {
                            file: EDGE_PATHS.upstreamsTemplate,
                            content: renderUpstreamsTemplate(args.spec.services, args.spec.port, args.consulDns),
                        },
                        {
                            file: EDGE_PATHS.consulTemplateConfig,
                            content: pulumi.secret(
                                args.consulToken.apply((token) =>
                                    renderConsulTemplateConfig(localAgentAddress(args.consul, host.spec.address), token),
                                ),
                            ),
                        },
                    ],
                    network: "host",
                    init: true,
                },
                { parent: this, dependsOn: [args.agents[hostName], args.aclReady, ...(previousHostReady ? [previousHostReady] : [])] },
            );
            this.containers[hostName] = edge;
            const keepalived = vip
                ? [
                      this.keepalived(
                          `${name}-vip-${hostName}`,
                          host,
                          i === 0 ? "MASTER" : "BACKUP",
                          { ...args.spec, vip },
                          image,
                          edge,
                          formerName(hostName),
                      ),
                  ]
                : [];
            // Replaced with either container (their ids are triggers): the delete drains this edge
            // before it stops, the create waits until it serves again.
            previousHostReady = host.run(
                `${name}-rollout-${hostName}`,
                {
                    create: renderEdgeReady(args.spec.port, vip ? VIP_SETTLE_SECONDS : 0),
                    delete: edge.id.apply((id) => renderEdgeDrain(vip, id)),
                    triggers: [edge.id, ...keepalived.map((k) => k.id)],
                },
                { parent: this },
            );
        });
        this.urls = args.hosts.map((h) => `http://${h.spec.address}:${args.spec.port}/`);
        this.vipUrl = vip ? `http://${vip}:${args.spec.port}/` : undefined;
        this.registerOutputs({ urls: this.urls, vipUrl: this.vipUrl });
    }

    private keepalived(
        name: string,
        host: DockerHost,
        state: keyof typeof PRIORITIES,
        spec: EdgeSpec & { vip: string },
        image: pulumi.Input<string>,
        edge: docker.Container,
        aliases: pulumi.Alias[],
    ): docker.Container {
        const conf = renderKeepalivedConf({
            routerId: host.spec.name,
            state,
            priority: PRIORITIES[state],
            interfaceName: spec.vipInterface,
            virtualRouterId: spec.virtualRouterId,
            vip: spec.vip,
            prefixLength: spec.vipPrefixLength,
            sourceAddress: host.spec.address,
            healthUrl: `http://127.0.0.1:${spec.port}${EDGE_HEALTH_PATH}`,
        });
        return serviceContainer(
            name,
            host,
            {
                containerName: "keepalived",
                image,
                command: keepalivedArgs(),
                uploads: [{ file: KEEPALIVED_CONF_PATH, content: conf }],
                // Spelled as the engine stores them (20.10+ adds CAP_), so a refresh reads back what was asked.
                capabilities: ["CAP_NET_ADMIN", "CAP_NET_BROADCAST", "CAP_NET_RAW"],
                network: "host",
                init: true,
            },
            { parent: this, dependsOn: [edge], aliases },
        );
    }
}
