import { ChildProcess, execFileSync, spawn } from "child_process";
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { FakeBin } from "./fakeBin";
import { EdgeServiceSpec } from "../lib/model";
import {
    EDGE_HEALTH_PATH,
    EDGE_PATHS,
    EDGE_STOP_SECONDS,
    renderConsulTemplateConfig,
    renderEdgeCommand,
    renderNginxConf,
    renderUpstreamsTemplate,
} from "../render/edge";
import { NGINX } from "./nginx";

const services: EdgeServiceSpec[] = [
    { service: "web", path: "/" },
    { service: "api-v2", path: "/api/" },
];
const PORT = 8088;

const DNS = { address: "172.21.0.1", port: 8600 };

/**
 * Renders the upstreams template the way consul-template does, for the only constructs it uses:
 * `{{-` trimming and `{{ if service "x" }}...{{ end }}`, true when the service has a passing instance.
 * Anything else left in the output fails the test, so the template cannot silently outgrow this.
 */
function emulateConsulTemplate(template: string, passing: string[]): string {
    const rendered = template
        .replace(/\s*\{\{-/g, "{{")
        .replace(/\{\{ if service "([^"]+)" \}\}([\s\S]*?)\{\{ end \}\}/g, (_all, service: string, body: string) =>
            passing.includes(service) ? body : "",
        );
    if (rendered.includes("{{")) throw new Error(`unemulated template action in:\n${rendered}`);
    return rendered;
}

/** The text of one `upstream <name> { ... }` block. */
function upstream(text: string, name: string): string {
    const match = new RegExp(`upstream ${name} \\{[\\s\\S]*?\\n\\}`).exec(text);
    if (!match) throw new Error(`no upstream ${name}`);
    return match[0];
}

/** The text of the `location <path> { ... }` block. */
function location(text: string, path: string): string {
    const match = new RegExp(`location ${path.replace(/[/.]/g, "\\$&")} \\{[\\s\\S]*?\\n    \\}`).exec(text);
    if (!match) throw new Error(`no location ${path}`);
    return match[0];
}

describe("renderUpstreamsTemplate", () => {
    const template = renderUpstreamsTemplate(services, PORT, DNS);

    test.each(services)("service $service gets an upstream re-resolved from Consul's SRV records, with a down fallback", ({ service }) => {
        const block = upstream(template, service);
        expect(block).toContain(`zone upstream_${service} 64k;`);
        expect(block).toContain("server 127.0.0.1:65535 down;");
        expect(block).toContain(`{{- if service "${service}" }}`);
        expect(block).toMatch(new RegExp(`server service\\.consul service=_${service}\\._tcp resolve max_fails=2 fail_timeout=10s;`));
        expect(block).toMatch(/keepalive \d+;/);
    });

    test("asks the host's Consul agent's DNS (its answers have TTL 0, so nginx asks every second) and never pastes a catalog entry into the config", () => {
        expect(template).toMatch(/^resolver 172\.21\.0\.1:8600 ipv6=off;$/m);
        expect(template).toMatch(/^resolver_timeout \d+s;$/m);
        expect(template).not.toMatch(/\.Address|\.Port|range service/);
    });

    test('only passing instances count (no health filter such as "any")', () => {
        expect(template.match(/service "[^"]+"/g)).toEqual(['service "web"', 'service "api-v2"']);
    });

    test("one server listens on the port, a socket per worker, and answers the health path itself", () => {
        expect(template.match(/^server \{/gm)).toHaveLength(1);
        expect(template).toContain(`listen ${PORT} reuseport;`);
        expect(location(template, `= ${EDGE_HEALTH_PATH}`)).toContain('return 200 "ok\\n";');
    });

    test.each(services)("path $path proxies to $service over kept-alive connections and retries the next instance", ({ service, path }) => {
        const block = location(template, path);
        expect(block).toContain(`proxy_pass http://${service};`);
        expect(block).toContain("proxy_http_version 1.1;");
        expect(block).toContain('proxy_set_header Connection "";');
        expect(block).toContain("proxy_set_header Host $host;");
        expect(block).toContain("proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;");
        expect(block).toContain("proxy_set_header X-Forwarded-Proto $scheme;");
        expect(block).toContain("proxy_next_upstream error timeout http_502 http_503;");
        // Unlimited tries, bounded by the servers in the upstream and the timeout: a fixed count can land on gone instances only.
        expect(block).toContain("proxy_next_upstream_tries 0;");
        expect(block).toContain("proxy_next_upstream_timeout 10s;");
        expect(block).toContain("proxy_connect_timeout 500ms;");
    });

    test("the emulated render routes a service with a passing instance beside the down server, and only the down server otherwise", () => {
        const rendered = emulateConsulTemplate(template, ["web"]);
        expect(upstream(rendered, "web")).toMatch(/down;\n\s+server service\.consul service=_web\._tcp resolve /);
        expect(upstream(rendered, "api-v2")).toMatch(/\{\n\s+zone [^\n]+\n\s+server 127\.0\.0\.1:65535 down;\n\s+keepalive/);
    });
});

describe("renderNginxConf", () => {
    const conf = renderNginxConf();

    test("includes the rendered upstreams and nothing the base image ships", () => {
        expect(conf.match(/^[ \t]*include\s+\S+;/gm)).toEqual([`    include ${EDGE_PATHS.upstreamsConf};`]);
        expect(conf).not.toMatch(/sites-enabled|conf\.d\/\*/);
    });

    test("leaves the user to the image, logs to the container and bounds old workers", () => {
        expect(conf).not.toMatch(/^\s*user\s/m);
        expect(conf).toContain("pid /run/nginx.pid;");
        expect(conf).toMatch(/^error_log stderr/m);
        expect(conf).toMatch(/^\s+access_log \/dev\/stdout combined buffer=\d+k flush=\d+s;$/m);
        expect(conf).toMatch(/^worker_shutdown_timeout \d+s;/m);
    });
});

describe("nginx accepts what the edge would run", () => {
    let dir: string;
    beforeAll(() => {
        dir = mkdtempSync(join(tmpdir(), "edge-nginx-"));
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    const nginxTest = (upstreams: string): void => {
        const upstreamsPath = join(dir, "upstreams.conf");
        writeFileSync(upstreamsPath, upstreams);
        writeFileSync(join(dir, "nginx.conf"), renderNginxConf(upstreamsPath));
        // nginx opens /dev/stdout for the access log. In a container that is a pipe; Node's piped stdio is
        // a socket, which cannot be reopened that way, so stdout goes to a file here.
        const stdout = openSync(join(dir, "stdout.log"), "w");
        try {
            execFileSync(NGINX, ["-t", "-q", "-e", "stderr", "-p", `${dir}/`, "-c", join(dir, "nginx.conf")], {
                stdio: ["ignore", stdout, "pipe"],
            });
        } finally {
            closeSync(stdout);
        }
    };
    const template = renderUpstreamsTemplate(services, PORT, DNS);

    test("with passing instances", () => {
        expect(() => nginxTest(emulateConsulTemplate(template, ["web", "api-v2"]))).not.toThrow();
    });

    test("with one service passing and one not", () => {
        expect(() => nginxTest(emulateConsulTemplate(template, ["api-v2"]))).not.toThrow();
    });

    test("with no passing instance at all", () => {
        expect(() => nginxTest(emulateConsulTemplate(template, []))).not.toThrow();
    });

    test("and rejects an unrendered template, so the check can fail", () => {
        expect(() => nginxTest(template)).toThrow(/nginx/);
    });
});

describe("renderConsulTemplateConfig", () => {
    const hcl = renderConsulTemplateConfig("10.77.0.31:8500", "0b6e2f4c-1d3a-4e5f-8a9b-0c1d2e3f4a5b");

    test("talks to the local agent with its own ACL token", () => {
        expect(hcl).toContain('consul {\n  address = "10.77.0.31:8500"\n  token   = "0b6e2f4c-1d3a-4e5f-8a9b-0c1d2e3f4a5b"\n');
    });
    const commandOf = (block: string): string[] => {
        const match = new RegExp(`${block} \\{[\\s\\S]*?command\\s*=\\s*(\\[.*\\])`, "m").exec(hcl);
        if (!match) throw new Error(`no command in ${block}`);
        return JSON.parse(match[1]) as string[];
    };
    const reloadScript = (): string => {
        const command = commandOf("template \\{[\\s\\S]*?exec");
        expect(command.slice(0, 2)).toEqual(["/bin/sh", "-c"]);
        return command[2];
    };

    test("talks to the given agent and keeps retrying it", () => {
        expect(hcl).toContain('address = "10.77.0.31:8500"');
        expect(hcl).toMatch(/retry \{[^}]*attempts\s*=\s*0/);
    });

    test("supervises nginx in the foreground, stops it gracefully and never restarts it on a change", () => {
        expect(commandOf("^exec")).toEqual(["nginx", "-c", EDGE_PATHS.nginxConf, "-g", "daemon off;"]);
        const exec = /^exec \{[^}]*\}/m.exec(hcl)?.[0] ?? "";
        expect(exec).toContain('kill_signal   = "SIGQUIT"');
        expect(exec).toContain('reload_signal = "SIGNULL"');
        expect(hcl).toMatch(/^kill_signal = "SIGTERM"$/m);
    });

    test("renders the upstreams template into the file nginx includes, without a quiet period that could swallow a service's return", () => {
        expect(hcl).toContain(`source      = "${EDGE_PATHS.upstreamsTemplate}"`);
        expect(hcl).toContain(`destination = "${EDGE_PATHS.upstreamsConf}"`);
        expect(hcl).not.toMatch(/^\s*wait\s*[={]/m);
    });

    test("tests the configuration before reloading nginx by signal, and tolerates both failures", () => {
        const script = reloadScript();
        const testAt = script.indexOf(`nginx -t -q -c ${EDGE_PATHS.nginxConf} ||`);
        const reloadAt = script.indexOf('kill -HUP "$pid"');
        expect(testAt).toBeGreaterThanOrEqual(0);
        expect(reloadAt).toBeGreaterThan(testAt);
        // A failed test and an absent or foreign pid both end in `exit 0`: a failing command would stop consul-template.
        expect(script.match(/\|\| \{[^}]*exit 0; \}/g)).toHaveLength(1);
        expect(script).toContain("/proc/$pid/comm");
        expect(script).not.toMatch(/restart|-s stop|-s quit/);
        execFileSync("sh", ["-n", "-c", script]);
    });

    test("has balanced braces", () => {
        const withoutStrings = hcl.replace(/"(?:[^"\\]|\\.)*"/g, '""');
        expect(withoutStrings.split("{").length).toBe(withoutStrings.split("}").length);
    });
});

describe("renderEdgeCommand, run by sh with a stand-in consul-template", () => {
    let fake: FakeBin;
    let flag: string;
    let child: ChildProcess | undefined;
    beforeEach(() => {
        // Notes whether the drain mark exists when it starts and when it gets SIGTERM, then exits 7.
        const note = (what: string) => `{ [ -e "$FAKE/draining" ] && echo "${what} drained" || echo "${what} serving"; } >> "$FAKE/events"`;
        fake = new FakeBin({
            "consul-template": `#!/bin/sh\necho "$*" > "$FAKE/args"\n${note("start")}\ntrap '${note("term")}; exit 7' TERM\nwhile :; do sleep 0.05; done\n`,
        });
        flag = fake.path("draining");
    });
    afterEach(() => {
        child?.kill("SIGKILL");
        fake.remove();
    });
    const events = (): string[] => fake.lines("events");
    const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
    /** Polls `events` every 50 ms for at most 5 s until it has `n` lines. */
    async function eventsReach(n: number): Promise<string[]> {
        for (let i = 0; i < 100 && events().length < n; i++) await sleep(50);
        return events();
    }
    function start(vip: string | undefined): Promise<number | null> {
        const command = renderEdgeCommand(vip, flag);
        expect(command.slice(0, 2)).toEqual(["/bin/sh", "-c"]);
        writeFileSync(flag, "");
        const proc = spawn(command[0], command.slice(1), { env: fake.env(), stdio: "ignore" });
        child = proc;
        return new Promise((resolve) => proc.on("exit", (code) => resolve(code)));
    }

    test("clears a drain mark left from before, then runs consul-template on the edge's config", async () => {
        const exited = start(undefined);
        expect(await eventsReach(1)).toEqual(["start serving"]);
        expect(fake.read("args").trim()).toBe(`-config ${EDGE_PATHS.consulTemplateConfig}`);
        child?.kill("SIGTERM");
        expect(await exited).toBe(7);
    });

    test("on SIGTERM marks the edge draining before consul-template is told to stop, and exits with its status", async () => {
        const exited = start("192.0.2.10");
        await eventsReach(1);
        child?.kill("SIGTERM");
        expect(await exited).toBe(7);
        expect(events()).toEqual(["start serving", "term drained"]);
    });

    test("keeps serving while the VIP is still on this host, and stops once the wait runs out", async () => {
        // 127.0.0.1 is local wherever the test runs, like a VIP no other edge has taken.
        const exited = start("127.0.0.1");
        await eventsReach(1);
        child?.kill("SIGTERM");
        await sleep(1000);
        expect(events()).toEqual(["start serving"]);
        expect(await exited).toBe(7);
        expect(events()).toEqual(["start serving", "term drained"]);
    });

    test("the container's stop timeout covers the drain and nginx's graceful stop after it", () => {
        const drainBound = Number(/-le (\d+)/.exec(renderEdgeCommand("192.0.2.10")[2])?.[1]);
        const nginxBound = Number(/kill_timeout\s*=\s*"(\d+)s"/.exec(renderConsulTemplateConfig("10.77.0.31:8500", "t"))?.[1]);
        expect(EDGE_STOP_SECONDS).toBeGreaterThan(drainBound + nginxBound);
    });
});
