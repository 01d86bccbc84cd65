/** Images, Consul and the ports every host's network shares. */
import { parseIpv4 } from "../net";
import { BackendSpec, ConsulSpec, HostSpec, ImageVersions, RolloutBatch } from "../model";
import { Collector, Obj, RawConfig, int, name, port, str, urlPath } from "./fields";
import { isLoopback } from "./hosts";

const DIGEST_PATTERN = /^sha256:[a-f0-9]{64}$/;

export function validateImage(c: Collector, raw: Obj, key: string): string {
    const image = str(c, raw, key);
    const [reference, digest] = image.split("@", 2);
    if (digest !== undefined) {
        if (!DIGEST_PATTERN.test(digest) || image.split("@").length > 2) {
            c.error(
                key,
                `"${image}" has a malformed digest`,
                "write it as name@sha256: followed by 64 lowercase hex digits, as `docker image inspect --format '{{index .RepoDigests 0}}'` prints it",
            );
        }
        return image;
    }
    const tag = reference.split("/").pop()?.split(":")[1];
    if (image && (!tag || tag === "latest")) {
        c.error(key, `"${image}" is not pinned`, "name an exact version tag or digest, never latest");
    }
    return image;
}

/** Ports the platform itself holds on every host's network: Consul's RPC and gossip, the swarm's management and gossip. */
const FIXED_HOST_PORTS: [string, number][] = [
    ["Consul server RPC", 8300],
    ["Consul LAN gossip", 8301],
    ["Consul WAN gossip", 8302],
    ["swarm management", 2377],
    ["swarm gossip", 7946],
];

/** Every listener on the host network gets its own port: the edge, Consul and the swarm share it. */
export function checkHostPorts(c: Collector, configured: [string, number][]): void {
    const taken: [string, number][] = [...FIXED_HOST_PORTS];
    for (const [key, value] of configured) {
        const clash = taken.find(([, p]) => p === value);
        if (clash)
            c.error(
                key,
                `port ${value} is already used on the host network by ${clash[0]}`,
                "pick a port nothing else on the hosts listens on",
            );
        taken.push([key, value]);
    }
}

/**
 * Consul's client addresses, as the agents bind them and as registrator and consul-template dial the local
 * one: literal IPv4 addresses or `{{host}}`. 0.0.0.0 on several hosts opens the HTTP API to the whole LAN.
 */
export function consulClientAddress(c: Collector, raw: RawConfig, hosts: HostSpec[]): string {
    const hostCount = hosts.length;
    const text = str(c, raw, "consulClientAddress");
    const fix = 'list IPv4 addresses or {{host}} (the host\'s own address), separated by spaces, e.g. "127.0.0.1 {{host}}"';
    const items = text.split(/\s+/).filter(Boolean);
    for (const item of items) {
        if (item !== "{{host}}" && parseIpv4(item) === undefined)
            c.error("consulClientAddress", `"${item}" is neither an IPv4 address nor {{host}}`, fix);
        if (item === "0.0.0.0" && hostCount > 1) {
            c.error(
                "consulClientAddress",
                "0.0.0.0 exposes Consul's HTTP API on every address of every host",
                `bind what needs it: ${fix}`,
            );
        }
    }
    if (items.length === 0) c.error("consulClientAddress", "is empty", `${fix}; 127.0.0.1 keeps the API on each host`);
    const exposed = items.filter((item) => (item === "{{host}}" ? hosts.some((h) => !isLoopback(h.address)) : !isLoopback(item)));
    if (exposed.length > 0) {
        c.warn(
            "consulClientAddress",
            `${exposed.join(" ")} opens Consul's HTTP API to the network: whoever reaches it reads the catalog (the default token reads) and can try tokens against the agent`,
            "keep the default 127.0.0.1 and reach the UI through the consulUiTunnel output (ssh -L)",
        );
    }
    return text;
}

/** Every image pinned to a version or digest. */
export function parseImages(c: Collector, raw: RawConfig): ImageVersions {
    return {
        consul: validateImage(c, raw, "consulImage"),
        registrator: validateImage(c, raw, "registratorImage"),
        dockerProxy: validateImage(c, raw, "dockerProxyImage"),
        backend: validateImage(c, raw, "backendImage"),
        edgeBase: validateImage(c, raw, "edgeBaseImage"),
        consulTemplate: validateImage(c, raw, "consulTemplateImage"),
        firewallKeeperBase: validateImage(c, raw, "firewallKeeperBaseImage"),
    };
}

/** A count (`4`) or a percentage of the clients (`"25%"`). */
function rolloutBatch(c: Collector, raw: RawConfig, key: string): RolloutBatch {
    const v = raw[key];
    const percent = typeof v === "string" ? /^(\d{1,3})%$/.exec(v) : null;
    if (percent) {
        if (Number(percent[1]) >= 1 && Number(percent[1]) <= 100) return { percent: Number(percent[1]) };
    } else {
        const n = typeof v === "number" ? v : typeof v === "string" && /^\d+$/.test(v) ? Number(v) : NaN;
        if (Number.isInteger(n) && n >= 1 && n <= 10000) return { count: n };
    }
    c.error(
        key,
        `must be a count of hosts from 1 to 10000 or a percentage from 1% to 100%, got ${JSON.stringify(v)}`,
        `set ${key} to a count such as 4 or a percentage such as "25%"`,
    );
    return { count: 1 };
}

export function parseConsul(c: Collector, raw: RawConfig, hosts: HostSpec[]): ConsulSpec {
    return {
        datacenter: name(c, raw, "consulDatacenter", "consulDatacenter"),
        clientBatch: rolloutBatch(c, raw, "consulClientBatch"),
        clientAddress: consulClientAddress(c, raw, hosts),
        httpPort: port(c, raw, "consulHttpPort"),
        dnsPort: port(c, raw, "consulDnsPort"),
    };
}

export function parseBackends(c: Collector, raw: RawConfig): BackendSpec {
    return {
        service: name(c, raw, "backendService", "backendService"),
        replicas: int(c, raw, "backendReplicas", 0, 100),
        containerPort: port(c, raw, "backendPort"),
        healthPath: urlPath(c, raw, "backendHealthPath", "backendHealthPath"),
    };
}
