import { execFile, execFileSync } from "child_process";
import { lstatSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "fs";
import { AddressInfo } from "net";
import { createServer } from "http";
import { tmpdir } from "os";
import { join } from "path";
import { KEEPALIVED_CONF_PATH, KeepalivedSettings, keepalivedArgs, renderKeepalivedConf } from "../render/keepalived";

const master: KeepalivedSettings = {
    routerId: "edge-1",
    state: "MASTER",
    priority: 150,
    interfaceName: "eth0",
    virtualRouterId: 51,
    vip: "10.77.0.100",
    prefixLength: 24,
    sourceAddress: "10.77.0.41",
    healthUrl: "http://127.0.0.1:80/healthz",
};
const backup: KeepalivedSettings = { ...master, routerId: "edge-2", state: "BACKUP", priority: 100, sourceAddress: "10.77.0.42" };

/** The lines of the `name { ... }` block, trimmed. */
function block(conf: string, name: string): string[] {
    const match = new RegExp(`^\\s*${name} \\{\\n([\\s\\S]*?)\\n\\s*\\}`, "m").exec(conf);
    if (!match) throw new Error(`no block ${name}`);
    return match[1].split("\n").map((l) => l.trim());
}

describe("renderKeepalivedConf", () => {
    const masterConf = renderKeepalivedConf(master);
    const backupConf = renderKeepalivedConf(backup);

    test("MASTER and BACKUP carry their own state and priority, the MASTER's higher", () => {
        expect(masterConf).toMatch(/^\s+state MASTER$/m);
        expect(masterConf).toMatch(/^\s+priority 150$/m);
        expect(backupConf).toMatch(/^\s+state BACKUP$/m);
        expect(backupConf).toMatch(/^\s+priority 100$/m);
    });

    test("advertises to VRRP's multicast group from the host's own address, naming no peer", () => {
        expect(masterConf).toMatch(/^\s+mcast_src_ip 10\.77\.0\.41$/m);
        expect(backupConf).toMatch(/^\s+mcast_src_ip 10\.77\.0\.42$/m);
        expect(masterConf).not.toMatch(/unicast/);
    });

    test("speaks VRRPv3 with adverts twice a second, so a silent holder loses the VIP in about 1.5 s", () => {
        expect(block(masterConf, "global_defs")).toContain("vrrp_version 3");
        expect(block(masterConf, "vrrp_instance edge_vip")).toContain("advert_int 0.5");
        // VRRPv3 has no authentication: a block would be ignored with a warning, or refused.
        expect(masterConf).not.toMatch(/authentication|auth_pass/);
    });

    test.each([0, 255, 1.5])("refuses priority %p", (priority) => {
        expect(() => renderKeepalivedConf({ ...master, priority })).toThrow(/priority/);
    });

    test.each([0, 256])("refuses virtual router id %p", (virtualRouterId) => {
        expect(() => renderKeepalivedConf({ ...master, virtualRouterId })).toThrow(/virtualRouterId/);
    });

    test("refuses the VIP as the advertisements' source", () => {
        expect(() => renderKeepalivedConf({ ...master, sourceAddress: master.vip })).toThrow(/source address/);
    });

    test("puts the VIP on the interface", () => {
        expect(masterConf).toMatch(/^\s+interface eth0$/m);
        expect(masterConf).toMatch(/^\s+virtual_router_id 51$/m);
        expect(block(masterConf, "virtual_ipaddress")).toEqual(["10.77.0.100/24 dev eth0"]);
    });

    test("tracks the edge health, going to FAULT (no weight) when it fails", () => {
        expect(block(masterConf, "track_script")).toEqual(["chk_edge"]);
        const check = block(masterConf, "vrrp_script chk_edge");
        expect(check).toEqual(expect.arrayContaining(["interval 1", "fall 1", "rise 2"]));
        expect(check.some((l) => l.startsWith("weight"))).toBe(false);
    });

    test("runs the check as root under script security", () => {
        expect(block(masterConf, "global_defs")).toEqual(expect.arrayContaining(["enable_script_security", "script_user root"]));
    });
});

describe("keepalived accepts the configuration", () => {
    let dir: string;
    beforeAll(() => {
        dir = mkdtempSync(join(tmpdir(), "edge-keepalived-"));
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    // keepalived refuses interfaces that do not exist and loopback ones, so test on a real one.
    const nic = readdirSync("/sys/class/net")
        .filter((n) => n !== "lo")
        .sort((a, b) => Number(b === "eth0") - Number(a === "eth0"))[0];
    const configTest = (conf: string): void => {
        const path = join(dir, "keepalived.conf");
        writeFileSync(path, conf);
        execFileSync("keepalived", ["--config-test", "-f", path], { stdio: "pipe" });
    };

    test.each([master, backup])("for the $state", (settings) => {
        expect(() => configTest(renderKeepalivedConf({ ...settings, interfaceName: nic }))).not.toThrow();
    });

    test("and rejects a broken one, so the check can fail", () => {
        const broken = renderKeepalivedConf({ ...master, interfaceName: nic }).replace("        chk_edge", "        chk_missing");
        expect(() => configTest(broken)).toThrow(/keepalived/);
    });
});

describe("keepalivedArgs", () => {
    const [shell, flag, script] = keepalivedArgs();
    const option = (name: string): string => {
        const match = new RegExp(` --${name}=(\\S+)`).exec(script);
        if (!match) throw new Error(`no --${name}`);
        return match[1];
    };

    test("execs keepalived in the foreground, VRRP only, on the uploaded file", () => {
        expect([shell, flag]).toEqual(["/bin/sh", "-c"]);
        expect(script).toMatch(/&& exec keepalived --dont-fork --log-console /);
        expect(script).toContain(" --vrrp ");
        expect(option("use-file")).toBe(KEEPALIVED_CONF_PATH);
        execFileSync("sh", ["-n", "-c", script]);
    });

    test("first removes the pid files a previous run of the container left behind", () => {
        expect(script.startsWith(`rm -f ${option("pid")} ${option("vrrp_pid")} && `)).toBe(true);
    });
});

describe("the edge health check keepalived runs", () => {
    const [shell, flag, inner] = (() => {
        const line = block(renderKeepalivedConf(master), "vrrp_script chk_edge").find((l) => l.startsWith("script "));
        const match = /^script "(\S+) (-c) '([^']*)'"$/.exec(line ?? "");
        if (!match) throw new Error(`unexpected script line: ${line}`);
        return match.slice(1);
    })();

    test("names its shell by a path without symlinks, which script security would refuse", () => {
        expect(flag).toBe("-c");
        const components = shell
            .split("/")
            .slice(1)
            .map((_, i, parts) => "/" + parts.slice(0, i + 1).join("/"));
        expect(components.filter((p) => lstatSync(p).isSymbolicLink())).toEqual([]);
    });

    /** Runs the check against a local server answering `statuses` in turn; its exit code and how often it asked. */
    async function runAgainst(statuses: number[]): Promise<{ code: number; asks: number }> {
        let asks = 0;
        const server = createServer((_req, res) => res.writeHead(statuses[Math.min(asks++, statuses.length - 1)]).end());
        await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
        const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/healthz`;
        const script = inner.split(master.healthUrl).join(url);
        try {
            const code = await new Promise<number>((resolve) => execFile(shell, [flag, script], (e) => resolve(e ? Number(e.code) : 0)));
            return { code, asks };
        } finally {
            server.close();
        }
    }

    test("passes when the edge answers twice, half a second apart", async () => {
        const started = Date.now();
        expect(await runAgainst([200, 200])).toEqual({ code: 0, asks: 2 });
        expect(Date.now() - started).toBeGreaterThanOrEqual(500);
    });

    test("fails at the first failing answer, without asking again", async () => {
        expect(await runAgainst([503])).toEqual({ code: 22, asks: 1 });
    });

    test("fails when the edge stops answering between the two asks", async () => {
        expect(await runAgainst([200, 503])).toEqual({ code: 22, asks: 2 });
    });
});
