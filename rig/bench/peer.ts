/**
 * The peer proxy the edge is compared with: Debian's HAProxy in a rig host's network namespace and in
 * its own cgroup beside the edge's container (so it competes for CPU as a process on that host would),
 * with the same upstreams as the edge (the instances Consul passes) and the same keep-alive to them.
 * Started and stopped by pid.
 */
import { spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { sleep } from "../lib";
import { CpuCgroup, copyCpuWeight, createCgroup, enterCgroup, removeCgroup, siblingCgroup } from "./cgroup";

export interface Upstream {
    address: string;
    port: number;
}

/**
 * The headers the edge sets on every proxied request, set alike by the peer: the demo backend echoes
 * every request header, so a peer sending fewer would hand the backends less work per request.
 */
const FORWARDED_HEADERS = [
    "    option forwardfor",
    "    http-request set-header X-Real-IP %[src]",
    "    http-request set-header X-Forwarded-Proto http",
    "    http-request set-header X-Forwarded-Host %[req.hdr(host)]",
];

/**
 * HAProxy's config: round robin over `upstreams`, reusing server connections as nginx's `keepalive`
 * does, with the edge's forwarded headers.
 */
export function renderPeerConfig(listen: string, upstreams: Upstream[], threads: number): string {
    return [
        "global",
        `    nbthread ${threads}`,
        // A port some other proxy holds fails the start instead of splitting the connections between them.
        "    noreuseport",
        "    maxconn 4096",
        "defaults",
        "    mode http",
        "    option http-keep-alive",
        "    timeout connect 2s",
        "    timeout client 65s",
        "    timeout server 30s",
        "frontend peer",
        `    bind ${listen}`,
        "    default_backend upstreams",
        "backend upstreams",
        "    balance roundrobin",
        "    http-reuse safe",
        ...FORWARDED_HEADERS,
        ...upstreams.map((u, i) => `    server u${i + 1} ${u.address}:${u.port}`),
        "",
    ].join("\n");
}

export interface PeerProxy {
    url: string;
    cgroup: CpuCgroup;
    stop: () => Promise<void>;
}

/**
 * Starts HAProxy inside rig-h<host> listening on `address:port`, in a cgroup beside `beside` (the
 * edge's) and with its CPU weight; resolves once it accepts connections.
 */
export async function startPeer(
    host: number,
    address: string,
    port: number,
    upstreams: Upstream[],
    threads: number,
    beside: CpuCgroup,
): Promise<PeerProxy> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rig-peer-"));
    const config = path.join(dir, "haproxy.cfg");
    fs.writeFileSync(config, renderPeerConfig(`${address}:${port}`, upstreams, threads));
    const cgroup = siblingCgroup(beside, `rig-peer-${port}`);
    createCgroup(cgroup);
    // `ip netns exec` execs HAProxy in place, so the child's pid is HAProxy's; moving it into the
    // cgroup moves every thread it has or starts.
    const child = spawn("ip", ["netns", "exec", `rig-h${host}`, "haproxy", "-db", "-f", config], { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", (e) => (stderr += e.message));
    const exited = new Promise<void>((resolve) => child.on("close", () => resolve()));
    const stop = async () => {
        child.kill("SIGTERM");
        await Promise.race([exited, sleep(5000)]);
        if (child.exitCode === null) {
            child.kill("SIGKILL");
            await Promise.race([exited, sleep(5000)]);
        }
        removeCgroup(cgroup);
        fs.rmSync(dir, { recursive: true, force: true });
    };
    const pid = child.pid;
    try {
        if (pid === undefined) throw new Error("no process");
        copyCpuWeight(beside, cgroup);
        enterCgroup(cgroup, pid);
    } catch (e) {
        await stop();
        throw new Error(
            `HAProxy in rig-h${host} did not start in ${cgroup.dirs[0]}: ${e instanceof Error ? e.message : String(e)} ${stderr.slice(0, 300)}`,
        );
    }
    // Up when its listener shows in the host's socket table; bounded to 10 s.
    for (let i = 0; i < 50; i++) {
        if (child.exitCode !== null) break;
        const listening = fs
            .readFileSync(`/proc/${pid}/net/tcp`, "utf8")
            .includes(`:${port.toString(16).toUpperCase().padStart(4, "0")} 00000000:0000 0A`);
        if (listening) return { url: `http://${address}:${port}/`, cgroup, stop };
        await sleep(200);
    }
    await stop();
    throw new Error(`HAProxy did not listen on ${address}:${port} in rig-h${host}: ${stderr.slice(0, 300)}`);
}
