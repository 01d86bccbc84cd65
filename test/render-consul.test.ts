import { execFileSync } from "child_process";
import { CONSUL_CONFIG_DIR, CONSUL_DATA_DIR, ConsulAgentSettings, consulAgentArgs, gossipKeyOf, parseNameservers, renderConsulAgentConfig, renderNameservers } from "../render/consul";

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
            retry_join: ["10.77.0.12", "10.77.0.13"],
            ui_config: { enabled: true },
            ports: { http: 8500, dns: 53 },
            addresses: { dns: "172.21.0.1" },
            recursors: ["10.77.0.1"],
            dns_config: { only_passing: true },
            encrypt: base.encryptKey,
            leave_on_terminate: false,
            skip_leave_on_interrupt: true,
            disable_update_check: true,
        });
    });

    test("a client has no bootstrap_expect, joins the servers and leaves on stop", () => {
        const config = parse({ ...base, nodeName: "worker-1", server: false, retryJoin: ["10.77.0.11", "10.77.0.12"] });
        expect(config).not.toHaveProperty("bootstrap_expect");
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
