import * as pulumi from "@pulumi/pulumi";
import * as docker from "@pulumi/docker";
import * as random from "@pulumi/random";
import { EdgeSpec } from "../lib/model";
import { serviceContainer } from "../lib/containers";
import { EDGE_HEALTH_PATH } from "../render/edge";
import { KEEPALIVED_CONF_PATH, keepalivedArgs, renderKeepalivedConf } from "../render/keepalived";
import { DockerHost } from "./DockerHost";

export interface EdgeVipArgs {
    /** Exactly two edge hosts: the first is MASTER, the second BACKUP. */
    hosts: DockerHost[];
    spec: EdgeSpec & { vip: string };
    /** Per host name: the edge image's id (it carries keepalived) and the edge container the VIP follows. */
    imageIds: Record<string, pulumi.Input<string>>;
    edges: Record<string, docker.Container>;
}

// Close to the top: when the MASTER goes to FAULT it advertises priority 0, and the BACKUP takes over
// after (256 - its priority) / 256 of an advert interval.
const PRIORITIES = { MASTER: 250, BACKUP: 240 } as const;

/**
 * A virtual IP shared by the two edge hosts through keepalived (seed 000), with only the capabilities
 * VRRP needs instead of --privileged, and a track script on the edge's health endpoint so the VIP
 * leaves a host whose nginx is down.
 */
export class EdgeVip extends pulumi.ComponentResource {
    readonly url: string;

    constructor(name: string, args: EdgeVipArgs, opts?: pulumi.ComponentResourceOptions) {
        super("swarm-platform:edge:EdgeVip", name, {}, opts);
        if (args.hosts.length !== 2) throw new pulumi.ResourceError(`a VIP needs exactly two edge hosts, got ${args.hosts.length}`, this);
        const authPass = new random.RandomPassword(`${name}-auth`, { length: 8, special: false }, { parent: this });
        args.hosts.forEach((host, i) => {
            const hostName = host.spec.name;
            const state = i === 0 ? "MASTER" : "BACKUP";
            const conf = authPass.result.apply((pass) =>
                renderKeepalivedConf({
                    routerId: hostName,
                    state,
                    priority: PRIORITIES[state],
                    interfaceName: args.spec.vipInterface,
                    virtualRouterId: args.spec.virtualRouterId,
                    vip: args.spec.vip,
                    prefixLength: args.spec.vipPrefixLength,
                    unicastSourceAddress: host.spec.address,
                    unicastPeers: args.hosts.filter((h) => h !== host).map((h) => h.spec.address),
                    authPass: pass,
                    healthUrl: `http://127.0.0.1:${args.spec.port}${EDGE_HEALTH_PATH}`,
                }),
            );
            serviceContainer(
                `${name}-${hostName}`,
                host,
                {
                    containerName: "keepalived",
                    image: args.imageIds[hostName],
                    command: keepalivedArgs(),
                    uploads: [{ file: KEEPALIVED_CONF_PATH, content: pulumi.secret(conf) }],
                    // Spelled as the engine stores them (20.10+ adds CAP_), so a refresh reads back what was asked.
                    capabilities: ["CAP_NET_ADMIN", "CAP_NET_BROADCAST", "CAP_NET_RAW"],
                    network: "host",
                    init: true,
                },
                { parent: this, dependsOn: [args.edges[hostName]] },
            );
        });
        this.url = `http://${args.spec.vip}:${args.spec.port}/`;
        this.registerOutputs({ vip: args.spec.vip, url: this.url });
    }
}
