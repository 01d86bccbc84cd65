import * as fs from "fs";
import * as os from "os";
import * as pulumi from "@pulumi/pulumi";
import { EDGE_DOCKERFILE } from "../components/edge/Edge";
import { Platform } from "../components/Platform";
import { PLATFORM_CPU_SHARES } from "../components/host/containers";
import { PlatformModel } from "../lib/model";
import { MockRun, RecordedResource, runUnderMocks, unwrap } from "../support/mockEngine";
import { filesHolding } from "../support/files";
import { stackModel } from "../support/stacks";

const COMMAND = "command:remote:Command";
const LOCAL_COMMAND = "command:local:Command";
const CONTAINER = "docker:index/container:Container";
/** What Docker gives a container started without --cpu-shares. */
const DOCKER_DEFAULT_CPU_SHARES = 1024;

/** Slows the resources that must come first, so a dependent that does not wait shows up as overlapping. */
const SLOW = 300;
const slowFirsts = (_type: string, name: string): number =>
    /gwbridge-.*-network$|swarm-member-|swarm-(manager|worker)-token$/.test(name) ? SLOW : 0;

async function deploy(model: PlatformModel): Promise<{ run: MockRun; platform: Platform }> {
    let platform: Platform | undefined;
    const run = await runUnderMocks(() => (platform = new Platform("platform", { model })), slowFirsts);
    return { run, platform: platform as Platform };
}

const before = (a: RecordedResource, b: RecordedResource) => expect(a.finished).toBeLessThanOrEqual(b.started);
const stdinOf = (r: RecordedResource) => r.inputs.stdin;

describe("multihost stack", () => {
    let run: MockRun;
    let platform: Platform;
    const model = stackModel("multihost");
    beforeAll(async () => ({ run, platform } = await deploy(model)));

    test("one docker provider per host, reaching it over ssh with the configured key", () => {
        const providers = run.ofType("pulumi:providers:docker");
        expect(providers.map((p) => p.inputs.host).sort()).toEqual([
            "ssh://root@192.0.2.11:22",
            "ssh://root@192.0.2.12:22",
            "ssh://root@192.0.2.13:22",
        ]);
        for (const p of providers)
            expect(JSON.parse(p.inputs.sshOpts as string)).toEqual(
                expect.arrayContaining(["-i", "BatchMode=yes", "StrictHostKeyChecking=accept-new"]),
            );
    });

    test("every host gets a docker_gwbridge before it inits or joins", () => {
        for (const host of ["node1", "node2", "node3"]) {
            const gw = run.byName(`platform-gwbridge-${host}-network`);
            const member = host === "node1" ? run.byName("platform-swarm-member-node1") : run.byName(`platform-swarm-member-${host}`);
            before(gw, member);
        }
    });

    test("init runs on the first manager, before the tokens and every join", () => {
        const init = run.byName("platform-swarm-member-node1");
        expect((init.inputs.connection as { host: string }).host).toBe("192.0.2.11");
        before(init, run.byName("platform-swarm-manager-token"));
        for (const host of ["node2", "node3"])
            before(run.byName("platform-swarm-manager-token"), run.byName(`platform-swarm-member-${host}`));
    });

    test("joins do not wait for each other", () => {
        const [a, b] = [run.byName("platform-swarm-member-node2"), run.byName("platform-swarm-member-node3")];
        expect(a.started).toBeLessThan(b.finished);
        expect(b.started).toBeLessThan(a.finished);
    });

    test("managers join with the manager token, fed on stdin", () => {
        expect(stdinOf(run.byName("platform-swarm-member-node2"))).toBe("stdout-of-platform-swarm-manager-token\n");
        expect(run.byName("platform-swarm-member-node2").inputs.create).not.toContain("stdout-of-platform-swarm-manager-token");
    });

    test("commands never get previous output in their environment", () => {
        for (const c of run.ofType(COMMAND)) expect(c.inputs.addPreviousOutputInEnv).toBe(false);
    });

    test("token commands keep their output out of logs", () => {
        for (const role of ["manager", "worker"]) expect(run.byName(`platform-swarm-${role}-token`).inputs.logging).toBe("none");
    });

    test("the overlay network waits for the swarm and carries the configured subnet", () => {
        const overlay = run.byName("platform-overlay-network");
        expect(overlay.type).toBe(COMMAND);
        expect(overlay.inputs.create).toContain(
            "docker network create --driver overlay --subnet '10.10.0.0/16' --gateway '10.10.0.254' --attachable",
        );
        expect(overlay.inputs.create).toContain("'my-network-overlay'");
        expect((overlay.inputs.connection as { host: string }).host).toBe("192.0.2.11");
        for (const m of ["platform-swarm-member-node1", "platform-swarm-member-node2", "platform-swarm-member-node3"])
            before(run.byName(m), overlay);
    });

    test("tier networks on every host, with fixed bridge names, and flow rules after them", () => {
        for (const host of ["node1", "node2", "node3"]) {
            const app = run.byName(`platform-tiers-${host}-app`);
            expect(app.inputs).toMatchObject({ name: "net_app", options: { "com.docker.network.bridge.name": "br-app" } });
            before(app, run.byName(`platform-tiers-${host}-flows`));
        }
    });

    test("a firewall keeper on every host holds its flow and DNS rules, with NET_ADMIN and NET_RAW only, after the steps that applied them", () => {
        for (const host of ["node1", "node2", "node3"]) {
            const keeper = run.byName(`platform-firewall-${host}-keeper`);
            expect(keeper.provider).toContain(`::platform-host-${host}-docker::`);
            expect(keeper.inputs).toMatchObject({
                name: "firewall-keeper",
                networkMode: "host",
                restart: "unless-stopped",
                capabilities: { adds: ["CAP_NET_ADMIN", "CAP_NET_RAW"], drops: ["ALL"] },
            });
            expect(keeper.inputs.privileged).toBeUndefined();
            expect(keeper.inputs.image).toBe(`stdout-of-platform-firewall-${host}-image`);
            const script = (keeper.inputs.uploads as { content: string }[])[0].content;
            expect(script).toContain("swarm-platform:multihost:app->mongo:27017/tcp");
            expect(script).toContain("--comment swarm-platform-consul-dns");
            // The steps' ids as inputs: replacing either step (whose removal stops the keeper) replaces the keeper.
            expect(keeper.inputs.envs).toEqual([`APPLIED_BY=platform-tiers-${host}-flows-id,platform-consul-dns-redirect-${host}-id`]);
            before(run.byName(`platform-tiers-${host}-flows`), keeper);
            before(run.byName(`platform-consul-dns-redirect-${host}`), keeper);
        }
    });

    test("three consul servers expecting three, retry-joining the other two, with host network", () => {
        const agents = run.ofType(CONTAINER).filter((c) => c.inputs.name === "consul");
        expect(agents).toHaveLength(3);
        for (const agent of agents) {
            expect(agent.inputs.networkMode).toBe("host");
            expect(agent.inputs.entrypoints).toEqual(["/bin/consul"]);
            const upload = (agent.inputs.uploads as { file: string; content: string }[])[0];
            const config = JSON.parse(upload.content);
            expect(config).toMatchObject({ server: true, bootstrap_expect: 3 });
            expect(config.retry_join).toHaveLength(2);
            expect(config.retry_join).not.toContain(config.bind_addr);
        }
    });

    test("consul agents start after the swarm and networks", () => {
        const agent = run.ofType(CONTAINER).find((c) => c.inputs.name === "consul") as RecordedResource;
        before(run.byName("platform-overlay-network"), agent);
        before(run.byName("platform-swarm-member-node3"), agent);
    });

    test("registrator on every node: only the proxy's socket, host address, local agent", () => {
        const registrators = run.ofType(CONTAINER).filter((c) => c.inputs.name === "registrator");
        expect(registrators).toHaveLength(3);
        for (const r of registrators) {
            const volumes = r.inputs.volumes as { hostPath?: string; volumeName?: string; containerPath: string }[];
            expect(volumes).toHaveLength(1);
            expect(volumes[0]).toMatchObject({ containerPath: "/run/docker-proxy", readOnly: true });
            expect(volumes[0].volumeName).toMatch(/^registrator-docker-proxy-/);
            expect(r.inputs.envs).toContain("DOCKER_HOST=unix:///run/docker-proxy/docker.sock");
            const cmd = r.inputs.command as string[];
            expect(cmd.slice(0, 2)[0]).toBe("-ip");
            expect(cmd[cmd.length - 1]).toBe("consul://127.0.0.1:8500");
            expect(cmd).toEqual(expect.arrayContaining(["-cleanup", "-resync"]));
            expect(cmd).not.toContain("-internal");
        }
    });

    test("the Docker API proxy: the engine's socket, no network, no capability, before registrator", () => {
        const proxies = run.ofType(CONTAINER).filter((c) => c.inputs.name === "registrator-docker-proxy");
        expect(proxies).toHaveLength(3);
        for (const p of proxies) {
            expect(p.inputs).toMatchObject({
                networkMode: "none",
                user: "root",
                capabilities: { adds: [], drops: ["ALL"] },
                entrypoints: ["haproxy"],
            });
            expect(p.inputs.volumes).toEqual(
                expect.arrayContaining([{ hostPath: "/var/run/docker.sock", containerPath: "/run/docker-engine.sock" }]),
            );
        }
        for (const host of ["node1", "node2", "node3"])
            before(run.byName(`platform-registrator-proxy-${host}`), run.byName(`platform-registrator-${host}`));
    });

    test("two edges built from the repo's Dockerfile with pinned bases, and keepalived with capabilities, not --privileged", () => {
        const edges = run.ofType(CONTAINER).filter((c) => c.inputs.name === "edge");
        expect(edges).toHaveLength(2);
        for (const e of edges) expect(e.inputs).toMatchObject({ networkMode: "host", init: true });
        // Built on each edge host by a command over its own connection: the docker provider's build runs a
        // local buildx against the local engine, whatever host the provider points at.
        for (const host of ["node1", "node2"]) {
            const build = run.byName(`platform-edge-image-${host}`);
            expect(build.type).toBe(COMMAND);
            expect(build.inputs.stdin).toBe(fs.readFileSync(EDGE_DOCKERFILE, "utf8"));
            expect(build.inputs.create).toContain(`--build-arg 'BASE_IMAGE=${model.images.edgeBase}'`);
            expect(build.inputs.create).toContain(`--build-arg 'CONSUL_TEMPLATE_IMAGE=${model.images.consulTemplate}'`);
            expect(edges.find((e) => e.provider?.includes(`::platform-host-${host}-docker::`))?.inputs.image).toBe(
                `stdout-of-platform-edge-image-${host}`,
            );
        }
        const keepaliveds = run.ofType(CONTAINER).filter((c) => c.inputs.name === "keepalived");
        expect(keepaliveds).toHaveLength(2);
        for (const k of keepaliveds) {
            expect(k.inputs.privileged).toBeUndefined();
            expect(k.inputs.capabilities).toEqual({ adds: ["CAP_NET_ADMIN", "CAP_NET_BROADCAST", "CAP_NET_RAW"], drops: [] });
        }
    });

    test("one MASTER and one BACKUP, each peering with the other", () => {
        const confs = run
            .ofType(CONTAINER)
            .filter((c) => c.inputs.name === "keepalived")
            .map((k) => (k.inputs.uploads as { content: string }[])[0].content);
        expect(confs.filter((c) => /state MASTER/.test(c))).toHaveLength(1);
        expect(confs.filter((c) => /state BACKUP/.test(c))).toHaveLength(1);
        expect(confs.join("\n")).toContain("192.0.2.100");
    });

    test("six backends spread over the three hosts, with a Consul health check", () => {
        const backends = run.ofType(CONTAINER).filter((c) => /^web-\d+$/.test(c.inputs.name as string));
        expect(backends).toHaveLength(6);
        const perHost = new Map<string, number>();
        for (const b of backends) perHost.set(b.provider as string, (perHost.get(b.provider as string) ?? 0) + 1);
        expect([...perHost.values()]).toEqual([2, 2, 2]);
        expect(backends[0].inputs.envs).toEqual(
            expect.arrayContaining(["SERVICE_NAME=web", "SERVICE_CHECK_HTTP=/health", "SERVICE_CHECK_INITIAL_STATUS=passing"]),
        );
    });

    test("the platform's containers weigh more on the CPUs than the backends, which get Docker's default", () => {
        const containers = run.ofType(CONTAINER);
        const isBackend = (c: RecordedResource) => /^web-\d+$/.test(c.inputs.name as string);
        const platformWeights = new Set(containers.filter((c) => !isBackend(c)).map((c) => c.inputs.cpuShares));
        expect([...platformWeights]).toEqual([PLATFORM_CPU_SHARES]);
        expect(PLATFORM_CPU_SHARES).toBeGreaterThan(DOCKER_DEFAULT_CPU_SHARES);
        expect(new Set(containers.filter((c) => !isBackend(c)).map((c) => c.inputs.name))).toEqual(
            new Set(["consul", "registrator", "registrator-docker-proxy", "edge", "keepalived", "firewall-keeper"]),
        );
        for (const b of containers.filter(isBackend)) expect(b.inputs.cpuShares).toBeUndefined();
    });

    test("backends are made one after another in replica order, so a change that replaces them replaces one at a time", () => {
        const replica = (i: number) => run.ofType(CONTAINER).find((c) => c.inputs.name === `web-${i}`) as RecordedResource;
        for (let i = 2; i <= 6; i++) before(replica(i - 1), replica(i));
    });

    test("images are pinned references", () => {
        for (const image of run.ofType("docker:index/remoteImage:RemoteImage")) expect(image.inputs.name).toMatch(/:[^:/]+$/);
    });

    test("secrets reach resources as secrets: join tokens, gossip key, ACL tokens, ssh key", () => {
        // A server's rollout command hands leadership over with the management token.
        const serverRollouts = run.ofType(COMMAND).filter((c) => c.name.startsWith("platform-consul-rollout-") && c.inputs.delete);
        expect(serverRollouts.length).toBeGreaterThan(0);
        // So does the server that prunes another one from Raft once it is removed.
        const takesSecretStdin = (name: string) =>
            (name.startsWith("platform-swarm-member-") && name !== "platform-swarm-member-node1") ||
            /^platform-swarm-gwbridge-node\d+$/.test(name) ||
            name === "platform-consul-acl" ||
            name === "platform-consul-autopilot" ||
            name.startsWith("platform-consul-server-") ||
            serverRollouts.some((c) => c.name === name);
        for (const c of serverRollouts) expect(c.secretInputs).toContain("stdin");
        for (const name of [
            "platform-swarm-member-node2",
            "platform-swarm-member-node3",
            "platform-consul-acl",
            "platform-consul-autopilot",
        ])
            expect(run.byName(name).secretInputs).toContain("stdin");
        for (const c of run.ofType(CONTAINER).filter((c) => ["consul", "edge"].includes(c.inputs.name as string))) {
            expect(c.secretInputs).toContain("uploads");
        }
        // VRRPv3 carries no password; keepalived's configuration holds nothing secret.
        for (const c of run.ofType(CONTAINER).filter((c) => c.inputs.name === "keepalived"))
            expect(c.secretInputs).not.toContain("uploads");
        for (const c of run.ofType(CONTAINER).filter((c) => c.inputs.name === "registrator")) expect(c.secretInputs).toContain("envs");
        for (const c of run.ofType(COMMAND)) expect(c.secretInputs).toContain("connection");
        for (const c of run.ofType(COMMAND).filter((c) => !takesSecretStdin(c.name))) expect(c.secretInputs).not.toContain("stdin");
    });

    test("ACLs are set up once, on the first Consul server, after every server agent and before registrator and the edges", () => {
        const acl = run.byName("platform-consul-acl");
        expect((acl.inputs.connection as { host: string }).host).toBe("192.0.2.11");
        for (const host of ["node1", "node2", "node3"]) {
            before(run.byName(`platform-consul-agent-${host}`), acl);
            before(acl, run.byName(`platform-registrator-${host}`));
        }
        for (const host of ["node1", "node2"]) before(acl, run.byName(`platform-edge-${host}`));
    });

    test("autopilot's dead-server cleanup is turned off once, on the first Consul server, after the ACLs", () => {
        const autopilot = run.byName("platform-consul-autopilot");
        expect((autopilot.inputs.connection as { host: string }).host).toBe("192.0.2.11");
        expect(autopilot.inputs.create).toContain("set-config -cleanup-dead-servers=false");
        before(run.byName("platform-consul-acl"), autopilot);
    });

    test("no secret in a plain output", () => {
        const outputs = JSON.stringify({
            a: platform.managerAddress,
            n: platform.nodes,
            t: platform.tierNetworks,
            e: platform.edgeUrls,
            v: platform.vipUrl,
            c: platform.consulUiUrl,
        });
        expect(outputs).not.toMatch(/stdout-of|BEGIN OPENSSH|pw123456|c2VjcmV0/);
    });

    test("outputs: manager address, nodes, networks, edge and Consul URLs", async () => {
        expect(platform.managerAddress).toBe("192.0.2.11");
        expect(platform.nodes.map((n) => n.name)).toEqual(["node1", "node2", "node3"]);
        expect((await unwrap(platform.overlay.name)).value).toBe("my-network-overlay");
        expect(platform.tierNetworks).toEqual({ net_app: "172.30.12.0/24", net_mongo: "172.30.10.0/24", net_zookeeper: "172.30.11.0/24" });
        expect(platform.edgeUrls).toEqual(["http://192.0.2.11:80/", "http://192.0.2.12:80/"]);
        // The API listens on loopback only: the UI is this machine's loopback, through a tunnel to a server.
        expect(platform.consulUiUrl).toBe("http://127.0.0.1:8500/ui/");
        expect(platform.consulUiTunnel).toBe("ssh -N -L 8500:127.0.0.1:8500 -p 22 root@192.0.2.11");
    });

    test("Consul agents run as the consul user with no capability, DNS on 8600 behind the host's redirect, after their volume is theirs", () => {
        for (const host of ["node1", "node2", "node3"]) {
            const agent = run.byName(`platform-consul-agent-${host}`);
            expect(agent.inputs).toMatchObject({ user: "100:1000", capabilities: { adds: [], drops: ["ALL"] } });
            expect(JSON.parse((agent.inputs.uploads as { content: string }[])[0].content).ports.dns).toBe(8600);
            before(run.byName(`platform-consul-data-owner-${host}`), agent);
            before(run.byName(`platform-consul-dns-redirect-${host}`), agent);
            expect(run.byName(`platform-consul-dns-redirect-${host}`).inputs.create).toContain("--dport 53 ");
        }
    });

    test("Consul's HTTP API binds loopback only by default; registrator and consul-template use it there", () => {
        for (const host of ["node1", "node2", "node3"]) {
            const uploads = run.byName(`platform-consul-agent-${host}`).inputs.uploads as { content: string }[];
            expect(JSON.parse(uploads[0].content).client_addr).toBe("127.0.0.1");
        }
        expect(JSON.stringify(run.byName("platform-registrator-node2").inputs.command)).toContain("consul://127.0.0.1:8500");
    });
});

describe("dev stack", () => {
    let run: MockRun;
    const model = stackModel("dev");
    beforeAll(async () => ({ run } = await deploy(model)));

    test("the local engine, no ssh: local commands and a unix-socket provider", () => {
        expect(run.ofType("pulumi:providers:docker").map((p) => p.inputs.host)).toEqual(["unix:///var/run/docker.sock"]);
        expect(run.ofType(COMMAND)).toHaveLength(0);
        for (const c of run.ofType(LOCAL_COMMAND)) {
            expect(c.inputs.addPreviousOutputInEnv).toBe(false);
            expect(c.inputs.environment).toEqual({ DOCKER_HOST: "unix:///var/run/docker.sock" });
        }
    });

    test("a single-node swarm: init, no joins", () => {
        const members = run.resources.filter((r) => r.name.startsWith("platform-swarm-member-"));
        expect(members).toHaveLength(1);
        expect(members[0].inputs.create).toContain("docker swarm init");
    });

    test("one consul server with bootstrap-expect 1, one edge, no VIP, three backends", () => {
        const containers = run.ofType(CONTAINER);
        const consul = containers.filter((c) => c.inputs.name === "consul");
        expect(consul).toHaveLength(1);
        expect(JSON.parse((consul[0].inputs.uploads as { content: string }[])[0].content)).toMatchObject({
            server: true,
            bootstrap_expect: 1,
            retry_join: [],
        });
        expect(containers.filter((c) => c.inputs.name === "edge")).toHaveLength(1);
        expect(containers.filter((c) => c.inputs.name === "keepalived")).toHaveLength(0);
        expect(containers.filter((c) => /^web-\d$/.test(c.inputs.name as string))).toHaveLength(3);
    });

    test("consul binds loopback once (Consul cannot bind an address twice)", () => {
        const consul = run.ofType(CONTAINER).find((c) => c.inputs.name === "consul") as RecordedResource;
        expect(JSON.parse((consul.inputs.uploads as { content: string }[])[0].content).client_addr).toBe("127.0.0.1");
    });
});

test("duplicate engine names stop the swarm before init", async () => {
    const { duplicateEngineNames } = await import("../lib/topology");
    expect(duplicateEngineNames({ node1: "docker01", node2: "docker01", node3: "docker03" })).toEqual([
        'node1, node2 are all named "docker01"',
    ]);
    expect(duplicateEngineNames({ node1: "a", node2: "b" })).toEqual([]);
});

test("registratorInternalAddresses switches registrator to container-internal addresses", async () => {
    const model = stackModel("dev");
    model.registrator.internalAddresses = true;
    const run = await runUnderMocks(() => new Platform("platform", { model }));
    const registrator = run.ofType(CONTAINER).find((c) => c.inputs.name === "registrator") as RecordedResource;
    expect(registrator.inputs.command).toContain("-internal");
});

describe("SSH identity and host keys", () => {
    const HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ8tV4WvWhK1loc52/8avMj+FyLJgNwu+FMSVypfXKJ6";
    const PRIVATE_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nsecret-material-for-this-test\n-----END OPENSSH PRIVATE KEY-----\n";

    test("a key given only as the secret sshPrivateKey reaches the scripts from memory and is never written to a file", async () => {
        const model = stackModel("multihost");
        for (const host of model.hosts) host.connection = { kind: "ssh", user: "root", port: 22 };
        // Only files written from here on: the machine's /tmp may hold anything, this test's own text included.
        const started = Date.now() - 1000;
        const run = await runUnderMocks(() => new Platform("platform", { model, sshPrivateKey: pulumi.secret(PRIVATE_KEY) }));
        expect(filesHolding(os.tmpdir(), "secret-material-for-this-test", started)).toEqual([]);
        const join = run.byName("platform-swarm-member-node2");
        expect((join.inputs.connection as { privateKey: string }).privateKey).toBe(PRIVATE_KEY);
        for (const p of run.ofType("pulumi:providers:docker")) expect(JSON.parse(p.inputs.sshOpts as string)).not.toContain("-i");
    });

    test("the Docker CLI's ssh gets the key file under the path the stack wrote; the scripts get its content", async () => {
        const model = stackModel("multihost");
        const keyPath = (model.hosts[0].connection as { privateKeyPath: string }).privateKeyPath;
        const run = await runUnderMocks(() => new Platform("platform", { model }));
        for (const p of run.ofType("pulumi:providers:docker")) {
            const opts = JSON.parse(p.inputs.sshOpts as string) as string[];
            expect(opts[opts.indexOf("-i") + 1]).toBe(keyPath);
        }
        expect((run.byName("platform-swarm-member-node1").inputs.connection as { privateKey: string }).privateKey).toBe(
            fs.readFileSync(keyPath, "utf8"),
        );
    });

    test("a pinned host key reaches both the scripts' connection and the Docker CLI's ssh", async () => {
        const model = stackModel("multihost");
        for (const host of model.hosts) if (host.connection.kind === "ssh") host.connection.hostKey = HOST_KEY;
        const run = await runUnderMocks(() => new Platform("platform", { model }));
        expect((run.byName("platform-swarm-member-node3").inputs.connection as { hostKey: string }).hostKey).toBe(HOST_KEY);
        for (const p of run.ofType("pulumi:providers:docker")) {
            const opts = JSON.parse(p.inputs.sshOpts as string) as string[];
            expect(opts).toEqual(
                expect.arrayContaining([
                    "StrictHostKeyChecking=yes",
                    "UserKnownHostsFile=/dev/null",
                    `KnownHostsCommand=/bin/echo %H ${HOST_KEY}`,
                ]),
            );
        }
    });
});

test("a key file that does not exist stops the program naming the host and the key", async () => {
    const model = stackModel("multihost");
    model.hosts[1].connection = { kind: "ssh", user: "root", port: 22, privateKeyPath: "/nonexistent/id_ed25519" };
    await expect(runUnderMocks(() => new Platform("platform", { model }))).rejects.toThrow(
        "host node2: ssh.privateKeyPath /nonexistent/id_ed25519 does not exist on this machine; point it at the key that logs in to 192.0.2.12",
    );
});
