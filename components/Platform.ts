import * as pulumi from "@pulumi/pulumi";
import { FIRST_DEPLOYMENT, LastDeployment, PlatformModel, edgeHosts } from "../lib/model";
import { ConsulCluster } from "./services/ConsulCluster";
import { DemoBackends } from "./services/DemoBackends";
import { DockerHost } from "./host/DockerHost";
import { Edge } from "./edge/Edge";
import { GwBridge } from "./cluster/GwBridge";
import { OverlayNetwork } from "./cluster/OverlayNetwork";
import { Registrator } from "./services/Registrator";
import { SwarmCluster } from "./cluster/SwarmCluster";
import { TierNetworks } from "./cluster/TierNetworks";
import { AppliedRules, FirewallKeeper } from "./cluster/FirewallKeeper";

export interface PlatformArgs {
    model: PlatformModel;
    sshPrivateKey?: pulumi.Output<string>;
    /** What the last deployment ran; a first deployment when absent. */
    last?: LastDeployment;
}

/** The cluster layer every service stands on. */
interface ClusterLayer {
    swarm: SwarmCluster;
    overlay: OverlayNetwork;
    /** Per host name. */
    tiers: Record<string, TierNetworks>;
}

/** docker_gwbridge on every host before its join, the swarm, the overlay through a manager, the tier networks per host. */
function clusterLayer(
    name: string,
    model: PlatformModel,
    hosts: DockerHost[],
    last: LastDeployment,
    parent: pulumi.Resource,
): ClusterLayer {
    const gwbridges = Object.fromEntries(
        hosts.map((host) => [
            host.spec.name,
            new GwBridge(`${name}-gwbridge-${host.spec.name}`, { host, spec: model.gwbridge }, { parent }).ready,
        ]),
    );
    const swarm = new SwarmCluster(
        `${name}-swarm`,
        {
            hosts,
            swarm: model.swarm,
            readyBefore: gwbridges,
            protect: model.protectData,
            initHost: last.swarmInit,
            gwbridge: model.gwbridge,
        },
        { parent },
    );
    const overlay = new OverlayNetwork(
        `${name}-overlay`,
        {
            manager: hosts.find((h) => h.spec.address === swarm.managerAddress) as DockerHost,
            spec: model.overlay,
            swarmMembers: swarm.members,
        },
        { parent },
    );
    const tiers = Object.fromEntries(
        hosts.map((host) => [
            host.spec.name,
            new TierNetworks(
                `${name}-tiers-${host.spec.name}`,
                { host, tiers: model.tiers, flows: model.flows, stack: model.stack },
                { parent },
            ),
        ]),
    );
    return { swarm, overlay, tiers };
}

/** Consul, the firewall keepers, registrator, the edge and the demo backends, on top of the cluster layer. */
function serviceLayer(
    name: string,
    model: PlatformModel,
    hosts: DockerHost[],
    last: LastDeployment,
    cluster: ClusterLayer,
    parent: pulumi.Resource,
): { consul: ConsulCluster; edge: Edge; backends: DemoBackends } {
    const { swarm, overlay, tiers } = cluster;
    const consul = new ConsulCluster(
        `${name}-consul`,
        {
            hosts,
            spec: model.consul,
            image: model.images.consul,
            // Per host only what its agent needs: the overlay, its own tiers and its own swarm membership
            // with docker_gwbridge as configured (Consul's DNS listens on the bridge's gateway).
            readyBefore: Object.fromEntries(
                hosts.map((h) => [
                    h.spec.name,
                    [overlay, tiers[h.spec.name], ...(h.spec.name in swarm.bridgedMemberOf ? [swarm.bridgedMemberOf[h.spec.name]] : [])],
                ]),
            ),
            protect: model.protectData,
            dnsAddress: model.gwbridge.gateway,
            rolling: last.consulAgents.length > 0,
        },
        { parent },
    );
    for (const host of hosts) {
        const hostName = host.spec.name;
        const applied = [tiers[hostName].flowRules, consul.dnsRedirects[hostName]].filter((a): a is AppliedRules => a !== undefined);
        if (applied.length > 0) {
            new FirewallKeeper(`${name}-firewall-${hostName}`, { host, applied, baseImage: model.images.firewallKeeperBase }, { parent });
        }
    }
    const registrator = new Registrator(
        `${name}-registrator`,
        {
            hosts,
            consul: model.consul,
            agents: consul.agents,
            image: model.images.registrator,
            proxyImage: model.images.dockerProxy,
            spec: model.registrator,
            token: consul.tokens.registrator,
            aclReady: consul.aclReady,
        },
        { parent },
    );
    const edgeNames = edgeHosts(model).map((h) => h.name);
    const edge = new Edge(
        `${name}-edge`,
        {
            hosts: hosts.filter((h) => edgeNames.includes(h.spec.name)),
            spec: model.edge,
            consul: model.consul,
            consulDns: consul.dns,
            images: model.images,
            agents: consul.agents,
            consulToken: consul.tokens["consul-template"],
            aclReady: consul.aclReady,
            formerVipComponent: `${name}-vip`,
        },
        { parent },
    );
    const backends = new DemoBackends(
        `${name}-backends`,
        {
            hosts,
            spec: model.backends,
            image: model.images.backend,
            registrators: registrator.containers,
            previousPlacement: last.backendPlacement,
        },
        { parent },
    );
    return { consul, edge, backends };
}

/**
 * The whole platform on a set of Docker hosts: the cluster layer (gwbridge, swarm, overlay, tier
 * networks) and, on top of it, service discovery and the edge (Consul, registrator, nginx +
 * consul-template, keepalived VIP) with demo backends so a fresh stack serves traffic.
 */
export class Platform extends pulumi.ComponentResource {
    readonly managerAddress: string;
    readonly nodes: { name: string; address: string; roles: string[] }[];
    readonly overlay: { name: pulumi.Output<string>; subnet: string };
    readonly tierNetworks: Record<string, string>;
    readonly edgeUrls: string[];
    readonly vipUrl?: string;
    readonly consulUiUrl: string;
    readonly consulUiTunnel: string | null;
    /** Per backend replica name, its host. */
    readonly backendPlacement: Record<string, string>;
    /** The hosts whose Consul agent is in the cluster. */
    readonly consulAgents: pulumi.Output<string[]>;
    /** Consul's management token (secret): `pulumi stack output consulManagementToken --show-secrets`. */
    readonly consulManagementToken: pulumi.Output<string>;

    constructor(name: string, args: PlatformArgs, opts?: pulumi.ComponentResourceOptions) {
        super("swarm-platform:index:Platform", name, {}, opts);
        const { model } = args;
        const last = args.last ?? FIRST_DEPLOYMENT;
        const hosts = model.hosts.map(
            (spec) => new DockerHost(`${name}-host-${spec.name}`, { host: spec, sshPrivateKey: args.sshPrivateKey }, { parent: this }),
        );
        const { swarm, overlay, tiers } = clusterLayer(name, model, hosts, last, this);
        const { consul, edge, backends } = serviceLayer(name, model, hosts, last, { swarm, overlay, tiers }, this);

        this.managerAddress = swarm.managerAddress;
        this.nodes = model.hosts.map((h) => ({ name: h.name, address: h.address, roles: h.roles }));
        this.overlay = { name: overlay.name, subnet: overlay.subnet };
        this.tierNetworks = Object.fromEntries(model.tiers.map((t) => [`net_${t.name}`, t.subnet]));
        this.edgeUrls = edge.urls;
        this.vipUrl = edge.vipUrl;
        this.consulUiUrl = consul.uiUrl;
        this.consulUiTunnel = consul.uiTunnel;
        this.consulManagementToken = consul.tokens.management;
        this.consulAgents = consul.members;
        this.backendPlacement = backends.placement;
        this.registerOutputs({
            managerAddress: this.managerAddress,
            nodes: this.nodes,
            overlay: this.overlay,
            tierNetworks: this.tierNetworks,
            edgeUrls: this.edgeUrls,
            vipUrl: this.vipUrl,
            consulUiUrl: this.consulUiUrl,
            consulUiTunnel: this.consulUiTunnel,
            consulManagementToken: this.consulManagementToken,
            consulAgents: this.consulAgents,
            backendPlacement: this.backendPlacement,
        });
    }
}
