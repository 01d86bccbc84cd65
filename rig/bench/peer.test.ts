import { execFileSync } from "child_process";
import { mkdtempSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { renderPeerConfig } from "./peer";
import { renderUpstreamsTemplate } from "../../render/edge";

const peer = renderPeerConfig(
    "127.0.0.1:8099",
    [
        { address: "192.0.2.11", port: 32768 },
        { address: "192.0.2.12", port: 32769 },
    ],
    2,
);

test("the peer proxy sets every X- header the edge sets on a proxied request", () => {
    const edge = renderUpstreamsTemplate([{ service: "web", path: "/" }], 80, { address: "172.21.0.1", port: 8600 });
    const edgeHeaders = [...edge.matchAll(/proxy_set_header (X-[\w-]+) /g)].map((m) => m[1]).sort();
    expect(edgeHeaders).toEqual(["X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Real-IP"]);
    const peerHeaders = [...peer.matchAll(/set-header (X-[\w-]+) /g)].map((m) => m[1]);
    if (/^\s*option forwardfor\b/m.test(peer)) peerHeaders.push("X-Forwarded-For");
    expect(peerHeaders.sort()).toEqual(edgeHeaders);
});

test("HAProxy accepts the peer's config", () => {
    const dir = mkdtempSync(join(tmpdir(), "peer-config-"));
    try {
        writeFileSync(join(dir, "haproxy.cfg"), peer);
        expect(execFileSync("haproxy", ["-c", "-f", join(dir, "haproxy.cfg")], { encoding: "utf8" })).toMatch(
            /Configuration file is valid/,
        );
    } finally {
        rmSync(dir, { recursive: true, force: true });
    }
});
