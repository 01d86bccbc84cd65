/**
 * The typed, validated model of a stack's configuration. `lib/config.ts` builds it from
 * Pulumi stack config; components receive it (or parts of it) and never read config.
 */

export const HOST_ROLES = ["manager", "worker", "consul-server", "consul-client", "edge"] as const;
export type HostRole = (typeof HOST_ROLES)[number];

/** How a host is reached: the local engine (dev) or SSH. */
export type HostConnection =
    | { kind: "local"; dockerHost: string }
    | {
          kind: "ssh";
          user: string;
          port: number;
          /**
           * Key file on the machine running Pulumi, as written in the stack (`~/` kept: ssh expands it, and
           * a home directory in provider inputs would make every other machine show a diff). Without it the
           * secret `sshPrivateKey` is used.
           */
          privateKeyPath?: string;
          /** The host's public key (`TYPE BASE64`), pinned on every SSH connection; unset: trust on first use. */
          hostKey?: string;
      };

export interface HostSpec {
    name: string;
    /** The address the swarm and Consul advertise and bind to. */
    address: string;
    dataPathAddress?: string;
    /** Path of the engine's socket on the host, bind-mounted into the Docker API proxy registrator reads through. */
    dockerSocket: string;
    roles: HostRole[];
    connection: HostConnection;
}

export interface OverlaySpec {
    name: string;
    subnet: string;
    gateway: string;
    attachable: boolean;
    encrypted: boolean;
}

export interface GwBridgeSpec {
    subnet: string;
    gateway: string;
    /** Allow leaving the swarm to rebuild a docker_gwbridge that has another subnet. */
    allowRebuild: boolean;
}

export interface SwarmSpec {
    defaultAddressPool: string;
    defaultAddressPoolMaskLength: number;
    dataPathPort: number;
}

export interface TierSpec {
    name: string;
    subnet: string;
    gateway: string;
}

export type FlowProtocol = "tcp" | "udp";

export interface FlowSpec {
    from: string;
    to: string;
    port: number;
    protocol: FlowProtocol;
}

export interface ImageVersions {
    consul: string;
    registrator: string;
    /** HAProxy, the read-only Docker API proxy in front of registrator. */
    dockerProxy: string;
    backend: string;
    /** Base image of the edge (nginx + consul-template) and keepalived images. */
    edgeBase: string;
    /** Image that carries the consul-template binary at /bin/consul-template. */
    consulTemplate: string;
    /** Debian-based image the firewall keeper's image is built on. */
    firewallKeeperBase: string;
}

/** How many client agents a rolling change replaces at once: a count, or a percentage of the clients. */
export type RolloutBatch = { count: number } | { percent: number };

export interface ConsulSpec {
    datacenter: string;
    /** Client agents replaced at once by a rolling change (servers go one at a time). */
    clientBatch: RolloutBatch;
    /** Addresses the HTTP/DNS API binds to; `{{host}}` stands for the host's address. */
    clientAddress: string;
    httpPort: number;
    dnsPort: number;
}

export interface EdgeServiceSpec {
    /** The Consul service name whose healthy instances become the upstream. */
    service: string;
    /** URL path prefix routed to that service. */
    path: string;
}

export interface EdgeSpec {
    port: number;
    services: EdgeServiceSpec[];
    /** Virtual IP shared by the edge hosts; needs two edge hosts. */
    vip?: string;
    vipInterface: string;
    vipPrefixLength: number;
    virtualRouterId: number;
}

export interface BackendSpec {
    service: string;
    replicas: number;
    containerPort: number;
    healthPath: string;
}

export interface RegistratorSpec {
    /** Register container-internal (overlay) addresses instead of host address + published port. */
    internalAddresses: boolean;
}

export interface PlatformModel {
    stack: string;
    /** Pulumi's `protect` on what holds data or the swarm: the Consul data volumes and the swarm's init. */
    protectData: boolean;
    hosts: HostSpec[];
    overlay: OverlaySpec;
    gwbridge: GwBridgeSpec;
    swarm: SwarmSpec;
    tiers: TierSpec[];
    flows: FlowSpec[];
    images: ImageVersions;
    consul: ConsulSpec;
    registrator: RegistratorSpec;
    edge: EdgeSpec;
    backends: BackendSpec;
}

export const hasRole = (host: HostSpec, role: HostRole): boolean => host.roles.includes(role);
export const managers = (model: Pick<PlatformModel, "hosts">): HostSpec[] => model.hosts.filter((h) => hasRole(h, "manager"));
export const consulServers = (model: Pick<PlatformModel, "hosts">): HostSpec[] => model.hosts.filter((h) => hasRole(h, "consul-server"));
export const edgeHosts = (model: Pick<PlatformModel, "hosts">): HostSpec[] => model.hosts.filter((h) => hasRole(h, "edge"));

/** What the last deployment of the stack ran, read back from its outputs; empty on a first deployment. */
export interface LastDeployment {
    /** Hosts whose Consul agent was in the cluster: one exists, so agents change one host at a time. */
    consulAgents: string[];
    /** Per backend replica name, the host it ran on: replicas stay there while the host remains. */
    backendPlacement: Record<string, string>;
    /** The host the others joined the swarm through: it keeps that part while it stays a manager. */
    swarmInit: string | null;
}

export const FIRST_DEPLOYMENT: LastDeployment = { consulAgents: [], backendPlacement: {}, swarmInit: null };

/** Hosts in name order (code points, as the model lists them): whatever follows "the first by name" uses this one order. */
export const byHostName = <T extends { name: string }>(a: T, b: T): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
