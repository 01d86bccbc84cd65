import * as pulumi from "@pulumi/pulumi";
import { loadPlatformConfig } from "../lib/config";

const host = { name: "h1", address: "192.168.50.11", roles: ["manager", "consul-server", "edge"], ssh: { privateKeyPath: "/tmp/k" } };

function load(config: Record<string, unknown>) {
    pulumi.runtime.setAllConfig(
        Object.fromEntries(Object.entries(config).map(([k, v]) => [`swarm-platform:${k}`, typeof v === "string" ? v : JSON.stringify(v)])),
    );
    return loadPlatformConfig(new pulumi.Config("swarm-platform"), "unit");
}

describe("loadPlatformConfig", () => {
    test("applies Pulumi.yaml's defaults to what the stack leaves out", () => {
        const { model } = load({ hosts: [host] });
        expect(model.overlay.subnet).toBe("10.10.0.0/16");
        expect(model.gwbridge.subnet).toBe("172.21.0.0/20");
        expect(model.tiers.map((t) => t.name)).toEqual(["app", "mongo", "zookeeper"]);
    });

    test("reads stack values over defaults, typed", () => {
        const { model } = load({ hosts: [host], edgePort: "8081", overlayEncrypted: "true" });
        expect(model.edge.port).toBe(8081);
        expect(model.overlay.encrypted).toBe(true);
    });

    test("bad input stops the program with every problem, each naming its key", () => {
        let message = "";
        try {
            load({ hosts: [{ ...host, roles: ["boss"] }], overlaySubnet: "10.10.0.0/8" });
        } catch (e) {
            message = (e as Error).message;
        }
        expect(message).toMatch(/^stack config of "unit" is invalid \(\d+ problem\(s\)\):\n/);
        expect(message).toContain(
            '  - hosts[0].roles[0]: unknown role "boss". Fix: use one of manager, worker, consul-server, consul-client, edge.',
        );
        expect(message).toContain('  - overlaySubnet: "10.10.0.0/8" is not a valid IPv4 CIDR.');
    });
});
