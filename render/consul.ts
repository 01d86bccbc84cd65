import { posixScript } from "./shell";

/**
 * Consul agent configuration for the Consul the stack defaults to (1.20, also what the live rig runs),
 * without deprecated keys: Consul rejects unknown keys and logs a warning for each deprecated one.
 */

export interface ConsulAgentSettings {
    nodeName: string;
    /** A UUID; pinned so a re-created container keeps its identity in the catalog. */
    nodeId: string;
    /** Used both to bind and to advertise. */
    address: string;
    server: boolean;
    /** Only rendered for servers. */
    bootstrapExpect: number;
    retryJoin: string[];
    datacenter: string;
    /** Space-separated addresses (go-sockaddr templates allowed) for the HTTP and DNS APIs. */
    clientAddress: string;
    httpPort: number;
    dnsPort: number;
    /**
     * The one address the DNS interface binds: docker_gwbridge's gateway, the same on every node and
     * reachable from the host's containers and the host itself, but not from the LAN.
     */
    dnsAddress: string;
    /** Where names outside .consul go: the host's own nameservers. */
    recursors: string[];
    /** Base64 gossip encryption key. */
    encryptKey: string;
}

export const CONSUL_CONFIG_DIR = "/consul/config";
export const CONSUL_DATA_DIR = "/consul/data";

export function renderConsulAgentConfig(s: ConsulAgentSettings): string {
    if (s.server && !(Number.isInteger(s.bootstrapExpect) && s.bootstrapExpect >= 1)) {
        throw new Error(`consul server ${s.nodeName}: bootstrapExpect must be a positive integer, got ${s.bootstrapExpect}`);
    }
    const config = {
        data_dir: CONSUL_DATA_DIR,
        node_name: s.nodeName,
        node_id: s.nodeId,
        datacenter: s.datacenter,
        bind_addr: s.address,
        advertise_addr: s.address,
        client_addr: s.clientAddress,
        server: s.server,
        ...(s.server ? { bootstrap_expect: s.bootstrapExpect } : {}),
        retry_join: s.retryJoin,
        ui_config: { enabled: true },
        addresses: { dns: s.dnsAddress },
        ports: { http: s.httpPort, dns: s.dnsPort },
        recursors: s.recursors,
        // Answers only what passes its checks, as the edge does; Consul's default also returns "warning".
        dns_config: { only_passing: true },
        encrypt: s.encryptKey,
        // A server that leaves on stop shrinks the Raft peer set, so restarting one costs quorum
        // headroom; a client leaving on stop deregisters its node cleanly instead of lingering as failed.
        leave_on_terminate: !s.server,
        skip_leave_on_interrupt: s.server,
        disable_update_check: true,
        log_level: "INFO",
    };
    return `${JSON.stringify(config, null, 2)}\n`;
}

/** The container command that follows the /bin/consul entrypoint. */
export function consulAgentArgs(): string[] {
    return ["agent", `-config-dir=${CONSUL_CONFIG_DIR}`];
}

/** Consul's gossip encryption key from 32 secret characters: their 32 bytes, base64-encoded (AES-256). */
export const gossipKeyOf = (secret32: string): string => Buffer.from(secret32, "utf8").toString("base64");

/** The host's nameservers, one per line, as /etc/resolv.conf lists them. */
export const renderNameservers = (): string => posixScript(`awk '$1 == "nameserver" { print $2 }' /etc/resolv.conf`);

/** The address lines of renderNameservers' output (IPv4 or IPv6); anything else is dropped. */
export const parseNameservers = (stdout: string): string[] => stdout.split("\n").map((l) => l.trim()).filter((l) => /^[0-9a-fA-F.:]+$/.test(l));
