/**
 * Runs the real program (index.ts) against the live rig without the Pulumi CLI: Pulumi's mocks hand
 * every resource registration to `newResource` below, which REALIZES it on the rig's Docker hosts the
 * way its provider would (docker CLI over ssh, commands over ssh, random values) and only then returns,
 * so dependents register after their dependencies exist, as under the engine.
 *
 *   npx ts-node --transpile-only rig/harness.ts <rig-dev|rig-multi> up [--set key=value]...
 *   npx ts-node --transpile-only rig/harness.ts <rig-dev|rig-multi> destroy
 *   npx ts-node --transpile-only rig/harness.ts <rig-dev|rig-multi> state
 *
 * One process per run, so every `up` loads the program into a fresh module registry. State (what was
 * created, in order, with what destroy must do, and the random values a second `up` reuses) lives in
 * $RIG_STATE/harness-<stack>.json. What this does NOT model: diffs and in-place updates (an existing
 * docker object is left as it is; commands re-run their create) and refresh. Destroy walks the recorded
 * dependencies (captured from the SDK's registration requests) in reverse, independent deletes in parallel.
 */
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import * as yaml from "js-yaml";
import * as pulumi from "@pulumi/pulumi";
import { RIG_STATE, ROOT, RunResult, run, sleep, writeJson } from "./lib";

type Obj = Record<string, unknown>;

const PROJECT = "swarm-platform";
/** At most this many resources are realized at once (the engine's --parallel). */
const PARALLEL = Number(process.env.RIG_PARALLEL ?? 8);
const LOG_PREFIX = "[harness]";

// ---------------------------------------------------------------------------------------------
// State

interface DockerTarget {
    host: string;
    sshOpts: string[];
}

interface SshTarget {
    host: string;
    port: number;
    user: string;
    keyFile: string;
}

type DestroyAction =
    | { kind: "none" }
    | { kind: "remote-command"; ssh: SshTarget; script?: string }
    | { kind: "local-command"; env: Record<string, string>; script?: string }
    | { kind: "container"; docker: DockerTarget; name: string }
    | { kind: "network"; docker: DockerTarget; name: string }
    | { kind: "volume"; docker: DockerTarget; name: string }
    | { kind: "image"; docker: DockerTarget; name: string; keepLocally: boolean };

interface ResourceRecord {
    key: string;
    type: string;
    name: string;
    id: string;
    /** The URN and the URNs it depends on (dependsOn, expanded components, property dependencies), as sent to the engine. */
    urn?: string;
    dependsOn?: string[];
    destroy: DestroyAction;
    /** Outputs kept for reuse (random values) and for reading (command stdout is dropped when secret). */
    outputs: Obj;
    createdAt: string;
    /** How the last up found it: created now, already there, or re-run (commands). */
    lastUp: "created" | "existing" | "rerun" | "adopted";
}

interface HarnessState {
    stack: string;
    resources: ResourceRecord[];
    outputs?: Obj;
    lastUp?: { at: string; ok: boolean; seconds: number; errors: string[] };
}

const stateFile = (stack: string) => path.join(RIG_STATE, `harness-${stack}.json`);

function loadState(stack: string): HarnessState {
    const file = stateFile(stack);
    if (!fs.existsSync(file)) return { stack, resources: [] };
    return JSON.parse(fs.readFileSync(file, "utf8")) as HarnessState;
}

// ---------------------------------------------------------------------------------------------
// Small helpers

const log = (msg: string) => console.log(`${LOG_PREFIX} ${msg}`);

// How the SDK marks a secret value when it serialises inputs for the engine.
const SECRET_SIG = "4dabf18193072939515e22adb298388d";
const SECRET_VALUE = "1b47061264138c4ac30d75fd1eb44270";

/** Inputs with secret envelopes unwrapped. */
function reveal(v: unknown): unknown {
    if (typeof v === "object" && v !== null && (v as Obj)[SECRET_SIG] === SECRET_VALUE) return reveal((v as Obj).value);
    if (Array.isArray(v)) return v.map(reveal);
    if (typeof v === "object" && v !== null) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, reveal(x)]));
    return v;
}

const asString = (v: unknown, what: string): string => {
    if (typeof v !== "string") throw new Error(`${what}: expected a string, got ${JSON.stringify(v)}`);
    return v;
};
const optArray = <T>(v: unknown): T[] => (Array.isArray(v) ? (v as T[]) : []);
const isEmpty = (v: unknown) =>
    v === undefined || v === null || v === "" || (Array.isArray(v) && v.length === 0) || (typeof v === "object" && Object.keys(v as Obj).length === 0);

class Semaphore {
    private active = 0;
    private waiting: (() => void)[] = [];
    constructor(private readonly max: number) {}
    async use<T>(f: () => Promise<T>): Promise<T> {
        while (this.active >= this.max) await new Promise<void>((r) => this.waiting.push(r));
        this.active++;
        try {
            return await f();
        } finally {
            this.active--;
            this.waiting.shift()?.();
        }
    }
}

function fail(what: string, r: RunResult): never {
    throw new Error(`${what} failed (exit ${r.code}): ${(r.stderr.trim() || r.stdout.trim()).slice(-2000)}`);
}

// ---------------------------------------------------------------------------------------------
// Reaching hosts the way the providers do

/**
 * The docker CLI's ssh helper runs `ssh` from PATH; @pulumi/docker passes its sshOpts to that same ssh.
 * A per-provider wrapper named `ssh` first on PATH prepends them; the user's ~/.ssh/config (the rig
 * includes its own there) still applies, as it would for the provider.
 */
function dockerEnv(target: DockerTarget): NodeJS.ProcessEnv {
    if (!target.host.startsWith("ssh://") || target.sshOpts.length === 0) return process.env;
    const dir = path.join(RIG_STATE, "harness-ssh", crypto.createHash("sha256").update(JSON.stringify(target.sshOpts)).digest("hex").slice(0, 12));
    const wrapper = path.join(dir, "ssh");
    if (!fs.existsSync(wrapper)) {
        fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
        const quoted = target.sshOpts.map((o) => `'${o.replace(/'/g, `'"'"'`)}'`).join(" ");
        fs.writeFileSync(`${wrapper}.tmp`, `#!/bin/sh\nexec /usr/bin/ssh ${quoted} "$@"\n`, { mode: 0o700 });
        fs.renameSync(`${wrapper}.tmp`, wrapper);
    }
    return { ...process.env, PATH: `${dir}:${process.env.PATH ?? "/usr/bin:/bin"}` };
}

function docker(target: DockerTarget, args: string[], opts: { input?: string | Buffer; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<RunResult> {
    return run("docker", ["-H", target.host, ...args], { env: { ...dockerEnv(target), ...(opts.env ?? {}) }, input: opts.input, timeoutMs: opts.timeoutMs ?? 120_000 });
}

/** The command provider keeps the key in memory; ssh(1) needs a file: one private file per key. */
function keyFileFor(privateKey: string): string {
    const dir = path.join(RIG_STATE, "harness-keys");
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const file = path.join(dir, `${crypto.createHash("sha256").update(privateKey).digest("hex").slice(0, 16)}.key`);
    if (!fs.existsSync(file)) fs.writeFileSync(file, privateKey.endsWith("\n") ? privateKey : `${privateKey}\n`, { mode: 0o600 });
    return file;
}

const CONNECT_FAILURE = /Connection refused|Connection timed out|Connection reset|No route to host|kex_exchange_identification|Connection closed by|banner exchange/i;

/**
 * A script over ssh as the command provider runs it: one session, the script string as the remote
 * command (run by the login shell), stdin piped in when given, host keys not checked (the provider
 * ignores them), dial errors retried up to the connection's dialErrorLimit.
 */
async function sshScript(t: SshTarget, script: string, stdin: string | undefined, dialErrorLimit: number, timeoutMs = 300_000): Promise<RunResult> {
    const args = [
        "-F", "/dev/null", "-i", t.keyFile, "-p", String(t.port),
        "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
        "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=15", "-T", `${t.user}@${t.host}`, script,
    ];
    let r: RunResult = { code: 255, stdout: "", stderr: "not run", timedOut: false, ms: 0 };
    for (let attempt = 1; attempt <= Math.max(1, dialErrorLimit); attempt++) {
        r = await run("ssh", args, { input: stdin, timeoutMs });
        if (!(r.code === 255 && CONNECT_FAILURE.test(r.stderr) && r.stdout === "")) return r;
        await sleep(Math.min(1000 * attempt, 5000));
    }
    return r;
}

// ---------------------------------------------------------------------------------------------
// Uploads: a tar stream built here and extracted into the container by `docker cp -`

function tarHeader(name: string, size: number, mode: number): Buffer {
    const h = Buffer.alloc(512, 0);
    let prefix = "";
    let base = name;
    if (Buffer.byteLength(name) > 100) {
        const cut = name.lastIndexOf("/", 155);
        prefix = name.slice(0, cut);
        base = name.slice(cut + 1);
        if (Buffer.byteLength(base) > 100 || Buffer.byteLength(prefix) > 155) throw new Error(`upload path too long for ustar: ${name}`);
    }
    const put = (s: string, off: number, len: number) => h.write(s, off, len, "utf8");
    const oct = (n: number, len: number) => n.toString(8).padStart(len - 1, "0") + "\0";
    put(base, 0, 100);
    put(oct(mode, 8), 100, 8);
    put(oct(0, 8), 108, 8);
    put(oct(0, 8), 116, 8);
    put(oct(size, 12), 124, 12);
    put(oct(Math.floor(Date.now() / 1000), 12), 136, 12);
    put("        ", 148, 8);
    put("0", 156, 1);
    put("ustar\0", 257, 6);
    put("00", 263, 2);
    put("root", 265, 32);
    put("root", 297, 32);
    put(prefix, 345, 155);
    let sum = 0;
    for (const b of h) sum += b;
    put(sum.toString(8).padStart(6, "0") + "\0 ", 148, 8);
    return h;
}

/** Like the provider: one entry per file at its absolute path (parents are made by the engine's extraction). */
function uploadsTar(uploads: Obj[]): Buffer {
    const parts: Buffer[] = [];
    for (const u of uploads) {
        const file = asString(u.file, "uploads[].file");
        let content: Buffer;
        if (typeof u.content === "string") content = Buffer.from(u.content, "utf8");
        else if (typeof u.contentBase64 === "string") content = Buffer.from(u.contentBase64, "base64");
        else if (typeof u.source === "string") content = fs.readFileSync(u.source);
        else throw new Error(`upload ${file}: no content, contentBase64 or source`);
        const mode = typeof u.permissions === "string" ? parseInt(u.permissions, 8) : u.executable ? 0o744 : 0o644;
        parts.push(tarHeader(file.replace(/^\/+/, ""), content.length, mode), content, Buffer.alloc((512 - (content.length % 512)) % 512, 0));
    }
    parts.push(Buffer.alloc(1024, 0));
    return Buffer.concat(parts);
}

// ---------------------------------------------------------------------------------------------
// Dependencies: the mocks hand newResource no URN and no dependencies, but the registration request the
// SDK sends to the (mock) monitor carries both, so the monitor's registerResource is wrapped to note them.

interface Registration {
    urn: string;
    dependsOn: string[];
}

interface RegisterRequest {
    getType(): string;
    getName(): string;
    getParent(): string;
    getDependenciesList(): string[];
    getPropertydependenciesMap(): { forEach(f: (v: { getUrnsList(): string[] }) => void): void };
}

interface MockMonitorLike {
    newUrn(parent: string, type: string, name: string): string;
    registerResource(req: RegisterRequest, callback: unknown): unknown;
}

const registrations = new Map<string, Registration>();

function noteRegistrations(): void {
    const monitor = pulumi.runtime.getMonitor() as unknown as MockMonitorLike;
    const original = monitor.registerResource.bind(monitor);
    monitor.registerResource = (req, callback) => {
        const deps = new Set(req.getDependenciesList());
        req.getPropertydependenciesMap().forEach((v) => v.getUrnsList().forEach((u) => deps.add(u)));
        registrations.set(`${req.getType()}::${req.getName()}`, { urn: monitor.newUrn(req.getParent(), req.getType(), req.getName()), dependsOn: [...deps].sort() });
        return original(req, callback);
    };
}

// ---------------------------------------------------------------------------------------------
// The realizer

const CONTAINER_ARGS = new Set([
    "name", "image", "entrypoints", "command", "envs", "volumes", "ports", "networkMode", "capabilities", "init", "restart",
    "hostname", "labels", "logOpts", "logDriver", "uploads", "mustRun", "start", "removeVolumes",
]);

class Realizer {
    readonly state: HarnessState;
    readonly errors: string[] = [];
    /** The bare messages of `errors`, to recognise them when the SDK re-raises them for dependents. */
    readonly rawErrors: string[] = [];
    private readonly providers = new Map<string, DockerTarget>();
    private readonly sem = new Semaphore(PARALLEL);
    private failed = false;
    inflight = 0;
    counts = { created: 0, existing: 0, rerun: 0, adopted: 0 };

    constructor(readonly stack: string) {
        this.state = loadState(stack);
    }

    private save(): void {
        writeJson(stateFile(this.stack), this.state);
    }

    private record(rec: Omit<ResourceRecord, "createdAt">): void {
        rec = { ...rec, ...registrations.get(rec.key) };
        const old = this.state.resources.find((r) => r.key === rec.key);
        if (old) Object.assign(old, rec);
        else this.state.resources.push({ ...rec, createdAt: new Date().toISOString() });
        this.save();
    }

    private known(key: string): ResourceRecord | undefined {
        return this.state.resources.find((r) => r.key === key);
    }

    private target(provider: string | undefined, what: string): DockerTarget {
        if (!provider) throw new Error(`${what}: no explicit docker provider (the program must pass one)`);
        const id = provider.slice(provider.lastIndexOf("::") + 2);
        const t = this.providers.get(id);
        if (!t) throw new Error(`${what}: unknown provider ${provider}`);
        return t;
    }

    async newResource(args: pulumi.runtime.MockResourceArgs): Promise<{ id: string; state: Obj }> {
        this.inflight++;
        const t0 = Date.now();
        const label = `${args.type} ${args.name}`;
        try {
            // Component resources (custom: false) reach the mocks too; the engine only records them.
            if (args.custom === false) return { id: "", state: {} };
            if (this.failed && !args.type.startsWith("pulumi:providers:")) {
                throw new Error(`${label}: not started: the update failed earlier`);
            }
            const inputs = reveal(args.inputs) as Obj;
            const result = await this.sem.use(() => {
                // The engine starts no new step once one failed; steps already running finish.
                if (this.failed && !args.type.startsWith("pulumi:providers:")) throw new Error(`${label}: not started: the update failed earlier`);
                return this.realize(args, inputs);
            });
            if (!args.type.startsWith("pulumi:providers:")) log(`${result.how.padEnd(8)} ${label} (${((Date.now() - t0) / 1000).toFixed(1)}s)`);
            return { id: result.id, state: result.state };
        } catch (e) {
            const msg = e instanceof Error ? e.message : String(e);
            if (!msg.includes("not started: the update failed earlier")) {
                this.errors.push(`${label}: ${msg}`);
                this.rawErrors.push(msg);
                log(`FAILED   ${label}: ${msg}`);
            }
            this.failed = true;
            throw e;
        } finally {
            this.inflight--;
        }
    }

    private async realize(args: pulumi.runtime.MockResourceArgs, inputs: Obj): Promise<{ id: string; state: Obj; how: string }> {
        const key = `${args.type}::${args.name}`;
        switch (args.type) {
            case "pulumi:providers:docker": {
                const host = asString(inputs.host, "docker provider host");
                let sshOpts: unknown = inputs.sshOpts ?? [];
                if (typeof sshOpts === "string") sshOpts = sshOpts === "" ? [] : JSON.parse(sshOpts);
                const id = `provider-${args.name}`;
                this.providers.set(id, { host, sshOpts: optArray<string>(sshOpts) });
                return { id, state: inputs, how: "provider" };
            }
            case "command:remote:Command":
                return this.remoteCommand(key, args, inputs);
            case "command:local:Command":
                return this.localCommand(key, args, inputs);
            case "docker:index/remoteImage:RemoteImage":
                return this.image(key, args, inputs);
            case "docker:index/volume:Volume":
                return this.volume(key, args, inputs);
            case "docker:index/network:Network":
                return this.network(key, args, inputs);
            case "docker:index/container:Container":
                return this.container(key, args, inputs);
            case "random:index/randomBytes:RandomBytes":
            case "random:index/randomUuid:RandomUuid":
            case "random:index/randomPassword:RandomPassword":
                return this.random(key, args, inputs);
            default:
                if (args.type.startsWith("pulumi:providers:")) return { id: `provider-${args.name}`, state: inputs, how: "provider" };
                throw new Error(`the harness does not model resource type ${args.type}`);
        }
    }

    // --- commands ------------------------------------------------------------------------------

    private async remoteCommand(key: string, args: pulumi.runtime.MockResourceArgs, inputs: Obj) {
        const conn = inputs.connection as Obj;
        const ssh: SshTarget = {
            host: asString(conn.host, "connection.host"),
            port: Number(conn.port ?? 22),
            user: String(conn.user ?? "root"),
            keyFile: keyFileFor(asString(conn.privateKey, "connection.privateKey")),
        };
        const again = this.known(key);
        const create = asString(inputs.create, `${args.name} create`);
        const stdin = typeof inputs.stdin === "string" ? inputs.stdin : undefined;
        const r = await sshScript(ssh, create, stdin, Number(conn.dialErrorLimit ?? 10));
        this.logCommand(args.name, inputs, r);
        if (r.code !== 0) fail(`${args.name} (ssh ${ssh.user}@${ssh.host})`, r);
        const secret = inputs.logging === "none";
        this.record({
            key, type: args.type, name: args.name, id: again?.id ?? `${args.name}-${crypto.randomBytes(4).toString("hex")}`,
            destroy: { kind: "remote-command", ssh, script: typeof inputs.delete === "string" ? inputs.delete : undefined },
            outputs: secret ? { stdout: "(secret)" } : { stdout: r.stdout, stderr: r.stderr },
            lastUp: again ? "rerun" : "created",
        });
        this.counts[again ? "rerun" : "created"]++;
        return { id: this.known(key)?.id as string, state: { ...inputs, stdout: r.stdout, stderr: r.stderr }, how: again ? "rerun" : "created" };
    }

    private async localCommand(key: string, args: pulumi.runtime.MockResourceArgs, inputs: Obj) {
        const env = Object.fromEntries(Object.entries((inputs.environment as Obj) ?? {}).map(([k, v]) => [k, String(v)]));
        const again = this.known(key);
        const create = asString(inputs.create, `${args.name} create`);
        const r = await run("/bin/sh", ["-c", create], { env: { ...process.env, ...env }, input: typeof inputs.stdin === "string" ? inputs.stdin : undefined, timeoutMs: 300_000 });
        this.logCommand(args.name, inputs, r);
        if (r.code !== 0) fail(args.name, r);
        this.record({
            key, type: args.type, name: args.name, id: again?.id ?? `${args.name}-${crypto.randomBytes(4).toString("hex")}`,
            destroy: { kind: "local-command", env, script: typeof inputs.delete === "string" ? inputs.delete : undefined },
            outputs: inputs.logging === "none" ? { stdout: "(secret)" } : { stdout: r.stdout, stderr: r.stderr },
            lastUp: again ? "rerun" : "created",
        });
        this.counts[again ? "rerun" : "created"]++;
        return { id: this.known(key)?.id as string, state: { ...inputs, stdout: r.stdout, stderr: r.stderr }, how: again ? "rerun" : "created" };
    }

    private logCommand(name: string, inputs: Obj, r: RunResult): void {
        const file = path.join(RIG_STATE, `harness-${this.stack}.log`);
        const body = inputs.logging === "none" ? "(output not logged: secret)" : `stdout:\n${r.stdout}stderr:\n${r.stderr}`;
        fs.appendFileSync(file, `--- ${new Date().toISOString()} ${name} exit=${r.code} ${r.ms}ms\n${body}\n`);
    }

    // --- docker objects ------------------------------------------------------------------------

    private async exists(t: DockerTarget, kind: "image" | "volume" | "network" | "container", name: string): Promise<string | undefined> {
        const fmt = kind === "volume" ? "{{.Name}}" : "{{.Id}}";
        const r = await docker(t, [kind, "inspect", "-f", fmt, name], { timeoutMs: 60_000 });
        if (r.code === 0) return r.stdout.trim();
        if (/No such|not found/i.test(r.stderr)) return undefined;
        fail(`docker ${kind} inspect ${name}`, r);
    }

    /** An object that is there already: ours from an earlier up (left alone), or adopted (recorded, so destroy removes it). */
    private existing(key: string): "existing" | "adopted" {
        const how = this.known(key) ? "existing" : "adopted";
        this.counts[how]++;
        return how;
    }

    private async image(key: string, args: pulumi.runtime.MockResourceArgs, inputs: Obj) {
        const t = this.target(args.provider, args.name);
        const name = asString(inputs.name, `${args.name} name`);
        const keepLocally = inputs.keepLocally === true;
        let id = await this.exists(t, "image", name);
        let how: string;
        const build = inputs.build as Obj | undefined;
        if (id && this.known(key)) {
            how = this.existing(key);
        } else if (id && !build) {
            // The provider's create is a pull; with no registry, an image already loaded is what it would get.
            how = "created";
            this.counts.created++;
        } else if (build) {
            // The provider builds on create whatever the engine has (its layer cache makes a rebuild cheap).
            if (id) log(`         ${name} is on ${t.host} already: building anyway, as the provider does on create`);
            const context = asString(build.context, "build.context");
            const dockerfile = typeof build.dockerfile === "string" ? build.dockerfile : "Dockerfile";
            const buildArgs = Object.entries((build.buildArgs as Obj) ?? {}).flatMap(([k, v]) => ["--build-arg", `${k}=${String(v)}`]);
            for (const k of Object.keys(build)) {
                if (!["context", "dockerfile", "buildArgs"].includes(k) && !isEmpty(build[k])) throw new Error(`the harness does not model RemoteImage.build.${k}`);
            }
            const r = await docker(t, ["build", "-q", "-t", name, "-f", path.join(context, dockerfile), ...buildArgs, context], { env: { DOCKER_BUILDKIT: "0" }, timeoutMs: 900_000 });
            if (r.code !== 0) fail(`docker build ${name} on ${t.host}`, r);
            id = await this.exists(t, "image", name);
            how = "created";
            this.counts.created++;
        } else {
            throw new Error(`image ${name} is not on ${t.host} and the rig has no registry to pull from: load it first (rig/images.sh load)`);
        }
        if (!id) throw new Error(`image ${name} missing on ${t.host} right after it was built`);
        this.record({ key, type: args.type, name: args.name, id, destroy: { kind: "image", docker: t, name, keepLocally }, outputs: { imageId: id }, lastUp: how as ResourceRecord["lastUp"] });
        return { id, state: { ...inputs, imageId: id, repoDigest: "" }, how };
    }

    private async volume(key: string, args: pulumi.runtime.MockResourceArgs, inputs: Obj) {
        const t = this.target(args.provider, args.name);
        const name = asString(inputs.name, `${args.name} name`);
        let how: string;
        if (await this.exists(t, "volume", name)) how = this.existing(key);
        else {
            const labels = optArray<Obj>(inputs.labels).flatMap((l) => ["--label", `${String(l.label)}=${String(l.value)}`]);
            const opts = Object.entries((inputs.driverOpts as Obj) ?? {}).flatMap(([k, v]) => ["-o", `${k}=${String(v)}`]);
            const driver = typeof inputs.driver === "string" ? ["--driver", inputs.driver] : [];
            const r = await docker(t, ["volume", "create", ...driver, ...opts, ...labels, name]);
            if (r.code !== 0) fail(`docker volume create ${name} on ${t.host}`, r);
            how = "created";
            this.counts.created++;
        }
        const mountpoint = (await docker(t, ["volume", "inspect", "-f", "{{.Mountpoint}}", name])).stdout.trim();
        this.record({ key, type: args.type, name: args.name, id: name, destroy: { kind: "volume", docker: t, name }, outputs: { mountpoint }, lastUp: how as ResourceRecord["lastUp"] });
        return { id: name, state: { ...inputs, name, mountpoint, driver: inputs.driver ?? "local" }, how };
    }

    private async network(key: string, args: pulumi.runtime.MockResourceArgs, inputs: Obj) {
        const t = this.target(args.provider, args.name);
        const name = asString(inputs.name, `${args.name} name`);
        for (const k of ["internal", "ipv6", "ingress", "ipamDriver", "ipamOptions"]) {
            if (!isEmpty(inputs[k]) && inputs[k] !== false && inputs[k] !== "default") throw new Error(`the harness does not model Network.${k}`);
        }
        let id = await this.exists(t, "network", name);
        let how: string;
        if (id) how = this.existing(key);
        else {
            const a = ["network", "create"];
            if (typeof inputs.driver === "string") a.push("--driver", inputs.driver);
            for (const ipam of optArray<Obj>(inputs.ipamConfigs)) {
                if (ipam.subnet) a.push("--subnet", String(ipam.subnet));
                if (ipam.gateway) a.push("--gateway", String(ipam.gateway));
                if (ipam.ipRange) a.push("--ip-range", String(ipam.ipRange));
            }
            if (inputs.attachable === true) a.push("--attachable");
            for (const [k, v] of Object.entries((inputs.options as Obj) ?? {})) a.push("-o", `${k}=${String(v)}`);
            for (const l of optArray<Obj>(inputs.labels)) a.push("--label", `${String(l.label)}=${String(l.value)}`);
            const r = await docker(t, [...a, name]);
            if (r.code !== 0) fail(`docker network create ${name} on ${t.host}`, r);
            id = r.stdout.trim();
            how = "created";
            this.counts.created++;
        }
        this.record({ key, type: args.type, name: args.name, id, destroy: { kind: "network", docker: t, name }, outputs: {}, lastUp: how as ResourceRecord["lastUp"] });
        return { id, state: { ...inputs, name, scope: inputs.driver === "overlay" ? "swarm" : "local" }, how };
    }

    private async container(key: string, args: pulumi.runtime.MockResourceArgs, inputs: Obj) {
        const t = this.target(args.provider, args.name);
        const name = asString(inputs.name, `${args.name} name`);
        for (const [k, v] of Object.entries(inputs)) {
            if (!CONTAINER_ARGS.has(k) && !isEmpty(v) && v !== false) throw new Error(`the harness does not model Container.${k} (= ${JSON.stringify(v)})`);
        }
        let id = await this.exists(t, "container", name);
        let how: string;
        if (id) how = this.existing(key);
        else {
            const a = ["create", "--name", name];
            const entrypoints = optArray<string>(inputs.entrypoints);
            if (entrypoints.length > 0) a.push("--entrypoint", entrypoints[0]);
            for (const e of optArray<string>(inputs.envs)) a.push("-e", e);
            for (const v of optArray<Obj>(inputs.volumes)) {
                const src = v.hostPath ?? v.volumeName;
                if (!src || !v.containerPath) throw new Error(`volume ${JSON.stringify(v)}: the harness models hostPath/volumeName mounts only`);
                a.push("-v", `${String(src)}:${String(v.containerPath)}${v.readOnly ? ":ro" : ""}`);
            }
            for (const p of optArray<Obj>(inputs.ports)) {
                const ip = p.ip && p.ip !== "0.0.0.0" ? `${String(p.ip)}:` : "";
                const ext = p.external ? `${String(p.external)}:` : ip ? ":" : "";
                a.push("-p", `${ip}${ext}${String(p.internal)}/${String(p.protocol ?? "tcp")}`);
            }
            if (typeof inputs.networkMode === "string") a.push("--network", inputs.networkMode);
            const caps = (inputs.capabilities as Obj) ?? {};
            for (const c of optArray<string>(caps.adds)) a.push("--cap-add", c);
            for (const c of optArray<string>(caps.drops)) a.push("--cap-drop", c);
            if (inputs.init === true) a.push("--init");
            if (typeof inputs.restart === "string") a.push("--restart", inputs.restart);
            if (typeof inputs.hostname === "string") a.push("--hostname", inputs.hostname);
            for (const l of optArray<Obj>(inputs.labels)) a.push("--label", `${String(l.label)}=${String(l.value)}`);
            if (typeof inputs.logDriver === "string") a.push("--log-driver", inputs.logDriver);
            for (const [k, v] of Object.entries((inputs.logOpts as Obj) ?? {})) a.push("--log-opt", `${k}=${String(v)}`);
            a.push(asString(inputs.image, `${args.name} image`), ...entrypoints.slice(1), ...optArray<string>(inputs.command));
            const r = await docker(t, a);
            if (r.code !== 0) fail(`docker create ${name} on ${t.host}`, r);
            id = r.stdout.trim().split("\n").pop() as string;
            const uploads = optArray<Obj>(inputs.uploads);
            if (uploads.length > 0) {
                const cp = await docker(t, ["cp", "-", `${id}:/`], { input: uploadsTar(uploads) });
                if (cp.code !== 0) fail(`uploading ${uploads.map((u) => u.file).join(", ")} into ${name} on ${t.host}`, cp);
            }
            if (inputs.start !== false) {
                const st = await docker(t, ["start", id]);
                if (st.code !== 0) fail(`docker start ${name} on ${t.host}`, st);
            }
            how = "created";
            this.counts.created++;
            if (inputs.mustRun !== false && inputs.start !== false) await this.mustRun(t, name);
        }
        const info = await docker(t, ["inspect", "-f", "{{json .NetworkSettings.Ports}}", name]);
        this.record({ key, type: args.type, name: args.name, id, destroy: { kind: "container", docker: t, name }, outputs: {}, lastUp: how as ResourceRecord["lastUp"] });
        return { id, state: { ...inputs, name, ports: info.code === 0 ? JSON.parse(info.stdout || "null") : null }, how };
    }

    /** The provider fails a create whose container is not running within its read timeout (15 s). */
    private async mustRun(t: DockerTarget, name: string): Promise<void> {
        for (let i = 0; i < 30; i++) {
            const r = await docker(t, ["inspect", "-f", "{{.State.Running}} {{.State.Status}} {{.State.ExitCode}} {{.RestartCount}}", name]);
            const [running, status, code, restarts] = r.stdout.trim().split(" ");
            if (running === "true") {
                if (restarts !== "0") log(`WARNING  container ${name} on ${t.host} has restarted ${restarts} time(s)`);
                return;
            }
            if (i >= 29 || (status === "exited" && i >= 4)) {
                const logs = await docker(t, ["logs", "--tail", "20", name]);
                throw new Error(`container ${name} on ${t.host} is not running (status ${status}, exit ${code}); last logs:\n${logs.stdout}${logs.stderr}`);
            }
            await sleep(500);
        }
    }

    // --- random --------------------------------------------------------------------------------

    private async random(key: string, args: pulumi.runtime.MockResourceArgs, inputs: Obj) {
        const known = this.known(key);
        let outputs = known?.outputs;
        if (!outputs) {
            const length = Number(inputs.length ?? 16);
            if (args.type.includes("randomBytes")) {
                const b = crypto.randomBytes(length);
                outputs = { base64: b.toString("base64"), hex: b.toString("hex") };
            } else if (args.type.includes("randomUuid")) {
                outputs = { result: crypto.randomUUID() };
            } else {
                let chars = "";
                if (inputs.upper !== false) chars += "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
                if (inputs.lower !== false) chars += "abcdefghijklmnopqrstuvwxyz";
                if (inputs.numeric !== false) chars += "0123456789";
                if (inputs.special !== false) chars += typeof inputs.overrideSpecial === "string" ? inputs.overrideSpecial : "!@#$%&*()-_=+[]{}<>:?";
                outputs = { result: Array.from(crypto.randomBytes(length), (b) => chars[b % chars.length]).join("") };
            }
        }
        const id = known?.id ?? (typeof outputs.result === "string" && args.type.includes("Uuid") ? outputs.result : "none");
        this.record({ key, type: args.type, name: args.name, id, destroy: { kind: "none" }, outputs, lastUp: known ? "existing" : "created" });
        this.counts[known ? "existing" : "created"]++;
        return { id, state: { ...inputs, ...outputs }, how: known ? "existing" : "created" };
    }
}

// ---------------------------------------------------------------------------------------------
// up

function stackConfig(stack: string, overrides: Record<string, string>): Record<string, string> {
    const file = path.join(__dirname, "stacks", `${stack}.yaml`);
    const doc = yaml.load(fs.readFileSync(file, "utf8")) as { config?: Obj };
    const config: Record<string, string> = {};
    for (const [k, v] of Object.entries(doc.config ?? {})) {
        const key = k.includes(":") ? k : `${PROJECT}:${k}`;
        config[key] = typeof v === "string" ? v : JSON.stringify(v);
    }
    for (const [k, v] of Object.entries(overrides)) config[k.includes(":") ? k : `${PROJECT}:${k}`] = v;
    return config;
}

async function resolveOutput(v: unknown, timeoutMs: number): Promise<unknown> {
    if (pulumi.Output.isInstance(v)) {
        const out = v as pulumi.Output<unknown>;
        return Promise.race([
            new Promise((resolve) => out.apply((x) => resolve(x))),
            sleep(timeoutMs).then(() => "(unresolved)"),
        ]).then((x) => resolveOutput(x, timeoutMs));
    }
    if (Array.isArray(v)) return Promise.all(v.map((x) => resolveOutput(x, timeoutMs)));
    if (typeof v === "object" && v !== null) {
        const entries = await Promise.all(Object.entries(v).map(async ([k, x]) => [k, await resolveOutput(x, timeoutMs)] as const));
        return Object.fromEntries(entries);
    }
    return v;
}

async function up(stack: string, overrides: Record<string, string>): Promise<number> {
    const t0 = Date.now();
    fs.mkdirSync(RIG_STATE, { recursive: true });
    const realizer = new Realizer(stack);
    const programErrors: string[] = [];
    const onError = (e: unknown) => {
        const msg = e instanceof Error ? e.message : String(e);
        // A failed realization is reported once, by the realizer; the SDK re-raises it for every dependent.
        if (!realizer.rawErrors.some((x) => msg.includes(x)) && !msg.includes("not started: the update failed earlier")) {
            if (!programErrors.includes(msg)) programErrors.push(msg);
        }
    };
    process.on("unhandledRejection", onError);
    process.on("uncaughtException", onError);

    pulumi.runtime.setAllConfig(stackConfig(stack, overrides), [`${PROJECT}:sshPrivateKey`]);
    await pulumi.runtime.setMocks(
        { newResource: (args) => realizer.newResource(args), call: (args) => { throw new Error(`the harness does not model invoke ${args.token}`); } },
        PROJECT,
        stack,
        false,
    );
    noteRegistrations();
    log(`up ${stack}${Object.keys(overrides).length ? ` with ${Object.entries(overrides).map(([k, v]) => `${k}=${v}`).join(" ")}` : ""}`);
    let exportsOfProgram: Obj = {};
    try {
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        exportsOfProgram = require(path.join(ROOT, "index.ts")) as Obj;
    } catch (e) {
        onError(e);
    }
    // Every registration keeps the SDK's RPC queue open until its newResource returned or failed.
    const waitForRPCs = (pulumi.runtime as unknown as { waitForRPCs: () => Promise<void> }).waitForRPCs;
    for (let quiet = 0, rounds = 0; quiet < 3 && rounds < 3000; rounds++) {
        await waitForRPCs();
        await sleep(300);
        quiet = realizer.inflight === 0 ? quiet + 1 : 0;
    }
    const errors = [...realizer.errors, ...programErrors];
    const seconds = (Date.now() - t0) / 1000;
    const state = realizer.state;
    if (errors.length === 0) state.outputs = (await resolveOutput(exportsOfProgram, 5000)) as Obj;
    state.lastUp = { at: new Date().toISOString(), ok: errors.length === 0, seconds, errors };
    writeJson(stateFile(stack), state);
    const c = realizer.counts;
    const summary = `${state.resources.length} resources in state; this run: ${c.created} created, ${c.rerun} commands re-run, ${c.existing} already there, ${c.adopted} adopted`;
    if (errors.length > 0) {
        log(`up ${stack}: FAILED after ${seconds.toFixed(1)}s (${summary})`);
        for (const e of errors) log(`error: ${e}`);
        return 1;
    }
    log(`outputs: ${JSON.stringify(state.outputs)}`);
    log(`up ${stack}: ok in ${seconds.toFixed(1)}s (${summary})`);
    return 0;
}

// ---------------------------------------------------------------------------------------------
// destroy

async function destroyOne(r: ResourceRecord): Promise<void> {
    const d = r.destroy;
    const ok = (res: RunResult, what: string, gone = /No such|not found/i) => {
        if (res.code !== 0 && !gone.test(res.stderr)) fail(what, res);
    };
    switch (d.kind) {
        case "none":
            return;
        case "remote-command": {
            if (!d.script) return;
            if (!fs.existsSync(d.ssh.keyFile)) throw new Error(`key file ${d.ssh.keyFile} is gone`);
            const res = await sshScript(d.ssh, d.script, undefined, 10);
            if (res.stdout.trim()) log(`         ${r.name}: ${res.stdout.trim().split("\n").join(" | ")}`);
            if (res.code !== 0) fail(`delete of ${r.name}`, res);
            return;
        }
        case "local-command": {
            if (!d.script) return;
            const res = await run("/bin/sh", ["-c", d.script], { env: { ...process.env, ...d.env }, timeoutMs: 300_000 });
            if (res.code !== 0) fail(`delete of ${r.name}`, res);
            return;
        }
        case "container":
            return ok(await docker(d.docker, ["rm", "-f", "-v", d.name]), `docker rm -f ${d.name}`);
        case "network":
            return ok(await docker(d.docker, ["network", "rm", d.name]), `docker network rm ${d.name}`);
        case "volume":
            return ok(await docker(d.docker, ["volume", "rm", d.name]), `docker volume rm ${d.name}`);
        case "image":
            if (d.keepLocally) return;
            return ok(await docker(d.docker, ["rmi", d.name]), `docker rmi ${d.name}`);
    }
}

async function destroy(stack: string): Promise<number> {
    const t0 = Date.now();
    const state = loadState(stack);
    if (state.resources.length === 0) {
        log(`destroy ${stack}: nothing in state`);
        if (fs.existsSync(stateFile(stack))) fs.rmSync(stateFile(stack));
        return 0;
    }
    const failures: string[] = [];
    const deleteOne = async (r: ResourceRecord) => {
        const t1 = Date.now();
        try {
            await destroyOne(r);
            log(`deleted  ${r.type} ${r.name} (${((Date.now() - t1) / 1000).toFixed(1)}s)`);
        } catch (e) {
            const msg = e instanceof Error ? e.message : String(e);
            failures.push(`${r.type} ${r.name}: ${msg}`);
            log(`FAILED   delete ${r.type} ${r.name}: ${msg}`);
        }
    };
    const all = state.resources;
    if (all.every((r) => r.urn)) {
        // As the engine deletes: a resource goes once everything that depends on it is gone, independent
        // ones in parallel (at most PARALLEL at once). A failed delete is reported; the walk goes on.
        const dependents = new Map(all.map((r) => [r.key, all.filter((x) => x.dependsOn?.includes(r.urn as string))]));
        const done = new Set<string>();
        const started = new Set<string>();
        const running = new Map<string, Promise<string>>();
        while (done.size < all.length) {
            for (const r of [...all].reverse()) {
                if (running.size >= PARALLEL) break;
                if (started.has(r.key) || !(dependents.get(r.key) ?? []).every((d) => done.has(d.key))) continue;
                started.add(r.key);
                running.set(r.key, deleteOne(r).then(() => r.key));
            }
            if (running.size === 0) throw new Error("dependency cycle in the state file");
            const finished = await Promise.race(running.values());
            running.delete(finished);
            done.add(finished);
        }
    } else {
        for (const r of [...all].reverse()) await deleteOne(r);
    }
    fs.rmSync(stateFile(stack));
    const seconds = ((Date.now() - t0) / 1000).toFixed(1);
    if (failures.length > 0) {
        log(`destroy ${stack}: ${failures.length} failure(s) of ${state.resources.length} in ${seconds}s (state file removed)`);
        return 1;
    }
    log(`destroy ${stack}: ${state.resources.length} resources deleted in ${seconds}s`);
    return 0;
}

// ---------------------------------------------------------------------------------------------

async function main(argv: string[]): Promise<number> {
    const [stack, cmd, ...rest] = argv;
    if (!stack || !/^[a-z0-9-]+$/.test(stack) || !fs.existsSync(path.join(__dirname, "stacks", `${stack}.yaml`))) {
        console.error("usage: harness.ts <stack in rig/stacks> up [--set key=value]... | destroy | state");
        return 2;
    }
    switch (cmd) {
        case "up": {
            const overrides: Record<string, string> = {};
            for (let i = 0; i < rest.length; i++) {
                const m = rest[i] === "--set" ? /^([^=]+)=(.*)$/s.exec(rest[++i] ?? "") : null;
                if (!m) {
                    console.error(`bad argument ${rest[i]}: use --set key=value`);
                    return 2;
                }
                overrides[m[1]] = m[2];
            }
            return up(stack, overrides);
        }
        case "destroy":
            return destroy(stack);
        case "state": {
            const s = loadState(stack);
            for (const r of s.resources) console.log(`${r.lastUp.padEnd(8)} ${r.type} ${r.name} ${r.id}`);
            console.log(JSON.stringify({ outputs: s.outputs, lastUp: s.lastUp }, null, 2));
            return 0;
        }
        default:
            console.error("usage: harness.ts <stack> up [--set key=value]... | destroy | state");
            return 2;
    }
}

main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e) => {
        console.error(`${LOG_PREFIX} fatal: ${e instanceof Error ? e.stack : String(e)}`);
        process.exit(1);
    },
);
