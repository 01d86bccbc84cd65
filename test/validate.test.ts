import * as os from "os";
import { PlatformModel } from "../lib/model";
import { formatProblem, localPath, swarmFixedSettings, unchangeableProblems, validateConfig, RawConfig } from "../lib/validate";
import { stackRawConfig } from "../support/stacks";

const base = (): RawConfig => stackRawConfig("multihost");

function problems(mutate: (raw: RawConfig) => void): { errors: string[]; warnings: string[] } {
    const raw = base();
    mutate(raw);
    const result = validateConfig(raw, "test");
    return { errors: result.errors.map(formatProblem), warnings: result.warnings.map(formatProblem) };
}

type Host = Record<string, unknown>;
const hosts = (raw: RawConfig): Host[] => raw.hosts as Host[];

describe("validateConfig", () => {
    test.each(["dev", "multihost"])("the %s stack is valid and has no warnings", (stack) => {
        const result = validateConfig(stackRawConfig(stack), stack);
        expect(result.errors).toEqual([]);
        expect(result.warnings).toEqual([]);
        expect(result.model?.overlay).toEqual({
            name: "my-network-overlay",
            subnet: "10.10.0.0/16",
            gateway: "10.10.0.254",
            attachable: true,
            encrypted: false,
        });
        expect(result.model?.gwbridge).toMatchObject({ subnet: "172.21.0.0/20", gateway: "172.21.0.1" });
    });

    test.each([
        ["25%", { percent: 25 }],
        ["100%", { percent: 100 }],
        ["4", { count: 4 }],
        [4, { count: 4 }],
    ])("consulClientBatch %p is a batch of %p", (value, batch) => {
        const raw = base();
        raw.consulClientBatch = value;
        expect(validateConfig(raw, "test").model?.consul.clientBatch).toEqual(batch);
    });

    test.each(["0%", "101%", "0", "-2", "half", "2.5"])("consulClientBatch %p is refused, saying what it takes", (value) => {
        const { errors } = problems((raw) => (raw.consulClientBatch = value));
        expect(errors).toEqual([
            `consulClientBatch: must be a count of hosts from 1 to 10000 or a percentage from 1% to 100%, got ${JSON.stringify(value)}. Fix: set consulClientBatch to a count such as 4 or a percentage such as "25%".`,
        ]);
    });

    test("an invalid CIDR names the key and the expected form", () => {
        const { errors } = problems((raw) => (raw.overlaySubnet = "10.10.0.0/33"));
        expect(errors).toContain(
            'overlaySubnet: "10.10.0.0/33" is not a valid IPv4 CIDR. Fix: write it as a.b.c.d/n with no host bits set, e.g. 10.10.0.0/16.',
        );
    });

    test("host bits in a CIDR are rejected", () => {
        expect(problems((raw) => (raw.gwbridgeSubnet = "172.21.0.1/20")).errors[0]).toMatch(/^gwbridgeSubnet: .*not a valid IPv4 CIDR/);
    });

    test("a gateway outside its subnet", () => {
        expect(problems((raw) => (raw.overlayGateway = "10.11.0.1")).errors).toContain(
            "overlayGateway: 10.11.0.1 is outside 10.10.0.0/16. Fix: set overlayGateway to an address inside 10.10.0.0/16.",
        );
    });

    test.each([
        ["10.10.0.0", "network"],
        ["10.10.255.255", "broadcast"],
    ])("a gateway equal to the %s address is the %s address", (gateway, what) => {
        expect(problems((raw) => (raw.overlayGateway = gateway)).errors).toContain(
            `overlayGateway: ${gateway} is the ${what} address of 10.10.0.0/16. Fix: use a usable address such as 10.10.0.1.`,
        );
    });

    test("overlapping subnets among overlay, gwbridge, tiers and the address pool", () => {
        const { errors } = problems((raw) => {
            raw.swarmAddressPool = "10.10.128.0/17";
            (raw.tiers as Host[])[0].subnet = "172.21.8.0/24";
            (raw.tiers as Host[])[0].gateway = "172.21.8.1";
        });
        expect(errors).toContain(
            "swarmAddressPool: 10.10.128.0/17 overlaps overlaySubnet (10.10.0.0/16). Fix: pick subnets that do not overlap.",
        );
        expect(errors).toContain(
            "tiers[0].subnet: 172.21.8.0/24 overlaps gwbridgeSubnet (172.21.0.0/20). Fix: pick subnets that do not overlap.",
        );
    });

    test("a subnet containing a host's own address", () => {
        const { errors } = problems((raw) => (hosts(raw)[0].address = "10.10.3.4"));
        expect(errors).toContain(
            "overlaySubnet: 10.10.0.0/16 contains hosts[0].address 10.10.3.4. Fix: pick a subnet that does not contain the hosts' own addresses.",
        );
    });

    test("duplicate host names and addresses", () => {
        const { errors } = problems((raw) => {
            hosts(raw)[1].name = "node1";
            hosts(raw)[2].address = "192.0.2.11";
        });
        expect(errors).toContain('hosts[1].name: name "node1" is already used by hosts[0].name. Fix: give every host its own name.');
        expect(errors).toContain(
            'hosts[2].address: address "192.0.2.11" is already used by hosts[0].address. Fix: give every host its own address.',
        );
    });

    test("no manager is an error", () => {
        const { errors } = problems((raw) => hosts(raw).forEach((h) => (h.roles = ["worker", "consul-server", "edge"])));
        expect(errors).toContain("hosts: no host has the manager role. Fix: give at least one host the manager role.");
    });

    test("the model orders hosts by name: a reordered list gives the same model", () => {
        const reordered = base();
        hosts(reordered).reverse();
        expect(validateConfig(reordered, "test").model).toEqual(validateConfig(base(), "test").model);
        expect(validateConfig(reordered, "test").model?.hosts.map((h) => h.name)).toEqual(["node1", "node2", "node3"]);
    });

    test("two managers or two Consul servers are refused: less available than one", () => {
        const { errors } = problems((raw) => (hosts(raw)[2].roles = ["worker", "consul-client"]));
        expect(errors).toContain(
            "hosts: 2 managers: Raft needs both for a quorum, so losing either stops the swarm, which is less available than 1. Fix: use 1 or 3 managers.",
        );
        expect(errors).toContain(
            "hosts: 2 Consul servers: Raft needs both for a quorum, so losing either stops Consul, which is less available than 1. Fix: use 1 or 3 consul-server hosts.",
        );
    });

    test("four managers are a quorum warning, not an error", () => {
        const { errors, warnings } = problems((raw) =>
            hosts(raw).push({ ...hosts(raw)[2], name: "node4", address: "192.0.2.14", roles: ["manager", "consul-client"] }),
        );
        expect(errors).toEqual([]);
        expect(warnings).toContain(
            "hosts: 4 managers tolerate no more failures than 3; Raft quorum wants an odd count. Fix: use 1, 3 or 5 managers.",
        );
    });

    test("an unknown role", () => {
        expect(problems((raw) => (hosts(raw)[0].roles = ["manager", "consul-server", "edge", "loadbalancer"])).errors).toContain(
            'hosts[0].roles[3]: unknown role "loadbalancer". Fix: use one of manager, worker, consul-server, consul-client, edge.',
        );
    });

    test("a flow naming an undefined tier", () => {
        expect(problems((raw) => ((raw.flows as Host[])[0].to = "redis")).errors).toContain(
            'flows[0].to: names tier "redis", which is not defined. Fix: define it under tiers or use one of app, mongo, zookeeper.',
        );
    });

    test.each([0, 65536, "http"])("port %p is out of range", (port) => {
        expect(problems((raw) => ((raw.flows as Host[])[1].port = port)).errors).toContain(
            `flows[1].port: must be an integer from 1 to 65535, got ${JSON.stringify(port)}. Fix: set flows[1].port to a value in 1..65535.`,
        );
    });

    test("seed 000's public tier subnets warn", () => {
        const { errors, warnings } = problems((raw) => {
            raw.tiers = [
                { name: "app", subnet: "172.12.0.0/16", gateway: "172.12.0.1" },
                { name: "mongo", subnet: "172.10.0.0/16", gateway: "172.10.0.1" },
                { name: "zookeeper", subnet: "172.11.0.0/16", gateway: "172.11.0.1" },
            ];
        });
        expect(errors).toEqual([]);
        expect(warnings).toContain(
            "tiers[1].subnet: 172.10.0.0/16 is not in private address space, so it shadows public addresses. Fix: pick a subnet inside 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16.",
        );
        expect(warnings).toHaveLength(3);
    });

    test("a remote host without an SSH identity", () => {
        expect(problems((raw) => delete (hosts(raw)[1].ssh as Host).privateKeyPath).errors).toContain(
            "hosts[1].ssh: this remote host has no SSH identity. Fix: set hosts[1].ssh.privateKeyPath, or the secret sshPrivateKey (pulumi config set --secret sshPrivateKey < key).",
        );
    });

    test("a key path starting with ~ is kept as written (ssh expands it); a relative one is rejected", () => {
        const raw = base();
        const model = validateConfig(raw, "test").model;
        expect(model?.hosts[0].connection).toMatchObject({ kind: "ssh", privateKeyPath: "~/.ssh/id_ed25519" });
        expect(localPath("~/.ssh/id_ed25519")).toBe(`${os.homedir()}/.ssh/id_ed25519`);
        expect(problems((r) => ((hosts(r)[0].ssh as Host).privateKeyPath = "keys/id")).errors).toContain(
            'hosts[0].ssh.privateKeyPath: "keys/id" is not an absolute path. Fix: give the key file\'s absolute path, or one starting with ~/.',
        );
    });

    test("a host key is accepted as a .pub line or ssh-keyscan's output and kept as TYPE BASE64", () => {
        const key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ8tV4WvWhK1loc52/8avMj+FyLJgNwu+FMSVypfXKJ6";
        for (const written of [key, `${key} root@node1`, ` ${key}\n`]) {
            const raw = base();
            (hosts(raw)[0].ssh as Host).hostKey = written;
            const model = validateConfig(raw, "test").model;
            expect(model?.hosts[0].connection).toMatchObject({ kind: "ssh", hostKey: key });
        }
    });

    test("a host key that is not one is refused, naming the key and how to get the right one", () => {
        const ed25519Blob = "AAAAC3NzaC1lZDI1NTE5AAAAIJ8tV4WvWhK1loc52/8avMj+FyLJgNwu+FMSVypfXKJ6";
        for (const bad of [
            "SHA256:JiL6ei34mKeQBdC96EyYasUQRhHRCZBvgOZLK0jUX0I",
            `192.0.2.11 ssh-ed25519 ${ed25519Blob}`,
            `ecdsa-sha2-nistp256 ${ed25519Blob}`,
            "ssh-ed25519 AAAA",
            `ssh-ed25519 ${ed25519Blob}\nssh-ed25519 ${ed25519Blob}`,
        ]) {
            const { errors } = problems((raw) => ((hosts(raw)[1].ssh as Host).hostKey = bad));
            expect(errors).toHaveLength(1);
            expect(errors[0]).toMatch(
                /^hosts\[1\]\.ssh\.hostKey: ".*" is not an SSH public host key\. Fix: paste one line of `ssh-keyscan -t ed25519 192\.0\.2\.12` without the leading address/,
            );
        }
    });

    test("the shared secret key is an SSH identity", () => {
        expect(
            problems((raw) => {
                hosts(raw).forEach((h) => delete (h.ssh as Host).privateKeyPath);
                raw.sshPrivateKey = "(secret)";
            }).errors,
        ).toEqual([]);
    });

    test("unpinned images are rejected", () => {
        const { errors } = problems((raw) => {
            raw.consulImage = "hashicorp/consul:latest";
            raw.backendImage = "traefik/whoami";
        });
        expect(errors).toContain(
            'consulImage: "hashicorp/consul:latest" is not pinned. Fix: name an exact version tag or digest, never latest.',
        );
        expect(errors).toContain('backendImage: "traefik/whoami" is not pinned. Fix: name an exact version tag or digest, never latest.');
    });

    test("a registry port is not mistaken for a tag", () => {
        expect(problems((raw) => (raw.consulImage = "registry.local:5000/consul")).errors).toContain(
            'consulImage: "registry.local:5000/consul" is not pinned. Fix: name an exact version tag or digest, never latest.',
        );
    });

    test("a VIP needs exactly two edge hosts", () => {
        expect(problems((raw) => (hosts(raw)[2].roles = ["manager", "consul-server", "edge"])).errors).toContain(
            "edgeVip: a VIP needs exactly two edge hosts, found 3. Fix: give two hosts the edge role, or unset edgeVip.",
        );
    });

    test("two edge services on one path would fail nginx's config test, so they are rejected", () => {
        expect(
            problems(
                (raw) =>
                    (raw.edgeServices = [
                        { service: "web", path: "/" },
                        { service: "api", path: "/" },
                    ]),
            ).errors,
        ).toContain('edgeServices[1].path: path "/" is already used by edgeServices[0].path. Fix: give every edge service its own path.');
    });

    test("every problem is reported in one pass", () => {
        const { errors } = problems((raw) => {
            raw.overlaySubnet = "nope";
            hosts(raw)[0].roles = ["chief"];
            (raw.flows as Host[])[0].port = 70000;
        });
        expect(errors.length).toBeGreaterThanOrEqual(3);
    });

    describe("values that reach files and command lines on the hosts", () => {
        test.each([
            [
                "edgeServices[0].path",
                (raw: RawConfig) => ((raw.edgeServices as Host[])[0].path = "/a; return 200"),
                '"/a; return 200" is not a plain URL path',
            ],
            ["edgeServices[0].path", (raw: RawConfig) => ((raw.edgeServices as Host[])[0].path = "api/"), '"api/" is not a plain URL path'],
            [
                "backendHealthPath",
                (raw: RawConfig) => (raw.backendHealthPath = "/health?x=$(id)"),
                '"/health?x=$(id)" is not a plain URL path',
            ],
            [
                "edgeVipInterface",
                (raw: RawConfig) => (raw.edgeVipInterface = "eth0 virtual_ipaddress"),
                '"eth0 virtual_ipaddress" is not a network interface name',
            ],
            ["edgeVipInterface", (raw: RawConfig) => (raw.edgeVipInterface = "a-very-long-interface0"), "is not a network interface name"],
            [
                "hosts[0].ssh.user",
                (raw: RawConfig) => ((hosts(raw)[0].ssh as Host).user = "root -oProxyCommand=x"),
                '"root -oProxyCommand=x" is not a valid user name',
            ],
            [
                "hosts[0].dockerSocket",
                (raw: RawConfig) => (hosts(raw)[0].dockerSocket = "/run/docker.sock:/etc"),
                "is not an absolute path",
            ],
            ["consulImage", (raw: RawConfig) => (raw.consulImage = "hashicorp/consul@sha256:abc"), "has a malformed digest"],
            [
                "consulClientAddress",
                (raw: RawConfig) => (raw.consulClientAddress = "{{ GetPrivateIP }}"),
                "is neither an IPv4 address nor {{host}}",
            ],
            [
                "consulClientAddress",
                (raw: RawConfig) => (raw.consulClientAddress = "0.0.0.0"),
                "0.0.0.0 exposes Consul's HTTP API on every address of every host",
            ],
        ])("%s: refused with the key, the reason and the fix", (key, mutate, message) => {
            const { errors } = problems(mutate);
            const line = errors.find((e) => e.startsWith(`${key}: `));
            expect(line).toContain(message);
            expect(line).toMatch(/\. Fix: .+\.$/);
        });

        test("accepted: nested paths, a digest, literal client addresses", () => {
            const { errors } = problems((raw) => {
                raw.edgeServices = [
                    { service: "web", path: "/" },
                    { service: "api", path: "/api/v2/" },
                ];
                raw.consulImage = `hashicorp/consul@sha256:${"a".repeat(64)}`;
                raw.consulClientAddress = "127.0.0.1 {{host}} 10.0.0.5";
                raw.edgeVipInterface = "br0.100";
            });
            expect(errors).toEqual([]);
        });

        test("Consul's API on a LAN address is allowed, with a warning naming the exposure; loopback draws none", () => {
            const warned = problems((raw) => (raw.consulClientAddress = "127.0.0.1 {{host}}")).warnings;
            expect(warned).toContain(
                "consulClientAddress: {{host}} opens Consul's HTTP API to the network: whoever reaches it reads the catalog (the default token reads) and can try tokens against the agent. Fix: keep the default 127.0.0.1 and reach the UI through the consulUiTunnel output (ssh -L).",
            );
            expect(
                problems((raw) => (raw.consulClientAddress = "127.0.0.1")).warnings.filter((w) => w.startsWith("consulClientAddress")),
            ).toEqual([]);
            const dev = stackRawConfig("dev");
            dev.consulClientAddress = "127.0.0.1 {{host}}";
            expect(validateConfig(dev, "dev").warnings.filter((w) => w.key === "consulClientAddress")).toEqual([]);
        });

        test("0.0.0.0 is allowed on a single-host stack", () => {
            const raw = stackRawConfig("dev");
            raw.consulClientAddress = "0.0.0.0";
            expect(validateConfig(raw, "dev").errors).toEqual([]);
        });
    });

    describe("addresses and ports that collide on the hosts", () => {
        test.each([
            ["edgePort", 8500, "consulHttpPort: port 8500 is already used on the host network by edgePort"],
            ["edgePort", 2377, "port 2377 is already used on the host network by swarm management"],
            ["consulHttpPort", 7946, "port 7946 is already used on the host network by swarm gossip"],
            ["consulDnsPort", 8301, "port 8301 is already used on the host network by Consul LAN gossip"],
            [
                "edgePort",
                8600,
                "edgePort: port 8600 is already used on the host network by Consul's DNS listener (consulDnsPort is below 1024)",
            ],
        ])("%s = %s", (key, value, message) => {
            const { errors } = problems((raw) => (raw[key] = value));
            expect(errors.find((e) => e.includes(message))).toBeDefined();
        });

        test("the data-path port against Consul's DNS port", () => {
            const { errors } = problems((raw) => {
                raw.consulDnsPort = 4789;
            });
            expect(errors).toContain(
                "swarmDataPathPort: port 4789 is already used on the host network by consulDnsPort. Fix: pick a port nothing else on the hosts listens on.",
            );
        });

        test("a VIP inside the overlay, where Docker hands out container addresses", () => {
            expect(problems((raw) => (raw.edgeVip = "10.10.3.7")).errors).toContain(
                "edgeVip: 10.10.3.7 lies inside overlaySubnet (10.10.0.0/16), where Docker hands out container addresses. Fix: pick a free address on the edge hosts' LAN.",
            );
        });

        test("a remote host at a loopback address", () => {
            expect(
                problems((raw) => (hosts(raw)[1].address = "127.0.0.2")).errors.find((e) =>
                    e.startsWith("hosts[1].address: 127.0.0.2 is a loopback address"),
                ),
            ).toBeDefined();
        });

        test("a local host at 127.0.0.1 in a stack of several hosts", () => {
            const { errors } = problems(
                (raw) =>
                    (hosts(raw)[0] = { name: "node1", address: "127.0.0.1", local: true, roles: ["manager", "consul-server", "edge"] }),
            );
            expect(errors).toContain(
                "hosts[0].address: 127.0.0.1 is a loopback address in a stack of 3 hosts, which the others cannot reach. Fix: set the host's LAN address.",
            );
        });
    });
});

describe("settings a running swarm cannot take in place", () => {
    const model = () => validateConfig(base(), "multihost").model as PlatformModel;
    const last = () => swarmFixedSettings(model());

    test("a new docker_gwbridge subnet or gateway needs the rebuild opt-in, and another manager to join again through", () => {
        const changed = (allowRebuild: boolean, managers: number): PlatformModel => {
            const raw = base();
            raw.gwbridgeSubnet = "172.24.0.0/20";
            raw.gwbridgeGateway = "172.24.0.1";
            raw.gwbridgeAllowRebuild = allowRebuild;
            hosts(raw).forEach(
                (h, i) =>
                    (h.roles =
                        i < managers
                            ? ["manager", "consul-server", ...(i < 2 ? ["edge"] : [])]
                            : ["worker", "consul-server", ...(i < 2 ? ["edge"] : [])]),
            );
            return validateConfig(raw, "multihost").model as PlatformModel;
        };
        const withoutOptIn = unchangeableProblems(last(), changed(false, 3));
        expect(withoutOptIn.map((p) => p.key)).toEqual(["gwbridgeSubnet", "gwbridgeGateway"]);
        expect(formatProblem(withoutOptIn[0])).toBe(
            "gwbridgeSubnet: every node's docker_gwbridge was made with 172.21.0.0/20; 172.24.0.0/20 means rebuilding it, which takes each node out of the swarm for a moment. Fix: set gwbridgeAllowRebuild=true to rebuild it one node at a time (each node leaves the swarm and joins again), or set it back to 172.21.0.0/20.",
        );
        expect(unchangeableProblems(last(), changed(true, 3))).toEqual([]);
        const oneManager = { ...swarmFixedSettings(changed(true, 1)), gwbridgeSubnet: "172.21.0.0/20", gwbridgeGateway: "172.21.0.1" };
        expect(unchangeableProblems(oneManager, changed(true, 1)).map(formatProblem)[0]).toContain(
            "back in through another manager, and this swarm has only one",
        );
        // A stack recorded before these keys were: nothing to compare, nothing refused.
        const older: Record<string, unknown> = { ...last() };
        delete older.gwbridgeSubnet;
        delete older.gwbridgeGateway;
        expect(unchangeableProblems(older, changed(false, 3))).toEqual([]);
    });

    test("a member's new swarm or Consul role is refused, naming the host; older records without roles refuse nothing", () => {
        const withFourth = (fourth: string[], third: string[]): PlatformModel => {
            const raw = base();
            hosts(raw)[2].roles = third;
            hosts(raw).push({ ...hosts(raw)[2], name: "node4", address: "192.0.2.14", roles: fourth });
            return validateConfig(raw, "multihost").model as PlatformModel;
        };
        const before = swarmFixedSettings(withFourth(["worker", "consul-client"], ["manager", "consul-server"]));
        const swapped = withFourth(["manager", "consul-server"], ["worker", "consul-client"]);
        expect(unchangeableProblems(before, swapped).map(formatProblem)).toEqual([
            "hosts[name=node3].roles: node3 joined the swarm as a manager and stays one while it is a member: the roles that make it a worker would change nothing on it. Fix: put the roles back; to change them, take the host out of hosts (pulumi up), then add it back with its new roles.",
            "hosts[name=node3].roles: node3 joined Consul as a server and stays one while it is a member: the roles that make it a client would change nothing on it. Fix: put the roles back; to change them, take the host out of hosts (pulumi up), then add it back with its new roles.",
            "hosts[name=node4].roles: node4 joined the swarm as a worker and stays one while it is a member: the roles that make it a manager would change nothing on it. Fix: put the roles back; to change them, take the host out of hosts (pulumi up), then add it back with its new roles.",
            "hosts[name=node4].roles: node4 joined Consul as a client and stays one while it is a member: the roles that make it a server would change nothing on it. Fix: put the roles back; to change them, take the host out of hosts (pulumi up), then add it back with its new roles.",
        ]);
        for (const member of Object.values(before.members)) delete (member as Partial<typeof member>).swarmRole;
        expect(unchangeableProblems(before, swapped).map((p) => p.message)).toEqual([
            expect.stringContaining("node3 joined Consul"),
            expect.stringContaining("node4 joined Consul"),
        ]);
    });

    test("nothing recorded yet (a new stack) or nothing changed: no problem", () => {
        expect(unchangeableProblems(undefined, model())).toEqual([]);
        expect(unchangeableProblems(last(), model())).toEqual([]);
    });

    test("a new address pool, mask length or data path port is refused, naming the key and the running value", () => {
        const raw = base();
        raw.swarmAddressPool = "10.30.0.0/16";
        raw.swarmDataPathPort = 4790;
        const problems = unchangeableProblems(last(), validateConfig(raw, "multihost").model as PlatformModel).map(formatProblem);
        expect(problems).toEqual([
            "swarmAddressPool: the running swarm was initialised with 10.20.0.0/16, and swarm mode keeps it for the swarm's life: 10.30.0.0/16 would change nothing. Fix: set it back to 10.20.0.0/16; a new value needs a new swarm (pulumi destroy with protectData off, then pulumi up).",
            "swarmDataPathPort: the running swarm was initialised with 4789, and swarm mode keeps it for the swarm's life: 4790 would change nothing. Fix: set it back to 4789; a new value needs a new swarm (pulumi destroy with protectData off, then pulumi up).",
        ]);
    });

    test("a member's new address or data path address is refused; a host added or removed is not", () => {
        const raw = base();
        hosts(raw)[1].address = "192.0.2.22";
        hosts(raw)[2].dataPathAddress = "192.0.2.33";
        const problems = unchangeableProblems(last(), validateConfig(raw, "multihost").model as PlatformModel);
        expect(problems.map((p) => p.key)).toEqual(["hosts[name=node2].address", "hosts[name=node3].dataPathAddress"]);
        expect(formatProblem(problems[0])).toBe(
            "hosts[name=node2].address: node2 joined the swarm and Consul with address 192.0.2.12, which a member keeps: 192.0.2.22 would not reach them. Fix: set it back to 192.0.2.12; to move the host, take it out of hosts (pulumi up), then add it back with the new address.",
        );
        const fewer = base();
        (fewer.hosts as Host[]).push({ ...hosts(fewer)[2], name: "node4", address: "192.0.2.14" });
        expect(unchangeableProblems(last(), validateConfig(fewer, "multihost").model as PlatformModel)).toEqual([]);
        const previous = last();
        delete previous.members.node3;
        expect(unchangeableProblems(previous, model())).toEqual([]);
    });
});
