import * as pulumi from "@pulumi/pulumi";
import { GwBridgeSpec, SwarmSpec, byHostName } from "../../lib/model";
import { duplicateEngineNames, initManager } from "../../lib/topology";
import { renderGwBridgeRebuild } from "../../render/gwbridge";
import {
    renderJoinToken,
    renderNodeRemove,
    renderNodeTracked,
    renderSwarmInit,
    renderSwarmJoin,
    renderSwarmLeave,
} from "../../render/swarm";
import { DockerHost } from "../host/DockerHost";

export interface SwarmClusterArgs {
    hosts: DockerHost[];
    swarm: SwarmSpec;
    /** Per host name: what must exist on it before it inits or joins (its docker_gwbridge). */
    readyBefore: Record<string, pulumi.Resource>;
    /** Refuse to delete the init, whose delete takes the swarm down (Pulumi's `protect`). */
    protect: boolean;
    /**
     * The host the running swarm was initialised on (the last deployment's), null for a new swarm. It
     * keeps that part while it is a manager, so a manager added under an earlier name joins the swarm
     * instead of initialising another one.
     */
    initHost: string | null;
    /** docker_gwbridge as the nodes must have it: a member whose bridge differs rebuilds it after its join. */
    gwbridge: GwBridgeSpec;
}

/**
 * A Docker Swarm across the hosts: `init` on one manager (see initManager), then every other node joins
 * by role in parallel, each join depending only on init. Join tokens are read as secrets and reach
 * nodes on stdin. Each node's membership is keyed by its host's name, so when the init manager goes,
 * the first other one by name takes its part (its init finds the swarm it is in and keeps it) and
 * nothing else moves. Another manager tracks every node and removes its entry once the node has left.
 */
export class SwarmCluster extends pulumi.ComponentResource {
    readonly managerAddress: string;
    /** Ready when every node is in the swarm. */
    readonly members: pulumi.Resource[];
    /** Per host name: done once the node is in the swarm with docker_gwbridge as configured. */
    readonly bridgedMemberOf: Record<string, pulumi.Resource>;
    readonly init: pulumi.Resource;

    constructor(name: string, args: SwarmClusterArgs, opts?: pulumi.ComponentResourceOptions) {
        super("swarm-platform:cluster:SwarmCluster", name, {}, opts);
        const managers = args.hosts.filter((h) => h.spec.roles.includes("manager")).sort((a, b) => byHostName(a.spec, b.spec));
        const first = initManager(managers, args.initHost);
        if (!first) throw new pulumi.ResourceError("a swarm needs at least one manager", this);
        const others = managers.filter((m) => m !== first);
        this.managerAddress = first.spec.address;

        const namesChecked = pulumi.all(Object.fromEntries(args.hosts.map((h) => [h.spec.name, h.engineName]))).apply((names) => {
            const clashes = duplicateEngineNames(names);
            if (clashes.length > 0) {
                throw new pulumi.ResourceError(
                    `nodes need distinct hostnames: ${clashes.join("; ")}. Set a distinct hostname on each host (hostnamectl set-hostname) and restart Docker.`,
                    this,
                );
            }
            return true;
        });
        // A node's entry is removed by a manager that stays in the swarm when the node goes: the first
        // manager, or for the init manager itself the first other one.
        const tracker = (host: DockerHost) => (host === first ? others[0] : first);
        const tracked = (host: DockerHost): pulumi.Resource[] => {
            const by = tracker(host);
            if (!by) return [];
            // The membership depends on it, so when the host goes the node leaves first, then its entry goes.
            return [
                by.run(
                    `${name}-node-${host.spec.name}`,
                    { create: host.engineName.apply(renderNodeTracked), delete: host.engineName.apply(renderNodeRemove) },
                    { parent: this },
                ),
            ];
        };
        // Only init waits for every host's name: the joins wait for init, so a node's join depends on its
        // own host and the init manager, and the graph grows linearly with the hosts.
        this.init = first.run(
            `${name}-member-${first.spec.name}`,
            { create: namesChecked.apply(() => renderSwarmInit(first.spec, args.swarm)), delete: renderSwarmLeave() },
            {
                parent: this,
                dependsOn: [args.readyBefore[first.spec.name], ...tracked(first)],
                protect: args.protect,
                aliases: [{ name: `${name}-init` }],
            },
        );
        const token = (role: "manager" | "worker") =>
            // Secret here as well as by additionalSecretOutputs, so no path to a join can see it in the clear.
            pulumi.secret(
                first.run(
                    `${name}-${role}-token`,
                    { create: renderJoinToken(role), secretOutput: true },
                    { parent: this, dependsOn: [this.init] },
                ).stdout,
            );
        const tokens = { manager: token("manager"), worker: token("worker") };

        const joiners = [...others, ...args.hosts.filter((h) => h.spec.roles.includes("worker"))];
        const joins = joiners.map((host) =>
            host.run(
                `${name}-member-${host.spec.name}`,
                {
                    create: renderSwarmJoin(host.spec, first.spec.address),
                    delete: renderSwarmLeave(),
                    stdin: tokens[host.spec.roles.includes("manager") ? "manager" : "worker"].apply((t) => `${t.trim()}\n`),
                },
                {
                    parent: this,
                    dependsOn: [this.init, args.readyBefore[host.spec.name], ...tracked(host)],
                    aliases: [{ name: `${name}-join-${host.spec.name}` }],
                },
            ),
        );
        this.members = [this.init, ...joins];
        const memberOf: Record<string, pulumi.Resource> = Object.fromEntries([
            [first.spec.name, this.init],
            ...joiners.map((h, i) => [h.spec.name, joins[i]]),
        ]);

        // A new docker_gwbridge subnet on a running swarm: one node at a time (by name) leaves, has its
        // bridge rebuilt and joins again through another manager, and a manager that stays removes the
        // entry it left behind. On a first deployment every bridge is already right and nothing waits.
        const bridgeSettings = [args.gwbridge.subnet, args.gwbridge.gateway];
        this.bridgedMemberOf = {};
        let previousNode: pulumi.Resource | undefined;
        for (const host of [...args.hosts].sort((a, b) => byHostName(a.spec, b.spec))) {
            // The manager that tracks the node is also the one it joins again through.
            const by = tracker(host);
            if (!by) {
                this.bridgedMemberOf[host.spec.name] = memberOf[host.spec.name];
                continue;
            }
            const rebuilt = host.run(
                `${name}-gwbridge-${host.spec.name}`,
                {
                    create: renderGwBridgeRebuild(args.gwbridge, host.spec, by.spec.address),
                    stdin: tokens[host.spec.roles.includes("manager") ? "manager" : "worker"].apply((t) => `${t.trim()}\n`),
                    triggers: bridgeSettings,
                },
                { parent: this, dependsOn: [memberOf[host.spec.name], ...(args.initHost !== null && previousNode ? [previousNode] : [])] },
            );
            previousNode = by.run(
                `${name}-rejoined-${host.spec.name}`,
                { create: host.engineName.apply((n) => renderNodeRemove(n, 1)), triggers: bridgeSettings },
                { parent: this, dependsOn: [rebuilt] },
            );
            this.bridgedMemberOf[host.spec.name] = previousNode;
        }
        this.registerOutputs({ managerAddress: this.managerAddress, nodes: args.hosts.map((h) => h.spec.name) });
    }
}
