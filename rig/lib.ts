/**
 * Shared helpers of the live rig: bounded child processes, the rig's hosts (reached through their
 * engine sockets, over ssh, or by HTTP to 10.77.0.x only) and host snapshots.
 */
import { spawn } from "child_process";
import * as fs from "fs";
import * as http from "http";
import * as path from "path";

export const RIG_STATE = process.env.RIG_STATE ?? "/run/swarm-platform-rig";
export const SSH_CONFIG = path.join(RIG_STATE, "ssh_config");
/** The rig's SSH key (hosts.sh makes one per rig): every rig host lets it in as root. */
export const RIG_KEY = path.join(RIG_STATE, "id_ed25519");
export const ROOT = path.join(__dirname, "..");

export interface RunResult {
    code: number;
    stdout: string;
    stderr: string;
    timedOut: boolean;
    ms: number;
}

export interface RunOptions {
    /** Fed to stdin, which is then closed; without it stdin is /dev/null. */
    input?: string | Buffer;
    env?: NodeJS.ProcessEnv;
    cwd?: string;
    timeoutMs?: number;
}

/** Runs a program with a hard time bound; the child (which we started) is killed by pid when it overruns. */
export function run(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
    const t0 = Date.now();
    return new Promise((resolve) => {
        const child = spawn(cmd, args, {
            env: opts.env ?? process.env,
            cwd: opts.cwd,
            stdio: [opts.input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
        });
        const out: Buffer[] = [];
        const err: Buffer[] = [];
        let timedOut = false;
        const timer = setTimeout(() => {
            timedOut = true;
            child.kill("SIGKILL");
        }, opts.timeoutMs ?? 120_000);
        child.stdout?.on("data", (d: Buffer) => out.push(d));
        child.stderr?.on("data", (d: Buffer) => err.push(d));
        child.on("error", (e) => err.push(Buffer.from(String(e))));
        child.on("close", (code) => {
            clearTimeout(timer);
            resolve({
                code: timedOut ? 124 : (code ?? 1),
                stdout: Buffer.concat(out).toString(),
                stderr: Buffer.concat(err).toString() + (timedOut ? `\n(timed out after ${opts.timeoutMs ?? 120_000} ms)` : ""),
                timedOut,
                ms: Date.now() - t0,
            });
        });
        if (opts.input !== undefined && child.stdin) {
            child.stdin.on("error", () => undefined);
            child.stdin.end(opts.input);
        }
    });
}

/** Every live process below `pid`, children before their own children, from /proc (Linux). */
export function descendants(pid: number): number[] {
    let children: number[] = [];
    try {
        for (const task of fs.readdirSync(`/proc/${pid}/task`)) {
            children.push(...fs.readFileSync(`/proc/${pid}/task/${task}/children`, "utf8").split(" ").filter(Boolean).map(Number));
        }
    } catch {
        children = [];
    }
    return children.flatMap((c) => [c, ...descendants(c)]);
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The rig's image for the probe containers the checks start (it has curl, ping, getent and nginx). */
export const BASE_IMAGE = "rig/base:bookworm";

/** Rig host i (1-based). */
export const hostAddress = (i: number): string => `10.77.0.1${i}`;
/** The rig host at `address`, undefined for an address that is none of theirs. */
export const hostNumber = (address: string): number | undefined => {
    const m = /^10\.77\.0\.1([1-9])$/.exec(address);
    return m ? Number(m[1]) : undefined;
};
export const hostSocket = (i: number): string => `unix://${RIG_STATE}/h${i}.sock`;

/** docker against host i's engine through its socket (the test's own view, not the program's path). */
export const dockerOn = (i: number, args: string[], opts: RunOptions = {}): Promise<RunResult> =>
    run("docker", ["-H", hostSocket(i), ...args], { timeoutMs: 60_000, ...opts });

/** Cuts or restores rig-h<i>'s link to the rig's bridge, at the rig's end of it (hosts.sh names it rigv<i>). */
export async function setLink(i: number, state: "up" | "down"): Promise<void> {
    const r = await run("ip", ["link", "set", `rigv${i}`, state]);
    if (r.code !== 0) throw new Error(`ip link set rigv${i} ${state}: ${r.stderr.trim()}`);
}

/** A shell command on host i over ssh with the rig's client config. */
export const sshOn = (i: number, script: string, opts: RunOptions = {}): Promise<RunResult> =>
    run("ssh", ["-F", SSH_CONFIG, "-o", "BatchMode=yes", "-T", `root@${hostAddress(i)}`, script], { timeoutMs: 60_000, ...opts });

/** Throws with the command's stderr unless it succeeded; returns trimmed stdout. */
export async function must(p: Promise<RunResult>, what: string): Promise<string> {
    const r = await p;
    if (r.code !== 0) throw new Error(`${what}: exit ${r.code}: ${r.stderr.trim() || r.stdout.trim()}`);
    return r.stdout.trim();
}

export interface HttpResult {
    status: number;
    body: string;
    error?: string;
    ms: number;
}

/** Throws unless `url` points at a rig address (10.77.0.x) or loopback: test traffic goes nowhere else. */
export function assertRigUrl(url: string): void {
    const u = new URL(url);
    if (!/^10\.77\.0\.\d+$|^127\.0\.0\.1$/.test(u.hostname)) throw new Error(`refusing traffic to ${u.hostname}: rig addresses only`);
}

/** One GET to a rig address (10.77.0.x) or loopback, bounded in time; never throws. */
export function httpGet(url: string, timeoutMs = 3000): Promise<HttpResult> {
    assertRigUrl(url);
    const t0 = Date.now();
    return new Promise((resolve) => {
        let done = false;
        const finish = (r: Omit<HttpResult, "ms">) => {
            if (done) return;
            done = true;
            resolve({ ...r, ms: Date.now() - t0 });
        };
        const req = http.get(url, { agent: false, timeout: timeoutMs }, (res) => {
            const chunks: Buffer[] = [];
            res.on("data", (d: Buffer) => chunks.push(d));
            res.on("end", () => finish({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
            res.on("error", (e) => finish({ status: 0, body: "", error: String(e) }));
        });
        req.on("timeout", () => req.destroy(new Error("timeout")));
        req.on("error", (e) => finish({ status: 0, body: "", error: e.message }));
        setTimeout(() => req.destroy(new Error("hard timeout")), timeoutMs + 1000).unref();
    });
}

export interface CurlOptions {
    method?: string;
    data?: string;
    headers?: string[];
    timeoutMs?: number;
}

/**
 * One HTTP request made from inside rig-h<i>'s network namespace (its loopback, or another rig host as
 * that host sees it); never throws. Status 0 with `error` set when nothing answered.
 */
export async function curlFromHost(i: number, url: string, opts: CurlOptions = {}): Promise<HttpResult> {
    const timeoutMs = opts.timeoutMs ?? 3000;
    const request = [
        ...(opts.method ? ["-X", opts.method] : []),
        ...(opts.data !== undefined ? ["--data", opts.data] : []),
        ...(opts.headers ?? []).flatMap((h) => ["-H", h]),
    ];
    const r = await run(
        "ip",
        ["netns", "exec", `rig-h${i}`, "curl", "-s", "-m", String(timeoutMs / 1000), "-w", "\n%{http_code}", ...request, url],
        { timeoutMs: timeoutMs + 2000 },
    );
    const cut = r.stdout.lastIndexOf("\n");
    const status = Number(r.stdout.slice(cut + 1)) || 0;
    return { status, body: r.stdout.slice(0, Math.max(cut, 0)), error: r.code === 0 ? undefined : `curl exit ${r.code}`, ms: r.ms };
}

/** `TYPE BASE64` of an OpenSSH public key file (its comment dropped). */
export const publicKeyOf = (file: string): string => fs.readFileSync(file, "utf8").split(" ").slice(0, 2).join(" ");

/** Polls `probe` until it returns a value, at most `timeoutMs` and `maxTries` times. */
export async function waitFor<T>(
    probe: () => Promise<T | undefined>,
    timeoutMs: number,
    intervalMs = 1000,
    maxTries = 1000,
): Promise<{ value?: T; ms: number }> {
    const t0 = Date.now();
    for (let i = 0; i < maxTries && Date.now() - t0 <= timeoutMs; i++) {
        const v = await probe();
        if (v !== undefined) return { value: v, ms: Date.now() - t0 };
        await sleep(intervalMs);
    }
    return { ms: Date.now() - t0 };
}

/** Where the stack's iptables rules go (flows, DNS redirects); a rule of the stack carries "swarm-platform" in its comment. */
export const STACK_RULE_CHAINS: [string, string][] = [
    ["filter", "DOCKER-USER"],
    ["raw", "PREROUTING"],
    ["nat", "PREROUTING"],
    ["nat", "OUTPUT"],
];

/** What a host looks like, for "nothing changed" and "left as before" comparisons. */
export interface HostSnapshot {
    host: string;
    containers: string[];
    networks: string[];
    volumes: string[];
    images: string[];
    /** The chains of STACK_RULE_CHAINS, as `iptables -S` lists them. */
    firewall: string[];
    swarm: string[];
}

export async function snapshotHost(i: number): Promise<HostSnapshot> {
    const lines = (s: string) =>
        s
            .split("\n")
            .map((l) => l.trim())
            .filter(Boolean)
            .sort();
    const ids = lines(await must(dockerOn(i, ["ps", "-aq", "--no-trunc"]), "docker ps"));
    const containers = ids.length
        ? lines(
              await must(
                  dockerOn(i, ["inspect", "-f", "{{.Name}} {{.Id}} {{.State.Status}} started={{.State.StartedAt}}", ...ids]),
                  "docker inspect",
              ),
          )
        : [];
    // Docker makes its predefined networks anew, with new ids, each time the engine starts: by name only.
    const networks = lines(
        await must(dockerOn(i, ["network", "ls", "--no-trunc", "--format", "{{.Name}} {{.ID}} {{.Driver}}"]), "docker network ls"),
    ).map((l) => (/^(bridge|host|none) /.test(l) ? l.replace(/ \S+ /, " (predefined) ") : l));
    const volumes = lines(await must(dockerOn(i, ["volume", "ls", "-q"]), "docker volume ls"));
    const images = lines(
        await must(dockerOn(i, ["image", "ls", "--no-trunc", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"]), "docker image ls"),
    );
    const chain = async (table: string, name: string) => {
        const r = await run("ip", ["netns", "exec", `rig-h${i}`, "iptables", "-t", table, "-S", name], { timeoutMs: 10_000 });
        return (r.code === 0 ? lines(r.stdout) : [`(no chain: ${r.stderr.trim()})`]).map((l) => `${table} ${l}`);
    };
    const firewall: string[] = [];
    for (const [table, name] of STACK_RULE_CHAINS) firewall.push(...(await chain(table, name)));
    const info = await must(
        dockerOn(i, [
            "info",
            "--format",
            "{{.Swarm.LocalNodeState}} node={{.Swarm.NodeID}} cluster={{if .Swarm.Cluster}}{{.Swarm.Cluster.ID}}{{end}} manager={{.Swarm.ControlAvailable}}",
        ]),
        "docker info",
    );
    const swarm = [info];
    if (info.includes("manager=true")) {
        swarm.push(
            ...lines(
                await must(dockerOn(i, ["node", "ls", "--format", "node {{.ID}} {{.Hostname}} {{.ManagerStatus}}"]), "docker node ls"),
            ),
        );
    }
    return { host: `rig-h${i}`, containers, networks, volumes, images, firewall, swarm };
}

export async function snapshotHosts(hosts: number[]): Promise<HostSnapshot[]> {
    return Promise.all(hosts.map(snapshotHost));
}

/** Differences between two snapshots as readable lines ("rig-h1 networks: + x", "- y"); ignore picks fields to skip. */
export function diffSnapshots(before: HostSnapshot[], after: HostSnapshot[], ignore: (keyof HostSnapshot)[] = []): string[] {
    const out: string[] = [];
    for (const b of before) {
        const a = after.find((x) => x.host === b.host);
        if (!a) {
            out.push(`${b.host}: missing from the second snapshot`);
            continue;
        }
        for (const field of ["containers", "networks", "volumes", "images", "firewall", "swarm"] as const) {
            if (ignore.includes(field)) continue;
            const was = new Set(b[field]);
            const now = new Set(a[field]);
            for (const x of a[field]) if (!was.has(x)) out.push(`${b.host} ${field}: + ${x}`);
            for (const x of b[field]) if (!now.has(x)) out.push(`${b.host} ${field}: - ${x}`);
        }
    }
    return out;
}

export function writeJson(file: string, value: unknown): void {
    const tmp = `${file}.tmp-${process.pid}`;
    fs.writeFileSync(tmp, JSON.stringify(value, null, 2) + "\n", { mode: 0o600 });
    fs.renameSync(tmp, file);
}
