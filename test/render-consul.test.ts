import { execFileSync } from "child_process";
import {
    CONSUL_CONFIG_DIR,
    CONSUL_DATA_DIR,
    CONSUL_POLICIES,
    CONSUL_TOKEN_ROLES,
    ConsulAgentSettings,
    consulAgentArgs,
    consulTokenOf,
    gossipKeyOf,
    parseNameservers,
    renderConsulAclApply,
    renderConsulAclSetup,
    renderConsulAgentConfig,
    renderConsulDataOwner,
    renderDnsRedirectApply,
    renderDnsRedirectRemove,
    renderNameservers,
} from "../render/consul";
import { dnsListenPort } from "../lib/consul";

const base: ConsulAgentSettings = {
    nodeName: "node-1",
    nodeId: "3f0c9d6e-2b1a-4c55-9e0f-1a2b3c4d5e6f",
    address: "10.77.0.11",
    server: true,
    bootstrapExpect: 3,
    retryJoin: ["10.77.0.12", "10.77.0.13"],
    datacenter: "dc1",
    clientAddress: "127.0.0.1 10.77.0.11",
    httpPort: 8500,
    dnsPort: 53,
    dnsAddress: "172.21.0.1",
    recursors: ["10.77.0.1"],
    encryptKey: "pUqJrVyVRj5jsiYEkM/tFQYfWyJIv4s3XkvDwy7Cu5s=",
    acl: { agent: "agent-token", default: "dns-token", management: "management-token" },
};

const parse = (s: ConsulAgentSettings): Record<string, unknown> => JSON.parse(renderConsulAgentConfig(s)) as Record<string, unknown>;

describe("renderConsulAgentConfig", () => {
    test("a server expects its peers, keeps its Raft membership on stop and serves the UI", () => {
        const config = parse(base);
        expect(config).toMatchObject({
            data_dir: CONSUL_DATA_DIR,
            node_name: "node-1",
            node_id: base.nodeId,
            datacenter: "dc1",
            bind_addr: "10.77.0.11",
            advertise_addr: "10.77.0.11",
            client_addr: "127.0.0.1 10.77.0.11",
            server: true,
            bootstrap_expect: 3,
            performance: { raft_multiplier: 1 },
            retry_join: ["10.77.0.12", "10.77.0.13"],
            ui_config: { enabled: true },
            ports: { http: 8500, dns: 53 },
            addresses: { dns: "172.21.0.1" },
            recursors: ["10.77.0.1"],
            dns_config: { only_passing: true, enable_truncate: true, allow_stale: false },
            encrypt: base.encryptKey,
            leave_on_terminate: false,
            skip_leave_on_interrupt: true,
            disable_update_check: true,
        });
    });

    test("a client has no bootstrap_expect, joins the servers and leaves on stop", () => {
        const config = parse({ ...base, nodeName: "worker-1", server: false, retryJoin: ["10.77.0.11", "10.77.0.12"] });
        expect(config).not.toHaveProperty("bootstrap_expect");
        expect(config).not.toHaveProperty("performance");
        expect(config).toMatchObject({
            server: false,
            retry_join: ["10.77.0.11", "10.77.0.12"],
            leave_on_terminate: true,
            skip_leave_on_interrupt: false,
            encrypt: base.encryptKey,
        });
    });

    test("no key Consul 1.20 deprecated (ui became ui_config in 1.9)", () => {
        const config = parse(base);
        expect(config).not.toHaveProperty("ui");
        expect(Object.keys(config.ports as object).sort()).toEqual(["dns", "http"]);
    });

    test("output is stable JSON with two-space indentation and a trailing newline", () => {
        const text = renderConsulAgentConfig(base);
        expect(text).toBe(renderConsulAgentConfig({ ...base }));
        expect(text.startsWith('{\n  "data_dir": ')).toBe(true);
        expect(text.endsWith("}\n")).toBe(true);
    });

    test.each([0, -1, 1.5])("a server with bootstrapExpect %p is refused", (bootstrapExpect) => {
        expect(() => renderConsulAgentConfig({ ...base, bootstrapExpect })).toThrow(/bootstrapExpect/);
    });

    test("a client ignores bootstrapExpect", () => {
        expect(() => renderConsulAgentConfig({ ...base, server: false, bootstrapExpect: 0 })).not.toThrow();
    });
});

test("consulAgentArgs runs the agent on the uploaded config directory", () => {
    expect(consulAgentArgs()).toEqual(["agent", `-config-dir=${CONSUL_CONFIG_DIR}`]);
});

test("the gossip key is 32 bytes in standard base64, as consul keygen makes them", () => {
    const key = gossipKeyOf("aB3dE5gH7jK9mN1pQ3sT5vX7zA9cE1gI");
    expect(key).toMatch(/^[A-Za-z0-9+/]{43}=$/);
    expect(Buffer.from(key, "base64")).toHaveLength(32);
});

test("the host's nameservers are read from resolv.conf, comments and options skipped", () => {
    const resolvConf = "# generated\nnameserver 127.0.0.53\noptions edns0\nsearch lan\nnameserver 192.168.1.1\nnameserver fd00::1\n";
    const out = execFileSync("sh", ["-c", renderNameservers().replace("/etc/resolv.conf", "/dev/stdin")], { input: resolvConf }).toString();
    expect(parseNameservers(out)).toEqual(["127.0.0.53", "192.168.1.1", "fd00::1"]);
});

describe("Consul ACLs", () => {
    test("every agent denies by default and holds its agent token and the read-only default token", () => {
        for (const server of [true, false]) {
            const acl = parse({ ...base, server }).acl as { enabled: boolean; default_policy: string; tokens: Record<string, string> };
            expect(acl).toMatchObject({
                enabled: true,
                default_policy: "deny",
                down_policy: "extend-cache",
                enable_token_persistence: false,
            });
            expect(acl.tokens.agent).toBe("agent-token");
            expect(acl.tokens.default).toBe("dns-token");
        }
    });

    test("only servers hold the management token", () => {
        expect((parse(base).acl as { tokens: Record<string, string> }).tokens.initial_management).toBe("management-token");
        expect((parse({ ...base, server: false }).acl as { tokens: Record<string, string> }).tokens).not.toHaveProperty(
            "initial_management",
        );
    });

    test("tokens are UUIDs, stable for a seed, distinct per role and per seed", () => {
        const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
        const all = CONSUL_TOKEN_ROLES.flatMap((r) => Object.values(consulTokenOf("seed-a", r)));
        for (const id of all) expect(id).toMatch(uuid);
        expect(new Set(all).size).toBe(all.length);
        expect(consulTokenOf("seed-a", "registrator")).toEqual(consulTokenOf("seed-a", "registrator"));
        expect(consulTokenOf("seed-b", "registrator").secret).not.toBe(consulTokenOf("seed-a", "registrator").secret);
    });

    test("least privilege: only the agent writes nodes, only registrator writes services, nobody else writes", () => {
        const writes = (rules: string) => [...rules.matchAll(/(\w+) "" \{ policy = "write" \}/g)].map((m) => m[1]);
        expect(writes(CONSUL_POLICIES.agent)).toEqual(["node_prefix"]);
        expect(writes(CONSUL_POLICIES.registrator)).toEqual(["service_prefix"]);
        expect(writes(CONSUL_POLICIES.dns)).toEqual([]);
        expect(writes(CONSUL_POLICIES["consul-template"])).toEqual([]);
        for (const rules of Object.values(CONSUL_POLICIES)) expect(rules).not.toMatch(/acl|operator|keyring/);
    });

    test("the setup script is valid sh, idempotent per policy and token, and bounded while waiting for a leader", () => {
        const script = renderConsulAclSetup("seed-a", "127.0.0.1:8500");
        execFileSync("sh", ["-n"], { input: script });
        expect(script).toContain(`CONSUL_HTTP_TOKEN='${consulTokenOf("seed-a", "management").secret}'`);
        expect(script).toMatch(/\[ "\$i" -le 120 \] \|\| \{/);
        for (const role of ["agent", "dns", "registrator", "consul-template"] as const) {
            const t = consulTokenOf("seed-a", role);
            expect(script).toContain(`consul acl policy update -name swarm-platform-${role} `);
            expect(script).toContain(
                `consul acl token read -accessor-id ${t.accessor} >/dev/null 2>&1 || consul acl token create -accessor ${t.accessor} -secret ${t.secret} -policy-name swarm-platform-${role} `,
            );
        }
        // The script, tokens and all, goes to stdin: nothing secret on the host's command line.
        expect(renderConsulAclApply()).not.toMatch(/[0-9a-f]{8}-[0-9a-f]{4}/);
    });
});

describe("an unprivileged agent", () => {
    test("below 1024 Consul listens on 8600 and the host redirects; from 1024 up it listens on the port itself", () => {
        expect(dnsListenPort(53)).toBe(8600);
        expect(dnsListenPort(8600)).toBe(8600);
        expect(dnsListenPort(5353)).toBe(5353);
    });

    test("the redirect sends containers' and the host's DNS for the gateway, udp and tcp, to Consul's port, idempotently", () => {
        const apply = renderDnsRedirectApply("172.21.0.1", 53, 8600);
        execFileSync("sh", ["-n"], { input: apply });
        for (const chain of ["PREROUTING", "OUTPUT"]) {
            for (const proto of ["udp", "tcp"]) {
                const spec = `-d 172.21.0.1/32 -p ${proto} --dport 53 -m comment --comment swarm-platform-consul-dns -j DNAT --to-destination 172.21.0.1:8600`;
                expect(apply).toContain(`iptables -t nat -C ${chain} ${spec} 2>/dev/null || iptables -t nat -I ${chain} 1 ${spec}`);
            }
        }
        const remove = renderDnsRedirectRemove("172.21.0.1", 53, 8600);
        execFileSync("sh", ["-n"], { input: remove });
        expect(remove.match(/while iptables -t nat -C .* do iptables -t nat -D /g)).toHaveLength(4);
        expect(remove.indexOf("docker stop firewall-keeper")).toBeLessThan(remove.indexOf("iptables -t nat -D"));
    });

    test("the data volume is handed to the consul user by a throwaway root container of the agent's image", () => {
        const script = renderConsulDataOwner("consul-data-abc", "sha256:0123");
        execFileSync("sh", ["-n"], { input: script });
        expect(script).toContain(
            "docker run --rm --network none --user 0:0 --entrypoint chown -v 'consul-data-abc:/consul/data' 'sha256:0123' -R 100:1000 /consul/data",
        );
    });
});
