import * as pulumi from "@pulumi/pulumi";
import * as docker from "@pulumi/docker";
import * as random from "@pulumi/random";
import { local } from "@pulumi/command";
import { shq } from "../../render/shell";
import { ConsulSpec, byHostName, hasRole } from "../../lib/model";
import { consulUi, dnsListenPort, localAgentAddress, resolveClientAddress } from "../../lib/consul";
import { consulRolloutWaves } from "../../lib/topology";
import { managedVolume, pulledImage, serviceContainer, volumeSuffix } from "../host/containers";
import {
    CONSUL_CONFIG_DIR,
    CONSUL_DATA_DIR,
    CONSUL_USER,
    ConsulTokenRole,
    consulAgentArgs,
    consulTokenOf,
    gossipKeyOf,
    renderConsulAclApply,
    renderConsulAclSetup,
    renderConsulAutopilotSettings,
    renderConsulAgentConfig,
    renderConsulAgentReady,
    renderConsulDataOwner,
    renderConsulLeaderHandoff,
    renderConsulServerPrune,
    renderConsulServerTracked,
    dnsRedirectRules,
    renderDnsRedirectApply,
    renderDnsRedirectRemove,
} from "../../render/consul";
import { ConsulDns } from "../../render/edge";
import { DockerHost, HostCommand } from "../host/DockerHost";
import { AppliedRules } from "../cluster/FirewallKeeper";

export interface ConsulClusterArgs {
    hosts: DockerHost[];
    spec: ConsulSpec;
    image: string;
    /** Per host name: what must be in place on that host before its agent starts (its swarm membership and networks). */
    readyBefore: Record<string, pulumi.Resource[]>;
    /** Refuse to delete the data volumes (Pulumi's `protect`). */
    protect: boolean;
    /** docker_gwbridge's gateway, where containers on every node find Consul's DNS. */
    dnsAddress: string;
    /**
     * The cluster ran in the last deployment: agents then change one host at a time, each after the one
     * before is back in the cluster. A first deployment starts them together, since servers elect a
     * leader only once bootstrap-expect of them run.
     */
    rolling: boolean;
}

/** The cluster's generated secrets: the gossip key and the seed every ACL token derives from (see consulTokenOf). */
interface ConsulSecrets {
    gossipKey: pulumi.Output<string>;
    aclSeed: pulumi.Output<string>;
    tokens: Record<Exclude<ConsulTokenRole, "agent" | "dns">, pulumi.Output<string>>;
}

function consulSecrets(name: string, parent: pulumi.Resource): ConsulSecrets {
    // RandomBytes and RandomId use the value itself as the resource id, which the state keeps in plain
    // text; RandomPassword's id is a placeholder and its result a secret. 32 characters from 62
    // (about 190 bits) are the 32 bytes of Consul's AES-256 key.
    const gossipSecret = new random.RandomPassword(`${name}-gossip-key`, { length: 32, special: false }, { parent });
    // Every ACL token is derived from this one secret, so no token is generated twice.
    const aclSeed = new random.RandomPassword(`${name}-acl-seed`, { length: 40, special: false }, { parent }).result;
    const token = (role: ConsulTokenRole) => pulumi.secret(aclSeed.apply((seed) => consulTokenOf(seed, role).secret));
    return {
        gossipKey: pulumi.secret(gossipSecret.result.apply(gossipKeyOf)),
        aclSeed,
        tokens: { management: token("management"), registrator: token("registrator"), "consul-template": token("consul-template") },
    };
}

/** What every agent of the cluster shares. */
interface ClusterContext {
    name: string;
    parent: pulumi.Resource;
    args: ConsulClusterArgs;
    servers: DockerHost[];
    secrets: ConsulSecrets;
    dataSuffix: random.RandomString;
    /** The port the agents' DNS listens on (see dnsListenPort). */
    listenPort: number;
}

/** One host's agent: its container, and the step that is done once it is back in the cluster. */
interface Agent {
    container: docker.Container;
    ready: HostCommand;
    dnsRedirect?: AppliedRules;
}

/** The agent's configuration file, secret: it holds the gossip key and the agent's tokens. */
function agentConfig(ctx: ClusterContext, host: DockerHost, nodeId: pulumi.Output<string>): pulumi.Output<string> {
    const server = hasRole(host.spec, "consul-server");
    const { spec, dnsAddress } = ctx.args;
    return pulumi.secret(
        pulumi.all([ctx.secrets.gossipKey, nodeId, host.nameservers, ctx.secrets.aclSeed]).apply(([encryptKey, id, recursors, seed]) =>
            renderConsulAgentConfig({
                nodeName: host.spec.name,
                nodeId: id,
                address: host.spec.address,
                server,
                bootstrapExpect: ctx.servers.length,
                retryJoin: ctx.servers.map((h) => h.spec.address).filter((a) => a !== host.spec.address),
                datacenter: spec.datacenter,
                clientAddress: resolveClientAddress(spec.clientAddress, host.spec.address),
                httpPort: spec.httpPort,
                dnsPort: ctx.listenPort,
                dnsAddress,
                recursors,
                encryptKey,
                acl: {
                    agent: consulTokenOf(seed, "agent").secret,
                    default: consulTokenOf(seed, "dns").secret,
                    management: server ? consulTokenOf(seed, "management").secret : undefined,
                },
            }),
        ),
    );
}

/** The nat rules that send DNS on the configured port to the agent's, when the two differ. */
function dnsRedirect(ctx: ClusterContext, host: DockerHost): AppliedRules | undefined {
    const { dnsAddress, spec } = ctx.args;
    if (ctx.listenPort === spec.dnsPort) return undefined;
    const appliedBy = host.run(
        `${ctx.name}-dns-redirect-${host.spec.name}`,
        {
            create: renderDnsRedirectApply(dnsAddress, spec.dnsPort, ctx.listenPort),
            delete: renderDnsRedirectRemove(dnsAddress, spec.dnsPort, ctx.listenPort),
        },
        // A new gateway or port: the old rules go before the new ones land, as for flows.
        { parent: ctx.parent, replaceOnChanges: ["create"], deleteBeforeReplace: true },
    );
    return { rules: dnsRedirectRules(dnsAddress, spec.dnsPort, ctx.listenPort), appliedBy };
}

/**
 * On the first other server by name: the step whose delete prunes a removed server from Raft once its
 * agent has stopped (the agent depends on it, so it goes first). None for a client or a lone server.
 */
function serverTracker(ctx: ClusterContext, host: DockerHost): HostCommand[] {
    if (!hasRole(host.spec, "consul-server")) return [];
    const prunedBy = [...ctx.servers].sort((a, b) => byHostName(a.spec, b.spec)).find((s) => s !== host);
    if (!prunedBy) return [];
    return [
        prunedBy.run(
            `${ctx.name}-server-${host.spec.name}`,
            {
                create: renderConsulServerTracked(host.spec.name),
                delete: renderConsulServerPrune(host.spec.name, localAgentAddress(ctx.args.spec, prunedBy.spec.address)),
                stdin: ctx.secrets.tokens.management,
            },
            { parent: ctx.parent },
        ),
    ];
}

/**
 * A wave of several agents is back in the cluster once each of its agents' ready steps is done: one
 * step that depends on them all, so the next wave's agents depend on it alone and the dependency graph
 * grows linearly with the hosts. It runs nothing on any host; named by the wave's last host.
 */
function waveBarrier(ctx: ClusterContext, ready: HostCommand[], wave: DockerHost[]): pulumi.Resource {
    const names = wave.map((h) => h.spec.name);
    return new local.Command(
        `${ctx.name}-wave-${names[names.length - 1]}`,
        { create: `echo ${shq(`consul agents back in the cluster: ${names.join(" ")}`)}`, logging: "stdoutAndStderr" },
        { parent: ctx.parent, dependsOn: ready },
    );
}

/** A host's agent, started after `after` (the wave before it back in the cluster) when the cluster rolls. */
function agentOn(ctx: ClusterContext, host: DockerHost, after: pulumi.Resource | undefined): Agent {
    const { name, parent, args } = ctx;
    const hostName = host.spec.name;
    const server = hasRole(host.spec, "consul-server");
    const nodeId = new random.RandomUuid(`${name}-node-id-${hostName}`, {}, { parent });
    const volume = managedVolume(
        `${name}-data-${hostName}`,
        host,
        pulumi.interpolate`consul-data-${ctx.dataSuffix.result}`,
        parent,
        args.protect,
    );
    const image = pulledImage(`${name}-image-${hostName}`, host, args.image, parent);
    const dataOwner = host.run(
        `${name}-data-owner-${hostName}`,
        { create: pulumi.all([volume.name, image.imageId]).apply(([v, i]) => renderConsulDataOwner(v, i)) },
        { parent },
    );
    const redirect = dnsRedirect(ctx, host);
    const container = serviceContainer(
        `${name}-agent-${hostName}`,
        host,
        {
            containerName: "consul",
            image: image.imageId,
            entrypoints: ["/bin/consul"],
            command: consulAgentArgs(),
            uploads: [{ file: `${CONSUL_CONFIG_DIR}/agent.json`, content: agentConfig(ctx, host, nodeId.result) }],
            volumes: [{ volumeName: volume.name, containerPath: CONSUL_DATA_DIR }],
            network: "host",
            // The official image's entrypoint would drop to this user; it is bypassed, so the container does.
            user: CONSUL_USER,
            dropAllCapabilities: true,
        },
        {
            parent,
            dependsOn: [
                ...args.readyBefore[hostName],
                dataOwner,
                ...(redirect ? [redirect.appliedBy] : []),
                ...serverTracker(ctx, host),
                ...(args.rolling && after ? [after] : []),
            ],
        },
    );
    const agentAddress = localAgentAddress(args.spec, host.spec.address);
    // Replaced with its agent (the agent's id is a trigger): the delete hands leadership over
    // before the agent stops, the create waits until the new agent has rejoined.
    const ready = host.run(
        `${name}-rollout-${hostName}`,
        {
            create: renderConsulAgentReady(hostName, agentAddress, server),
            delete: server ? container.id.apply((id) => renderConsulLeaderHandoff(hostName, agentAddress, id)) : undefined,
            stdin: server ? ctx.secrets.tokens.management : undefined,
            triggers: [container.id],
        },
        { parent },
    );
    return { container, ready, dnsRedirect: redirect };
}

/** Policies and tokens live in Raft: the first server writes them once a leader answers, then autopilot's settings. */
function aclSetup(ctx: ClusterContext, agents: Record<string, Agent>): HostCommand {
    const first = ctx.servers[0];
    const address = localAgentAddress(ctx.args.spec, first.spec.address);
    const aclReady = first.run(
        `${ctx.name}-acl`,
        {
            create: renderConsulAclApply(),
            stdin: pulumi.secret(ctx.secrets.aclSeed.apply((seed) => renderConsulAclSetup(seed, address))),
        },
        { parent: ctx.parent, dependsOn: ctx.servers.map((h) => agents[h.spec.name].container) },
    );
    first.run(
        `${ctx.name}-autopilot`,
        { create: renderConsulAutopilotSettings(address), stdin: ctx.secrets.tokens.management },
        { parent: ctx.parent, dependsOn: [aclReady] },
    );
    return aclReady;
}

/**
 * A Consul cluster: server agents on consul-server hosts (bootstrap-expect = their count, retry-join to
 * all of them) and client agents everywhere else, on the host network with the host's address bound and
 * advertised explicitly, gossip encrypted with one generated key, data and node id surviving restarts.
 */
export class ConsulCluster extends pulumi.ComponentResource {
    /** Per host name: its agent container. */
    readonly agents: Record<string, docker.Container>;
    /** Per host name, where DNS is redirected to the agent's port: those rules and the step that applied them. */
    readonly dnsRedirects: Record<string, AppliedRules>;
    /** Where every host's agent answers DNS itself, without the redirect. */
    readonly dns: ConsulDns;
    /** The secret ID of a role's ACL token (a secret output). */
    readonly tokens: ConsulSecrets["tokens"];
    /** The hosts whose agent is in the cluster, known once every agent has joined (the `consulAgents` output). */
    readonly members: pulumi.Output<string[]>;
    /** Done once the ACL policies and tokens exist: clients that present a token start after it. */
    readonly aclReady: pulumi.Resource;
    readonly uiUrl: string;
    /** The SSH command that makes `uiUrl` reach a server's loopback-only API; null when it is reachable as is. */
    readonly uiTunnel: string | null;

    constructor(name: string, args: ConsulClusterArgs, opts?: pulumi.ComponentResourceOptions) {
        super("swarm-platform:services:ConsulCluster", name, {}, opts);
        const servers = args.hosts.filter((h) => hasRole(h.spec, "consul-server"));
        if (servers.length === 0) throw new pulumi.ResourceError("Consul needs at least one host with the consul-server role", this);
        const secrets = consulSecrets(name, this);
        const ctx: ClusterContext = {
            name,
            parent: this,
            args,
            servers,
            secrets,
            dataSuffix: volumeSuffix(`${name}-data-suffix`, this),
            listenPort: dnsListenPort(args.spec.dnsPort),
        };
        const agents: Record<string, Agent> = {};
        const waves = consulRolloutWaves(args.hosts, args.spec.clientBatch);
        let after: pulumi.Resource | undefined;
        for (const wave of waves) {
            for (const host of wave) agents[host.spec.name] = agentOn(ctx, host, after);
            after =
                wave.length === 1
                    ? agents[wave[0].spec.name].ready
                    : waveBarrier(
                          ctx,
                          wave.map((h) => agents[h.spec.name].ready),
                          wave,
                      );
        }
        if (args.rolling) {
            pulumi.log.info(
                `Consul agents change in this order, each step once the one before is back: ${waves.map((w) => w.map((h) => h.spec.name).join(" + ")).join(", then ")}`,
                this,
            );
        }
        const hostNames = Object.keys(agents);
        this.agents = Object.fromEntries(hostNames.map((h) => [h, agents[h].container]));
        this.dnsRedirects = Object.fromEntries(
            hostNames.flatMap((h) => (agents[h].dnsRedirect ? [[h, agents[h].dnsRedirect as AppliedRules]] : [])),
        );
        this.dns = { address: args.dnsAddress, port: ctx.listenPort };
        this.tokens = secrets.tokens;
        this.members = pulumi.all(hostNames.map((h) => agents[h].ready.stdout.apply(() => h))).apply((names) => [...names].sort());
        this.aclReady = aclSetup(ctx, agents);
        const ui = consulUi(args.spec, servers[0].spec);
        this.uiUrl = ui.url;
        this.uiTunnel = ui.tunnel;
        this.registerOutputs({
            uiUrl: this.uiUrl,
            uiTunnel: this.uiTunnel,
            servers: servers.map((h) => h.spec.address),
            members: this.members,
        });
    }
}
