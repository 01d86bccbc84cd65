/**
 * Which host plays which part and in what order changes reach them: pure functions of the hosts
 * (by name, never by list position), so reordering the stack's host list changes nothing.
 */
import { HostSpec, RolloutBatch, byHostName, hasRole } from "./model";

type WithSpec = { spec: HostSpec };

/** The manager that holds init: the one that held it, while it is a manager; otherwise the first by name. */
export function initManager<T extends WithSpec>(managers: T[], initHost: string | null): T | undefined {
    return managers.find((m) => m.spec.name === initHost) ?? [...managers].sort((a, b) => byHostName(a.spec, b.spec))[0];
}

/** Every clash of engine names, as a sentence each: swarm and Consul confuse nodes that share one (seed 002). */
export function duplicateEngineNames(names: Record<string, string>): string[] {
    const byName = new Map<string, string[]>();
    for (const [host, engine] of Object.entries(names)) byName.set(engine, [...(byName.get(engine) ?? []), host]);
    return [...byName.entries()]
        .filter(([, hosts]) => hosts.length > 1)
        .map(([engine, hosts]) => `${hosts.join(", ")} are all named "${engine}"`);
}

/** The batch size for `clients` client agents: at least one, at most all of them. */
export function batchSize(batch: RolloutBatch, clients: number): number {
    const size = "count" in batch ? batch.count : Math.ceil((batch.percent / 100) * clients);
    return Math.max(1, Math.min(size, clients));
}

/**
 * The waves a rolling change of Consul agents takes: servers one at a time, by name (each holds part of
 * Raft's quorum), then clients by name in batches (a client holds no quorum, so several may restart
 * at once). Each wave starts once the one before is back in the cluster.
 */
export function consulRolloutWaves<T extends WithSpec>(hosts: T[], batch: RolloutBatch): T[][] {
    const byName = (a: T, b: T) => byHostName(a.spec, b.spec);
    const server = (h: T) => hasRole(h.spec, "consul-server");
    const clients = hosts.filter((h) => !server(h)).sort(byName);
    const size = batchSize(batch, clients.length);
    return [
        ...hosts
            .filter(server)
            .sort(byName)
            .map((h) => [h]),
        ...Array.from({ length: Math.ceil(clients.length / size) }, (_, i) => clients.slice(i * size, (i + 1) * size)),
    ];
}

/**
 * Per replica name (`<service>-<k>`), its host: where the last deployment ran it while that host
 * remains, so adding or removing a host or scaling moves no other replica; a new replica, or one whose
 * host went, goes to the host with the fewest, the first by name on a tie. On a first deployment that
 * is round-robin over the hosts in name order.
 */
export function placeReplicas(
    service: string,
    replicas: number,
    hostNames: string[],
    previous: Record<string, string>,
): Record<string, string> {
    const load = new Map([...hostNames].sort().map((h) => [h, 0]));
    const names = Array.from({ length: replicas }, (_, i) => `${service}-${i + 1}`);
    const placement: Record<string, string> = {};
    const place = (replica: string, host: string) => {
        placement[replica] = host;
        load.set(host, (load.get(host) ?? 0) + 1);
    };
    for (const replica of names) if (load.has(previous[replica])) place(replica, previous[replica]);
    for (const replica of names.filter((r) => !(r in placement))) {
        place(replica, [...load.entries()].reduce((least, entry) => (entry[1] < least[1] ? entry : least))[0]);
    }
    return Object.fromEntries(names.map((r) => [r, placement[r]]));
}
