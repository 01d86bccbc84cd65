/** The hosts: how each is reached, its roles, and whether the set of roles makes a working cluster. */
import * as os from "os";
import * as path from "path";
import { Cidr, cidrContains, parseCidr, parseIpv4 } from "../net";
import { HOST_ROLES, HostConnection, HostRole, HostSpec, consulServers, edgeHosts, managers } from "../model";
import { Collector, Obj, RawConfig, checkDistinct, isObj, list, name, optStr, port, str } from "./fields";

const SSH_USER_PATTERN = /^[a-z_][a-z0-9_.-]{0,31}$/;

const SOCKET_PATH_PATTERN = /^\/[A-Za-z0-9._/-]+$/;

const DOCKER_HOST_PATTERN = /^(unix:\/\/\/[A-Za-z0-9._/-]+|(tcp|ssh):\/\/[A-Za-z0-9@._:-]+)$/;

const HOST_KEY_PATTERN = /^(ssh-ed25519|ecdsa-sha2-nistp(?:256|384|521)|rsa-sha2-(?:256|512)|ssh-rsa) ([A-Za-z0-9+/]+={0,2})(?: \S+)?$/;

const DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock";

const LOOPBACK = parseCidr("127.0.0.0/8") as Cidr;

export function parseHost(c: Collector, raw: Obj, i: number, sharedKey: boolean): HostSpec {
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

export function isLoopback(address: string): boolean {
    const value = parseIpv4(address);
    return value !== undefined && cidrContains(LOOPBACK, value);
}

export function validateRoles(c: Collector, hosts: HostSpec[], vip: string | undefined): void {
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

/** The host list: each host parsed, names and addresses distinct, no loopback address among several hosts. */
export function parseHosts(c: Collector, raw: RawConfig): HostSpec[] {
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
    return hosts;
}
