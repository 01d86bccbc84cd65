import * as pulumi from "@pulumi/pulumi";
import * as docker from "@pulumi/docker";
import * as random from "@pulumi/random";
import { ConsulSpec, byHostName } from "../../lib/model";
import { consulUi, dnsListenPort, localAgentAddress, resolveClientAddress } from "../../lib/consul";
import { consulRolloutOrder } from "../../lib/topology";
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
    readonly tokens: Record<Exclude<ConsulTokenRole, "agent" | "dns">, pulumi.Output<string>>;
    /** The hosts whose agent is in the cluster, known once every agent has joined (the `consulAgents` output). */
    readonly members: pulumi.Output<string[]>;
    /** Done once the ACL policies and tokens exist: clients that present a token start after it. */
    readonly aclReady: pulumi.Resource;
    readonly uiUrl: string;
    /** The SSH command that makes `uiUrl` reach a server's loopback-only API; null when it is reachable as is. */
    readonly uiTunnel: string | null;

    constructor(name: string, args: ConsulClusterArgs, opts?: pulumi.ComponentResourceOptions) {
        super("swarm-platform:services:ConsulCluster", name, {}, opts);
        const servers = args.hosts.filter((h) => h.spec.roles.includes("consul-server"));
        if (servers.length === 0) throw new pulumi.ResourceError("Consul needs at least one host with the consul-server role", this);
        const serverAddresses = servers.map((h) => h.spec.address);
        // RandomBytes and RandomId use the value itself as the resource id, which the state keeps in plain
        // text; RandomPassword's id is a placeholder and its result a secret. 32 characters from 62
        // (about 190 bits) are the 32 bytes of Consul's AES-256 key.
        const gossipSecret = new random.RandomPassword(`${name}-gossip-key`, { length: 32, special: false }, { parent: this });
        const gossipKey = pulumi.secret(gossipSecret.result.apply(gossipKeyOf));

        // Every ACL token is derived from this one secret (see consulTokenOf), so no token is generated twice.
        const aclSeed = new random.RandomPassword(`${name}-acl-seed`, { length: 40, special: false }, { parent: this });
        const token = (role: ConsulTokenRole) => pulumi.secret(aclSeed.result.apply((seed) => consulTokenOf(seed, role).secret));
        this.tokens = { management: token("management"), registrator: token("registrator"), "consul-template": token("consul-template") };

        const dataSuffix = volumeSuffix(`${name}-data-suffix`, this);
        const listenPort = dnsListenPort(args.spec.dnsPort);
        this.dns = { address: args.dnsAddress, port: listenPort };

        // A removed server is pruned from Raft by the first other server by name, once its agent has stopped.
        const pruner = (host: DockerHost) => [...servers].sort((a, b) => byHostName(a.spec, b.spec)).find((s) => s !== host);
        this.agents = {};
        this.dnsRedirects = {};
        const joined: pulumi.Output<string>[] = [];
        let previousAgentReady: HostCommand | undefined;
        for (const host of consulRolloutOrder(args.hosts)) {
            const hostName = host.spec.name;
            const server = host.spec.roles.includes("consul-server");
            const nodeId = new random.RandomUuid(`${name}-node-id-${hostName}`, {}, { parent: this });
            const volume = managedVolume(
                `${name}-data-${hostName}`,
                host,
                pulumi.interpolate`consul-data-${dataSuffix.result}`,
                this,
                args.protect,
            );
            const image = pulledImage(`${name}-image-${hostName}`, host, args.image, this);
            const config = pulumi
                .all([gossipKey, nodeId.result, host.nameservers, aclSeed.result])
                .apply(([encryptKey, id, recursors, seed]) =>
                    renderConsulAgentConfig({
                        nodeName: hostName,
                        nodeId: id,
                        address: host.spec.address,
                        server,
                        bootstrapExpect: servers.length,
                        retryJoin: serverAddresses.filter((a) => a !== host.spec.address),
                        datacenter: args.spec.datacenter,
                        clientAddress: resolveClientAddress(args.spec.clientAddress, host.spec.address),
                        httpPort: args.spec.httpPort,
                        dnsPort: listenPort,
                        dnsAddress: args.dnsAddress,
                        recursors,
                        encryptKey,
                        acl: {
                            agent: consulTokenOf(seed, "agent").secret,
                            default: consulTokenOf(seed, "dns").secret,
                            management: server ? consulTokenOf(seed, "management").secret : undefined,
                        },
                    }),
                );
            const dataOwner = host.run(
                `${name}-data-owner-${hostName}`,
                { create: pulumi.all([volume.name, image.imageId]).apply(([v, i]) => renderConsulDataOwner(v, i)) },
                { parent: this },
            );
            if (listenPort !== args.spec.dnsPort) {
                const appliedBy = host.run(
                    `${name}-dns-redirect-${hostName}`,
                    {
                        create: renderDnsRedirectApply(args.dnsAddress, args.spec.dnsPort, listenPort),
                        delete: renderDnsRedirectRemove(args.dnsAddress, args.spec.dnsPort, listenPort),
                    },
                    // A new gateway or port: the old rules go before the new ones land, as for flows.
                    { parent: this, replaceOnChanges: ["create"], deleteBeforeReplace: true },
                );
                this.dnsRedirects[hostName] = { rules: dnsRedirectRules(args.dnsAddress, args.spec.dnsPort, listenPort), appliedBy };
            }
            const dnsRedirect = this.dnsRedirects[hostName] ? [this.dnsRedirects[hostName].appliedBy] : [];
            const prunedBy = server ? pruner(host) : undefined;
            const tracked = prunedBy
                ? [
                      prunedBy.run(
                          `${name}-server-${hostName}`,
                          {
                              create: renderConsulServerTracked(hostName),
                              delete: renderConsulServerPrune(hostName, localAgentAddress(args.spec, prunedBy.spec.address)),
                              stdin: this.tokens.management,
                          },
                          { parent: this },
                      ),
                  ]
                : [];
            this.agents[hostName] = serviceContainer(
                `${name}-agent-${hostName}`,
                host,
                {
                    containerName: "consul",
                    image: image.imageId,
                    entrypoints: ["/bin/consul"],
                    command: consulAgentArgs(),
                    uploads: [{ file: `${CONSUL_CONFIG_DIR}/agent.json`, content: pulumi.secret(config) }],
                    volumes: [{ volumeName: volume.name, containerPath: CONSUL_DATA_DIR }],
                    network: "host",
                    // The official image's entrypoint would drop to this user; it is bypassed, so the container does.
                    user: CONSUL_USER,
                    dropAllCapabilities: true,
                },
                {
                    parent: this,
                    // The agent goes before its tracker, whose delete then prunes it.
                    dependsOn: [
                        ...args.readyBefore[hostName],
                        dataOwner,
                        ...dnsRedirect,
                        ...tracked,
                        ...(args.rolling && previousAgentReady ? [previousAgentReady] : []),
                    ],
                },
            );
            const agentAddress = localAgentAddress(args.spec, host.spec.address);
            // Replaced with its agent (the agent's id is a trigger): the delete hands leadership over
            // before the agent stops, the create waits until the new agent has rejoined.
            previousAgentReady = host.run(
                `${name}-rollout-${hostName}`,
                {
                    create: renderConsulAgentReady(hostName, agentAddress, server),
                    delete: server
                        ? this.agents[hostName].id.apply((id) => renderConsulLeaderHandoff(hostName, agentAddress, id))
                        : undefined,
                    stdin: server ? this.tokens.management : undefined,
                    triggers: [this.agents[hostName].id],
                },
                { parent: this },
            );
            joined.push(previousAgentReady.stdout.apply(() => hostName));
        }
        this.members = pulumi.all(joined).apply((names) => [...names].sort());
        // Policies and tokens live in Raft: one server writes them, once a leader answers.
        this.aclReady = servers[0].run(
            `${name}-acl`,
            {
                create: renderConsulAclApply(),
                stdin: pulumi.secret(
                    aclSeed.result.apply((seed) => renderConsulAclSetup(seed, localAgentAddress(args.spec, servers[0].spec.address))),
                ),
            },
            { parent: this, dependsOn: servers.map((h) => this.agents[h.spec.name]) },
        );
        servers[0].run(
            `${name}-autopilot`,
            { create: renderConsulAutopilotSettings(localAgentAddress(args.spec, servers[0].spec.address)), stdin: this.tokens.management },
            { parent: this, dependsOn: [this.aclReady] },
        );
        const ui = consulUi(args.spec, servers[0].spec);
        this.uiUrl = ui.url;
        this.uiTunnel = ui.tunnel;
        this.registerOutputs({ uiUrl: this.uiUrl, uiTunnel: this.uiTunnel, servers: serverAddresses, members: this.members });
    }
}
