/** Where Consul's APIs are reached, from the model: what agents bind, what the host's own processes dial, where people open the UI. */
import { ConsulSpec, HostSpec } from "./model";

/**
 * An unprivileged agent cannot bind a port below 1024, and containers' `--dns` only knows 53: Consul
 * then listens on 8600 (its own default) and the host redirects DNS to it.
 */
export const CONSUL_DNS_LISTEN_PORT = 8600;
export const dnsListenPort = (dnsPort: number): number => (dnsPort < 1024 ? CONSUL_DNS_LISTEN_PORT : dnsPort);

/** The client addresses for one host: `{{host}}` resolved, duplicates dropped (Consul cannot bind twice). */
export function resolveClientAddress(template: string, hostAddress: string): string {
    return [
        ...new Set(
            template
                .replace(/\{\{host\}\}/g, hostAddress)
                .split(/\s+/)
                .filter(Boolean),
        ),
    ].join(" ");
}

/** The address a process on the host itself uses to reach its local agent's HTTP API. */
export function localAgentAddress(spec: ConsulSpec, hostAddress: string): string {
    const addresses = resolveClientAddress(spec.clientAddress, hostAddress).split(" ");
    const local = addresses.includes("127.0.0.1") || addresses.includes("0.0.0.0") ? "127.0.0.1" : addresses[0];
    return `${local}:${spec.httpPort}`;
}

/**
 * Where a person opens Consul's UI: the server's own address when the API listens there, otherwise
 * this machine's loopback through an SSH tunnel to the server's (a local engine's loopback is this machine's).
 */
export function consulUi(spec: ConsulSpec, server: HostSpec): { url: string; tunnel: string | null } {
    const bound = resolveClientAddress(spec.clientAddress, server.address).split(" ");
    if (bound.includes(server.address) || bound.includes("0.0.0.0"))
        return { url: `http://${server.address}:${spec.httpPort}/ui/`, tunnel: null };
    const url = `http://127.0.0.1:${spec.httpPort}/ui/`;
    const conn = server.connection;
    if (conn.kind === "local") return { url, tunnel: null };
    return { url, tunnel: `ssh -N -L ${spec.httpPort}:127.0.0.1:${spec.httpPort} -p ${conn.port} ${conn.user}@${server.address}` };
}
