/** What a running swarm fixed, recorded as a stack output and compared on the next deployment. */
import { HostSpec, PlatformModel, hasRole, managers } from "../model";
import { Problem, isObj } from "./fields";

/** What the swarm took when it was initialised or joined, and keeps for as long as it runs. */
export interface SwarmFixedSettings {
    swarmAddressPool: string;
    swarmAddressPoolMaskLength: number;
    swarmDataPathPort: number;
    /** docker_gwbridge as every node was set up with it before joining. */
    gwbridgeSubnet: string;
    gwbridgeGateway: string;
    /** Per host name: the addresses and roles the node joined the swarm (and Consul) with. */
    members: Record<string, { address: string; dataPathAddress: string | null; swarmRole: SwarmRole; consulRole: ConsulRole }>;
}

export const swarmFixedSettings = (model: PlatformModel): SwarmFixedSettings => ({
    swarmAddressPool: model.swarm.defaultAddressPool,
    swarmAddressPoolMaskLength: model.swarm.defaultAddressPoolMaskLength,
    swarmDataPathPort: model.swarm.dataPathPort,
    gwbridgeSubnet: model.gwbridge.subnet,
    gwbridgeGateway: model.gwbridge.gateway,
    members: Object.fromEntries(
        model.hosts.map((h) => [
            h.name,
            {
                address: h.address,
                dataPathAddress: h.dataPathAddress ?? null,
                swarmRole: swarmRoleOf(h),
                consulRole: hasRole(h, "consul-server") ? "server" : "client",
            },
        ]),
    ),
});

type SwarmRole = "manager" | "worker";

type ConsulRole = "server" | "client";

const swarmRoleOf = (h: HostSpec): SwarmRole => (hasRole(h, "manager") ? "manager" : "worker");

/**
 * Settings a running swarm cannot take in place, compared with what the last deployment applied
 * (`previous`, the stack's `swarmFixedSettings` output; anything else means no swarm yet). Docker
 * fixes the address pool and data path port at `swarm init` and a node's addresses at its join, so
 * an `up` with new values would report success and change nothing.
 */
export function unchangeableProblems(previous: unknown, model: PlatformModel): Problem[] {
    if (!isObj(previous)) return [];
    const now = swarmFixedSettings(model);
    const problems: Problem[] = [];
    for (const key of ["swarmAddressPool", "swarmAddressPoolMaskLength", "swarmDataPathPort"] as const) {
        const was = previous[key];
        if (was === undefined || was === now[key]) continue;
        problems.push({
            key,
            message: `the running swarm was initialised with ${String(was)}, and swarm mode keeps it for the swarm's life: ${String(now[key])} would change nothing`,
            fix: `set it back to ${String(was)}; a new value needs a new swarm (pulumi destroy with protectData off, then pulumi up)`,
        });
    }
    // Rebuilding docker_gwbridge takes a node out of the swarm while it is rebuilt: done one node at a
    // time only when asked for, and only where another manager is there to join again through.
    const managerCount = managers(model).length;
    for (const key of ["gwbridgeSubnet", "gwbridgeGateway"] as const) {
        const was = previous[key];
        if (was === undefined || was === now[key] || (model.gwbridge.allowRebuild && managerCount > 1)) continue;
        problems.push(
            model.gwbridge.allowRebuild
                ? {
                      key,
                      message: `every node's docker_gwbridge was made with ${String(was)}; rebuilding it takes each node out of the swarm and back in through another manager, and this swarm has only one`,
                      fix: `set it back to ${String(was)}; with one manager a new value needs a new swarm (pulumi destroy with protectData off, then pulumi up)`,
                  }
                : {
                      key,
                      message: `every node's docker_gwbridge was made with ${String(was)}; ${String(now[key])} means rebuilding it, which takes each node out of the swarm for a moment`,
                      fix: `set gwbridgeAllowRebuild=true to rebuild it one node at a time (each node leaves the swarm and joins again), or set it back to ${String(was)}`,
                  },
        );
    }
    const members = isObj(previous.members) ? previous.members : {};
    for (const [name, joined] of Object.entries(members)) {
        const current = now.members[name];
        if (!current || !isObj(joined)) continue;
        for (const field of ["address", "dataPathAddress"] as const) {
            const was = joined[field] ?? null;
            if (was === current[field]) continue;
            problems.push({
                key: `hosts[name=${name}].${field}`,
                message: `${name} joined the swarm and Consul with ${field} ${String(was ?? "unset")}, which a member keeps: ${String(current[field] ?? "unset")} would not reach them`,
                fix: `set it back to ${String(was ?? "unset")}; to move the host, take it out of hosts (pulumi up), then add it back with the new address`,
            });
        }
        // A joined node keeps its swarm role and a Consul server its Raft data: the scripts that would
        // change them run only when a node joins, so a new role would change nothing on the host.
        for (const [field, cluster] of [
            ["swarmRole", "the swarm"],
            ["consulRole", "Consul"],
        ] as const) {
            const was = joined[field];
            if (was === undefined || was === current[field]) continue;
            problems.push({
                key: `hosts[name=${name}].roles`,
                message: `${name} joined ${cluster} as a ${String(was)} and stays one while it is a member: the roles that make it a ${current[field]} would change nothing on it`,
                fix: `put the roles back; to change them, take the host out of hosts (pulumi up), then add it back with its new roles`,
            });
        }
    }
    return problems;
}
