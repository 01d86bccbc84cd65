import * as os from "os";
import * as path from "path";
import { dnsListenPort } from "./consul";
import { Cidr, cidrContains, cidrsOverlap, formatIpv4, isPrivateCidr, parseCidr, parseIpv4 } from "./net";
import {
    FlowProtocol,
    FlowSpec,
    HOST_ROLES,
    HostConnection,
    HostRole,
    HostSpec,
    PlatformModel,
    TierSpec,
    edgeHosts,
    managers,
    consulServers,
    byHostName,
    hasRole,
} from "./model";

/** One thing wrong with the config: which key, what is wrong, and how to fix it. */
export interface Problem {
    key: string;
    message: string;
    fix: string;
}

export const formatProblem = (p: Problem): string => `${p.key}: ${p.message}. Fix: ${p.fix}.`;

export interface ValidationResult {
    model?: PlatformModel;
    errors: Problem[];
    warnings: Problem[];
}

/** Config values as Pulumi hands them over: defaults from Pulumi.yaml merged with the stack's own. */
export type RawConfig = Record<string, unknown>;

const NAME_PATTERN = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
// Values that land in nginx, keepalived, Consul or a shell on a host take no characters those could read as syntax.
const URL_PATH_PATTERN = /^\/(?:[A-Za-z0-9._~-]+\/?)*$/;
const INTERFACE_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$/;
const SSH_USER_PATTERN = /^[a-z_][a-z0-9_.-]{0,31}$/;
const SOCKET_PATH_PATTERN = /^\/[A-Za-z0-9._/-]+$/;
const DOCKER_HOST_PATTERN = /^(unix:\/\/\/[A-Za-z0-9._/-]+|(tcp|ssh):\/\/[A-Za-z0-9@._:-]+)$/;
const HOST_KEY_PATTERN = /^(ssh-ed25519|ecdsa-sha2-nistp(?:256|384|521)|rsa-sha2-(?:256|512)|ssh-rsa) ([A-Za-z0-9+/]+={0,2})(?: \S+)?$/;
const DIGEST_PATTERN = /^sha256:[a-f0-9]{64}$/;
const DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock";
const LOOPBACK = parseCidr("127.0.0.0/8") as Cidr;

class Collector {
    readonly errors: Problem[] = [];
    readonly warnings: Problem[] = [];
    error(key: string, message: string, fix: string): void {
        this.errors.push({ key, message, fix });
    }
    warn(key: string, message: string, fix: string): void {
        this.warnings.push({ key, message, fix });
    }
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

function str(c: Collector, raw: Obj, key: string, label = key): string {
    const v = raw[key];
    if (typeof v === "string" && v.length > 0) return v;
    c.error(
        label,
        v === undefined ? "is missing" : `must be a non-empty string, got ${JSON.stringify(v)}`,
        `set ${label} to a string value`,
    );
    return "";
}

function optStr(c: Collector, raw: Obj, key: string, label = key): string | undefined {
    const v = raw[key];
    if (v === undefined || v === null || v === "") return undefined;
    if (typeof v === "string") return v;
    c.error(label, `must be a string, got ${JSON.stringify(v)}`, `set ${label} to a string value or remove it`);
    return undefined;
}

function int(c: Collector, raw: Obj, key: string, min: number, max: number, label = key): number {
    const v = typeof raw[key] === "string" && /^\d+$/.test(raw[key] as string) ? Number(raw[key]) : raw[key];
    if (typeof v === "number" && Number.isInteger(v) && v >= min && v <= max) return v;
    c.error(
        label,
        `must be an integer from ${min} to ${max}, got ${JSON.stringify(raw[key])}`,
        `set ${label} to a value in ${min}..${max}`,
    );
    return min;
}

const port = (c: Collector, raw: Obj, key: string, label = key): number => int(c, raw, key, 1, 65535, label);

function bool(c: Collector, raw: Obj, key: string): boolean {
    const v = raw[key];
    if (typeof v === "boolean") return v;
    if (v === "true" || v === "false") return v === "true";
    c.error(key, `must be true or false, got ${JSON.stringify(v)}`, `set ${key} to true or false`);
    return false;
}

function list(c: Collector, raw: Obj, key: string): Obj[] {
    const v = raw[key] ?? [];
    if (!Array.isArray(v)) {
        c.error(key, "must be a list", `write ${key} as a YAML list of objects`);
        return [];
    }
    return v.map((item, i) => {
        if (isObj(item)) return item;
        c.error(`${key}[${i}]`, "must be an object", `write ${key}[${i}] as a mapping`);
        return {};
    });
}

function name(c: Collector, raw: Obj, key: string, label: string): string {
    const v = str(c, raw, key, label);
    if (v && !NAME_PATTERN.test(v)) {
        c.error(
            label,
            `"${v}" is not a valid name`,
            "use lowercase letters, digits and dashes, starting and ending with a letter or digit",
        );
    }
    return v;
}

function urlPath(c: Collector, raw: Obj, key: string, label: string): string {
    const v = str(c, raw, key, label);
    if (v && !URL_PATH_PATTERN.test(v)) {
        c.error(label, `"${v}" is not a plain URL path`, "write it as /segment/segment/ with letters, digits and . _ ~ - only");
    }
    return v;
}

/** A labelled subnet, collected so every pair can be checked for overlap. */
interface NamedRange {
    key: string;
    cidr: Cidr;
}

function subnetWithGateway(c: Collector, subnetKey: string, subnet: string, gatewayKey: string, gateway: string): Cidr | undefined {
    const cidr = parseCidr(subnet);
    if (!cidr) {
        c.error(subnetKey, `"${subnet}" is not a valid IPv4 CIDR`, "write it as a.b.c.d/n with no host bits set, e.g. 10.10.0.0/16");
        return undefined;
    }
    if (!isPrivateCidr(cidr)) {
        c.warn(
            subnetKey,
            `${subnet} is not in private address space, so it shadows public addresses`,
            "pick a subnet inside 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16",
        );
    }
    const gw = parseIpv4(gateway);
    if (gw === undefined) {
        c.error(gatewayKey, `"${gateway}" is not a valid IPv4 address`, `set ${gatewayKey} to an address inside ${subnet}`);
    } else if (!cidrContains(cidr, gw)) {
        c.error(gatewayKey, `${gateway} is outside ${subnet}`, `set ${gatewayKey} to an address inside ${subnet}`);
    } else if (cidr.prefix < 31 && (gw === cidr.network || gw === cidr.broadcast)) {
        c.error(
            gatewayKey,
            `${gateway} is the ${gw === cidr.network ? "network" : "broadcast"} address of ${subnet}`,
            `use a usable address such as ${formatIpv4(cidr.network + 1)}`,
        );
    }
    return cidr;
}

function validateImage(c: Collector, raw: Obj, key: string): string {
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

function parseHost(c: Collector, raw: Obj, i: number, sharedKey: boolean): HostSpec {
    const key = `hosts[${i}]`;
    const hostName = name(c, raw, "name", `${key}.name`);
    const address = str(c, raw, "address", `${key}.address`);
    if (address && parseIpv4(address) === undefined) {
        c.error(
            `${key}.address`,
            `"${address}" is not an IPv4 address`,
            "set the address the swarm and Consul advertise, e.g. 192.168.1.11",
        );
    }
    const dataPathAddress = optStr(c, raw, "dataPathAddress", `${key}.dataPathAddress`);
    if (dataPathAddress && parseIpv4(dataPathAddress) === undefined) {
        c.error(
            `${key}.dataPathAddress`,
            `"${dataPathAddress}" is not an IPv4 address`,
            "set an IPv4 address of this host or remove the key",
        );
    }
    const rolesRaw = raw.roles;
    const roles: HostRole[] = [];
    if (!Array.isArray(rolesRaw) || rolesRaw.length === 0) {
        c.error(`${key}.roles`, "must be a non-empty list", `list roles among ${HOST_ROLES.join(", ")}`);
    } else {
        rolesRaw.forEach((role, j) => {
            if ((HOST_ROLES as readonly unknown[]).includes(role)) roles.push(role as HostRole);
            else c.error(`${key}.roles[${j}]`, `unknown role ${JSON.stringify(role)}`, `use one of ${HOST_ROLES.join(", ")}`);
        });
        if (roles.includes("manager") && roles.includes("worker")) {
            c.error(`${key}.roles`, "has both manager and worker", "give the host one swarm role");
        }
        if (roles.includes("consul-server") && roles.includes("consul-client")) {
            c.error(`${key}.roles`, "has both consul-server and consul-client", "give the host one Consul role");
        }
    }
    let connection: HostConnection;
    if (raw.local === true) {
        const dockerHost = optStr(c, raw, "dockerHost", `${key}.dockerHost`) ?? DEFAULT_DOCKER_HOST;
        if (!DOCKER_HOST_PATTERN.test(dockerHost)) {
            c.error(
                `${key}.dockerHost`,
                `"${dockerHost}" is not a Docker endpoint`,
                "write it as unix:///path/to/docker.sock, tcp://host:port or ssh://user@host",
            );
        }
        connection = { kind: "local", dockerHost };
    } else {
        const ssh = isObj(raw.ssh) ? raw.ssh : {};
        const keyPathText = optStr(c, ssh, "privateKeyPath", `${key}.ssh.privateKeyPath`);
        if (keyPathText !== undefined && !path.isAbsolute(localPath(keyPathText))) {
            c.error(
                `${key}.ssh.privateKeyPath`,
                `"${keyPathText}" is not an absolute path`,
                "give the key file's absolute path, or one starting with ~/",
            );
        }
        const hostKeyText = optStr(c, ssh, "hostKey", `${key}.ssh.hostKey`);
        const hostKey = hostKeyText === undefined ? undefined : parseHostKey(hostKeyText.trim());
        if (hostKeyText !== undefined && !hostKey) {
            c.error(
                `${key}.ssh.hostKey`,
                `"${hostKeyText.slice(0, 40)}${hostKeyText.length > 40 ? "..." : ""}" is not an SSH public host key`,
                `paste one line of \`ssh-keyscan -t ed25519 ${address}\` without the leading address (e.g. "ssh-ed25519 AAAAC3Nz..."), checked against the host's /etc/ssh/ssh_host_ed25519_key.pub`,
            );
        }
        if (keyPathText === undefined && !sharedKey) {
            c.error(
                `${key}.ssh`,
                "this remote host has no SSH identity",
                `set ${key}.ssh.privateKeyPath, or the secret sshPrivateKey (pulumi config set --secret sshPrivateKey < key)`,
            );
        }
        const user = optStr(c, ssh, "user", `${key}.ssh.user`) ?? "root";
        if (!SSH_USER_PATTERN.test(user)) {
            c.error(
                `${key}.ssh.user`,
                `"${user}" is not a valid user name`,
                "use the login name: lowercase letters, digits, _ . - and no spaces",
            );
        }
        if (isLoopback(address)) {
            c.error(
                `${key}.address`,
                `${address} is a loopback address, which no other host and no SSH connection from elsewhere can reach`,
                "set the host's LAN address; only a `local: true` host of a single-host stack may use 127.0.0.1",
            );
        }
        connection = {
            kind: "ssh",
            user,
            port: ssh.port === undefined ? 22 : port(c, ssh, "port", `${key}.ssh.port`),
            privateKeyPath: keyPathText,
            hostKey,
        };
    }
    const dockerSocket = optStr(c, raw, "dockerSocket", `${key}.dockerSocket`) ?? "/var/run/docker.sock";
    if (!SOCKET_PATH_PATTERN.test(dockerSocket))
        c.error(
            `${key}.dockerSocket`,
            `"${dockerSocket}" is not an absolute path`,
            "give the socket's absolute path on the host, e.g. /var/run/docker.sock",
        );
    return { name: hostName, address, dataPathAddress, dockerSocket, roles, connection };
}

/** A key path as the stack writes it, made a path on this machine: ssh expands `~/` itself, Node's fs does not. */
export const localPath = (keyPath: string): string => keyPath.replace(/^~(?=$|\/)/, os.homedir());

/**
 * `TYPE BASE64 [comment]` as in a .pub file or ssh-keyscan's output, normalised to `TYPE BASE64`; undefined
 * unless the base64 decodes to an SSH key blob of that same type (its first field names the type).
 */
export function parseHostKey(text: string): string | undefined {
    const m = HOST_KEY_PATTERN.exec(text);
    if (!m) return undefined;
    const blob = Buffer.from(m[2], "base64");
    if (blob.length < 4) return undefined;
    const typeLength = blob.readUInt32BE(0);
    const blobType = blob.subarray(4, 4 + typeLength).toString("latin1");
    const keyType = m[1].startsWith("rsa-sha2-") ? "ssh-rsa" : m[1];
    return blobType === keyType && blob.length > 4 + typeLength ? `${keyType} ${m[2]}` : undefined;
}

function isLoopback(address: string): boolean {
    const value = parseIpv4(address);
    return value !== undefined && cidrContains(LOOPBACK, value);
}

function checkDistinct(c: Collector, values: string[], what: string, keyOf: (i: number) => string, owner = "host"): void {
    const seen = new Map<string, number>();
    values.forEach((v, i) => {
        if (!v) return;
        const first = seen.get(v);
        if (first === undefined) seen.set(v, i);
        else c.error(keyOf(i), `${what} "${v}" is already used by ${keyOf(first)}`, `give every ${owner} its own ${what}`);
    });
}

function validateRoles(c: Collector, hosts: HostSpec[], vip: string | undefined): void {
    const managerCount = managers({ hosts }).length;
    if (managerCount === 0) c.error("hosts", "no host has the manager role", "give at least one host the manager role");
    else if (managerCount === 2) {
        c.error(
            "hosts",
            "2 managers: Raft needs both for a quorum, so losing either stops the swarm, which is less available than 1",
            "use 1 or 3 managers",
        );
    } else if (managerCount % 2 === 0) {
        c.warn(
            "hosts",
            `${managerCount} managers tolerate no more failures than ${managerCount - 1}; Raft quorum wants an odd count`,
            "use 1, 3 or 5 managers",
        );
    }
    const servers = consulServers({ hosts }).length;
    if (servers === 0) c.error("hosts", "no host has the consul-server role", "give one or three hosts the consul-server role");
    else if (servers === 2)
        c.error(
            "hosts",
            "2 Consul servers: Raft needs both for a quorum, so losing either stops Consul, which is less available than 1",
            "use 1 or 3 consul-server hosts",
        );
    else if (servers % 2 === 0)
        c.warn("hosts", `${servers} Consul servers: Raft quorum wants an odd count`, "use 1, 3 or 5 consul-server hosts");
    const edges = edgeHosts({ hosts }).length;
    if (edges === 0) c.error("hosts", "no host has the edge role", "give one host (two with edgeVip) the edge role");
    if (vip && edges !== 2)
        c.error("edgeVip", `a VIP needs exactly two edge hosts, found ${edges}`, "give two hosts the edge role, or unset edgeVip");
}

function parseTiers(c: Collector, raw: RawConfig, ranges: NamedRange[]): TierSpec[] {
    return list(c, raw, "tiers").map((t, i) => {
        const key = `tiers[${i}]`;
        const tier = {
            name: name(c, t, "name", `${key}.name`),
            subnet: str(c, t, "subnet", `${key}.subnet`),
            gateway: str(c, t, "gateway", `${key}.gateway`),
        };
        if (tier.name.length > 12)
            c.error(
                `${key}.name`,
                `"${tier.name}" is longer than 12 characters`,
                "shorten it: the bridge is named br-<tier> and Linux allows 15 characters",
            );
        const cidr =
            tier.subnet && tier.gateway ? subnetWithGateway(c, `${key}.subnet`, tier.subnet, `${key}.gateway`, tier.gateway) : undefined;
        if (cidr) ranges.push({ key: `${key}.subnet`, cidr });
        return tier;
    });
}

function parseFlows(c: Collector, raw: RawConfig, tiers: TierSpec[]): FlowSpec[] {
    const tierNames = new Set(tiers.map((t) => t.name));
    return list(c, raw, "flows").map((f, i) => {
        const key = `flows[${i}]`;
        const flow: FlowSpec = {
            from: str(c, f, "from", `${key}.from`),
            to: str(c, f, "to", `${key}.to`),
            port: port(c, f, "port", `${key}.port`),
            protocol: (f.protocol ?? "tcp") as FlowProtocol,
        };
        for (const end of ["from", "to"] as const) {
            if (flow[end] && !tierNames.has(flow[end])) {
                c.error(
                    `${key}.${end}`,
                    `names tier "${flow[end]}", which is not defined`,
                    `define it under tiers or use one of ${[...tierNames].join(", ") || "(no tiers defined)"}`,
                );
            }
        }
        if (flow.from && flow.from === flow.to)
            c.error(key, "goes from a tier to itself", "containers on one bridge already reach each other; remove the flow");
        if (flow.protocol !== "tcp" && flow.protocol !== "udp")
            c.error(`${key}.protocol`, `unknown protocol ${JSON.stringify(f.protocol)}`, "use tcp or udp");
        return flow;
    });
}

function checkOverlaps(c: Collector, ranges: NamedRange[], hosts: HostSpec[]): void {
    for (let i = 0; i < ranges.length; i++) {
        for (let j = i + 1; j < ranges.length; j++) {
            if (cidrsOverlap(ranges[i].cidr, ranges[j].cidr)) {
                c.error(
                    ranges[j].key,
                    `${ranges[j].cidr.text} overlaps ${ranges[i].key} (${ranges[i].cidr.text})`,
                    "pick subnets that do not overlap",
                );
            }
        }
    }
    hosts.forEach((h, i) => {
        const address = parseIpv4(h.address);
        if (address === undefined) return;
        for (const r of ranges) {
            if (cidrContains(r.cidr, address)) {
                c.error(
                    r.key,
                    `${r.cidr.text} contains hosts[${i}].address ${h.address}`,
                    "pick a subnet that does not contain the hosts' own addresses",
                );
            }
        }
    });
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
function checkHostPorts(c: Collector, configured: [string, number][]): void {
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
function consulClientAddress(c: Collector, raw: RawConfig, hosts: HostSpec[]): string {
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

/**
 * Turns raw stack config into the typed model, or into the full list of problems: every problem is
 * reported at once so a person fixes the config in one pass, before any host is touched.
 */
export function validateConfig(raw: RawConfig, stack: string): ValidationResult {
    const c = new Collector();
    const sharedKey = typeof raw.sshPrivateKey === "string" && raw.sshPrivateKey.length > 0;
    const hostList = list(c, raw, "hosts");
    if (hostList.length === 0) c.error("hosts", "no hosts are configured", "list at least one host (see Pulumi.dev.yaml)");
    const hosts = hostList.map((h, i) => parseHost(c, h, i, sharedKey));
    checkDistinct(
        c,
        hosts.map((h) => h.name),
        "name",
        (i) => `hosts[${i}].name`,
    );
    checkDistinct(
        c,
        hosts.map((h) => h.address),
        "address",
        (i) => `hosts[${i}].address`,
    );

    const ranges: NamedRange[] = [];
    const addRange = (key: string, cidr: Cidr | undefined) => cidr && ranges.push({ key, cidr });

    const overlay = {
        name: name(c, raw, "overlayName", "overlayName"),
        subnet: str(c, raw, "overlaySubnet"),
        gateway: str(c, raw, "overlayGateway"),
        attachable: bool(c, raw, "overlayAttachable"),
        encrypted: bool(c, raw, "overlayEncrypted"),
    };
    addRange("overlaySubnet", subnetWithGateway(c, "overlaySubnet", overlay.subnet, "overlayGateway", overlay.gateway));

    const gwbridge = {
        subnet: str(c, raw, "gwbridgeSubnet"),
        gateway: str(c, raw, "gwbridgeGateway"),
        allowRebuild: bool(c, raw, "gwbridgeAllowRebuild"),
    };
    addRange("gwbridgeSubnet", subnetWithGateway(c, "gwbridgeSubnet", gwbridge.subnet, "gwbridgeGateway", gwbridge.gateway));

    const swarm = {
        defaultAddressPool: str(c, raw, "swarmAddressPool"),
        defaultAddressPoolMaskLength: int(c, raw, "swarmAddressPoolMaskLength", 8, 29),
        dataPathPort: int(c, raw, "swarmDataPathPort", 1024, 49151),
    };
    const pool = parseCidr(swarm.defaultAddressPool);
    if (!pool)
        c.error("swarmAddressPool", `"${swarm.defaultAddressPool}" is not a valid IPv4 CIDR`, "write it as a.b.c.d/n, e.g. 10.20.0.0/16");
    else if (pool.prefix > swarm.defaultAddressPoolMaskLength) {
        c.error(
            "swarmAddressPoolMaskLength",
            `/${swarm.defaultAddressPoolMaskLength} is wider than the pool ${pool.text}`,
            `use a mask length of at least ${pool.prefix}`,
        );
    }
    addRange("swarmAddressPool", pool);

    const tiers = parseTiers(c, raw, ranges);
    checkDistinct(
        c,
        tiers.map((t) => t.name),
        "name",
        (i) => `tiers[${i}].name`,
        "tier",
    );
    const flows = parseFlows(c, raw, tiers);
    checkOverlaps(c, ranges, hosts);

    const images = {
        consul: validateImage(c, raw, "consulImage"),
        registrator: validateImage(c, raw, "registratorImage"),
        dockerProxy: validateImage(c, raw, "dockerProxyImage"),
        backend: validateImage(c, raw, "backendImage"),
        edgeBase: validateImage(c, raw, "edgeBaseImage"),
        consulTemplate: validateImage(c, raw, "consulTemplateImage"),
        firewallKeeperBase: validateImage(c, raw, "firewallKeeperBaseImage"),
    };
    const consul = {
        datacenter: name(c, raw, "consulDatacenter", "consulDatacenter"),
        clientAddress: consulClientAddress(c, raw, hosts),
        httpPort: port(c, raw, "consulHttpPort"),
        dnsPort: port(c, raw, "consulDnsPort"),
    };
    const vip = optStr(c, raw, "edgeVip");
    const vipAddress = vip === undefined ? undefined : parseIpv4(vip);
    if (vip && vipAddress === undefined)
        c.error("edgeVip", `"${vip}" is not an IPv4 address`, "set a free address on the edge hosts' LAN, or leave it empty");
    if (vip && hosts.some((h) => h.address === vip))
        c.error("edgeVip", `${vip} is a host's own address`, "pick a free address for the VIP");
    for (const r of vipAddress === undefined ? [] : ranges.filter((r) => cidrContains(r.cidr, vipAddress))) {
        c.error(
            "edgeVip",
            `${vip} lies inside ${r.key} (${r.cidr.text}), where Docker hands out container addresses`,
            "pick a free address on the edge hosts' LAN",
        );
    }
    const edge = {
        port: port(c, raw, "edgePort"),
        services: list(c, raw, "edgeServices").map((s, i) => ({
            service: name(c, s, "service", `edgeServices[${i}].service`),
            path: urlPath(c, s, "path", `edgeServices[${i}].path`),
        })),
        vip,
        vipInterface: str(c, raw, "edgeVipInterface"),
        vipPrefixLength: int(c, raw, "edgeVipPrefixLength", 1, 32),
        virtualRouterId: int(c, raw, "edgeVirtualRouterId", 1, 255),
    };
    if (edge.vipInterface && !INTERFACE_PATTERN.test(edge.vipInterface)) {
        c.error(
            "edgeVipInterface",
            `"${edge.vipInterface}" is not a network interface name`,
            "give the interface the VIP lives on as `ip -br link` lists it, e.g. eth0 (at most 15 characters)",
        );
    }
    checkDistinct(
        c,
        edge.services.map((s) => s.path),
        "path",
        (i) => `edgeServices[${i}].path`,
        "edge service",
    );
    if (edge.services.length === 0) c.error("edgeServices", "is empty", "route at least one service, e.g. [{service: web, path: /}]");
    const backends = {
        service: name(c, raw, "backendService", "backendService"),
        replicas: int(c, raw, "backendReplicas", 0, 100),
        containerPort: port(c, raw, "backendPort"),
        healthPath: urlPath(c, raw, "backendHealthPath", "backendHealthPath"),
    };
    validateRoles(c, hosts, vip);
    checkHostPorts(c, [
        // Below 1024 the unprivileged agent listens on 8600 and the host redirects: that port is taken too.
        ...(dnsListenPort(consul.dnsPort) !== consul.dnsPort
            ? [["Consul's DNS listener (consulDnsPort is below 1024)", dnsListenPort(consul.dnsPort)] as [string, number]]
            : []),
        ["edgePort", edge.port],
        ["consulHttpPort", consul.httpPort],
        ["consulDnsPort", consul.dnsPort],
        ["swarmDataPathPort", swarm.dataPathPort],
    ]);
    if (hosts.length > 1) {
        hosts.forEach((h, i) => {
            if (h.connection.kind === "local" && isLoopback(h.address)) {
                c.error(
                    `hosts[${i}].address`,
                    `${h.address} is a loopback address in a stack of ${hosts.length} hosts, which the others cannot reach`,
                    "set the host's LAN address",
                );
            }
        });
    }

    const registrator = { internalAddresses: bool(c, raw, "registratorInternalAddresses") };
    const protectData = bool(c, raw, "protectData");
    // Ordered by name, not by their place in the list: which manager initialises the swarm, which edge is
    // MASTER and where backends go then follow the hosts themselves, so reordering the list changes nothing.
    const byName = [...hosts].sort(byHostName);
    const model: PlatformModel = {
        stack,
        protectData,
        hosts: byName,
        overlay,
        gwbridge,
        swarm,
        tiers,
        flows,
        images,
        consul,
        registrator,
        edge,
        backends,
    };
    return c.errors.length === 0 ? { model, errors: [], warnings: c.warnings } : { errors: c.errors, warnings: c.warnings };
}

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
