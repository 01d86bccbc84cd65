import { spawnSync } from "child_process";
import { mkdtempSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { DOCKER_PROXY_ALLOWED_PATH, DOCKER_PROXY_SOCKET, renderDockerProxyConfig } from "../render/dockerProxy";

describe("the Docker API proxy in front of registrator", () => {
    const allowed = new RegExp(DOCKER_PROXY_ALLOWED_PATH);

    test.each([
        "/_ping",
        "/v1.41/version",
        "/info",
        "/v1.47/events",
        "/containers/json",
        "/v1.43/containers/json",
        "/containers/3f2a9c/json",
        "/v1.43/containers/registrator/json",
    ])("passes the read registrator makes: %s", (path) => expect(allowed.test(path)).toBe(true));

    test.each([
        "/containers/create",
        "/v1.43/containers/abc/exec",
        "/containers/abc/archive",
        "/containers/abc/export",
        "/containers/abc/logs",
        "/images/json",
        "/secrets",
        "/swarm",
        "/containers/json/../../exec",
        "/v1.43/containers/abc/json/x",
        "/info?x=/containers/json",
    ])("refuses anything else: %s", (path) => expect(allowed.test(path)).toBe(false));

    test("only GET and HEAD, everything else 403, listening on the shared socket and passing to the engine's", () => {
        const cfg = renderDockerProxyConfig("/var/run/docker.sock");
        expect(renderDockerProxyConfig()).toContain("server engine /run/docker-engine.sock\n");
        expect(cfg).toContain(`bind ${DOCKER_PROXY_SOCKET} mode 666`);
        expect(cfg).toContain(`http-request deny deny_status 403 unless { method GET HEAD } { path_reg ${DOCKER_PROXY_ALLOWED_PATH} }`);
        expect(cfg).toMatch(/\n\s+server engine \/var\/run\/docker\.sock\n/);
        // A backslash would be read as an escape by HAProxy's parser.
        expect(cfg).not.toContain("\\");
    });
});

test("the real haproxy -c accepts the rendered config", () => {
    const dir = mkdtempSync(join(tmpdir(), "docker-proxy-"));
    try {
        const cfg = join(dir, "haproxy.cfg");
        writeFileSync(cfg, renderDockerProxyConfig(join(dir, "engine.sock")));
        const r = spawnSync("haproxy", ["-c", "-q", "-f", cfg], { encoding: "utf8" });
        expect(`${r.status} ${r.stderr}`).toBe("0 ");
        writeFileSync(cfg, renderDockerProxyConfig().replace("http-request deny", "http-request refuse"));
        expect(spawnSync("haproxy", ["-c", "-q", "-f", cfg]).status).not.toBe(0);
    } finally {
        rmSync(dir, { recursive: true, force: true });
    }
});
