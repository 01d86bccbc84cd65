/**
 * The real Pulumi CLI for the live rig: the toolchain built by ../shared/pulumi-toolchain (its bin
 * directory in $RIG_PULUMI_BIN), plugins installed into a PULUMI_HOME of the rig's own, a local
 * file:// backend and the passphrase secrets provider, all under the rig's state directory.
 */
import { execFileSync, spawn } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import * as yaml from "js-yaml";
import { RIG_KEY, RIG_STATE, ROOT, descendants, must, publicKeyOf, run } from "./lib";

/** The plugins the SDK packages ask for, at the versions package.json pins. */
const PLUGINS = ["command", "random", "docker"].map((name) => ({
    name,
    version: (JSON.parse(fs.readFileSync(path.join(ROOT, "node_modules", "@pulumi", name, "package.json"), "utf8")) as { version: string })
        .version,
}));

const PULUMI_DIR = path.join(RIG_STATE, "pulumi");
export const PULUMI_HOME = path.join(PULUMI_DIR, "home");
export const BACKEND_DIR = path.join(PULUMI_DIR, "state");

function toolchainBin(): string {
    const bin = process.env.RIG_PULUMI_BIN;
    if (!bin || !fs.existsSync(path.join(bin, "pulumi")))
        throw new Error("RIG_PULUMI_BIN must name the toolchain's bin directory (bash rig/toolchain.sh prints it)");
    return bin;
}

/** One passphrase per rig, kept beside the state it encrypts and gone with it. */
function passphrase(): string {
    const file = path.join(PULUMI_DIR, "passphrase");
    if (!fs.existsSync(file)) fs.writeFileSync(file, crypto.randomBytes(24).toString("base64"), { mode: 0o600 });
    return fs.readFileSync(file, "utf8");
}

/** What every pulumi run of the rig sees: only the rig's plugins, its backend, no update check. */
export function pulumiEnv(): NodeJS.ProcessEnv {
    return {
        ...process.env,
        PATH: `${toolchainBin()}:${process.env.PATH ?? ""}`,
        PULUMI_HOME,
        PULUMI_BACKEND_URL: `file://${BACKEND_DIR}`,
        PULUMI_CONFIG_PASSPHRASE: passphrase(),
        PULUMI_SKIP_UPDATE_CHECK: "1",
        PULUMI_IGNORE_AMBIENT_PLUGINS: "true",
        PULUMI_DIY_BACKEND_NO_LEGACY_WARNING: "true",
        // The rig's own agent (hosts.sh), never the caller's: hosts without a key file authenticate through it.
        SSH_AUTH_SOCK: path.join(RIG_STATE, "agent.sock"),
    };
}

/** Installs the toolchain's provider plugins into the rig's PULUMI_HOME, as a user's `pulumi plugin install` would. */
export async function installPlugins(): Promise<string> {
    fs.mkdirSync(BACKEND_DIR, { recursive: true, mode: 0o700 });
    const env = pulumiEnv();
    const bin = toolchainBin();
    for (const p of PLUGINS) {
        await must(
            run("pulumi", ["plugin", "install", "resource", p.name, p.version, "--file", path.join(bin, `pulumi-resource-${p.name}`)], {
                env,
                timeoutMs: 120_000,
            }),
            `pulumi plugin install ${p.name}`,
        );
    }
    const version = await must(run("pulumi", ["version"], { env }), "pulumi version");
    return `pulumi ${version}; plugins ${PLUGINS.map((p) => `${p.name} ${p.version}`).join(", ")}`;
}

export interface PulumiRun {
    code: number;
    output: string;
    seconds: number;
    /** Killed on `killWhen`. */
    killed?: boolean;
}

export interface PulumiRunOptions {
    cwd: string;
    timeoutMs: number;
    /** Extra environment on top of pulumiEnv(). */
    env?: NodeJS.ProcessEnv;
    /** A command prefix the run goes through (nsenter into a rig host's namespaces). */
    wrapper?: string[];
    /** SIGKILL the run as soon as its output matches, as a crash or an operator's `kill -9` would. */
    killWhen?: RegExp;
}

/** The run in progress, ended (by its pid) if the checks are told to stop. */
let current: ReturnType<typeof spawn> | undefined;
export const killCurrent = (): void => {
    current?.kill("SIGKILL");
};

/**
 * Runs one command line (`pulumi ...` or a shell line such as the README's) with the rig's Pulumi
 * environment, echoing its output indented, bounded by a hard timeout.
 */
export function runPulumi(argv: string[], opts: PulumiRunOptions): Promise<PulumiRun> {
    const t0 = Date.now();
    const [cmd, ...args] = [...(opts.wrapper ?? []), ...argv];
    return new Promise((resolve) => {
        const child = spawn(cmd, args, { cwd: opts.cwd, env: { ...pulumiEnv(), ...opts.env }, stdio: ["ignore", "pipe", "pipe"] });
        let output = "";
        let partial = "";
        let killed = false;
        const onData = (d: Buffer) => {
            output += d.toString();
            if (opts.killWhen && !killed && opts.killWhen.test(output)) {
                killed = true;
                // The CLI's plugins (language host, providers) outlive a SIGKILLed CLI: they go by pid too.
                const plugins = child.pid ? descendants(child.pid) : [];
                child.kill("SIGKILL");
                for (const pid of plugins) {
                    try {
                        process.kill(pid, "SIGTERM");
                    } catch {
                        // Gone with the CLI already.
                    }
                }
            }
            const lines = (partial + d.toString()).split("\n");
            partial = lines.pop() ?? "";
            for (const l of lines) console.log(`  | ${l}`);
        };
        child.stdout?.on("data", onData);
        child.stderr?.on("data", onData);
        current = child;
        const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs);
        child.on("close", (code) => {
            clearTimeout(timer);
            current = undefined;
            if (partial) console.log(`  | ${partial}`);
            resolve({ code: code ?? 1, output, seconds: (Date.now() - t0) / 1000, killed });
        });
    });
}

/** A stack the real CLI acts on: `cli("up")` is `pulumi up --yes` on it, wherever and however it runs. */
export interface StackCli {
    readonly label: string;
    /** `killWhen`: SIGKILL the CLI once its output matches (see PulumiRunOptions). */
    cli(verb: string, args?: string[], killWhen?: RegExp): Promise<PulumiRun>;
    exportState(): Promise<string>;
}

/**
 * A copy of the repository's files (tracked and not ignored) as they are in the work tree: stacks live in it, so the
 * engine writes its stack files (with the secrets provider's salt) there and never into the work tree.
 * `linkModules` reuses the work tree's node_modules and builds the program as `npm ci` would; without
 * it the copy needs its own `npm ci`.
 */
export function copyProject(dir: string, linkModules: boolean): void {
    fs.rmSync(dir, { recursive: true, force: true });
    const files = execFileSync("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], { cwd: ROOT })
        .toString()
        .split("\0")
        .filter(Boolean);
    for (const f of files) {
        if (!fs.existsSync(path.join(ROOT, f))) continue;
        fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
        fs.copyFileSync(path.join(ROOT, f), path.join(dir, f));
    }
    if (linkModules) {
        fs.symlinkSync(path.join(ROOT, "node_modules"), path.join(dir, "node_modules"));
        execFileSync("npm", ["run", "build"], { cwd: dir, stdio: ["ignore", "ignore", "inherit"] });
    }
}

const shellWord = (w: string): string => (/^[\w@%+=:,./-]+$/.test(w) ? w : `'${w.replace(/'/g, `'"'"'`)}'`);

/** One stack of a project copy, driven by the real CLI; `wrapper` runs it elsewhere (inside a rig host). */
export class CliStack implements StackCli {
    constructor(
        readonly label: string,
        readonly stackName: string,
        readonly projectDir: string,
        private readonly wrapper: string[] = [],
        private readonly env: NodeJS.ProcessEnv = {},
    ) {}

    /** A shell line run in the project copy, through the wrapper. */
    shell(line: string, env: NodeJS.ProcessEnv = {}, killWhen?: RegExp): Promise<PulumiRun> {
        return runPulumi([...this.wrapper, "sh", "-c", `cd "$0" && ${line}`, this.projectDir], {
            cwd: ROOT,
            timeoutMs: 900_000,
            env: { ...this.env, ...env },
            killWhen,
        });
    }

    /** `pulumi <verb> ...` on this stack; `up`, `refresh` and `destroy` are confirmed with --yes. */
    cli(verb: string, args: string[] = [], killWhen?: RegExp): Promise<PulumiRun> {
        const confirm = ["up", "refresh", "destroy", "cancel"].includes(verb) ? ["--yes"] : [];
        return this.shell(
            ["exec", "pulumi", verb, "--stack", this.stackName, "--non-interactive", ...confirm, ...args].map(shellWord).join(" "),
            {},
            killWhen,
        );
    }

    /** The stack's state as `pulumi stack export` writes it, secrets left encrypted. */
    exportState(): Promise<string> {
        return must(
            run("pulumi", ["stack", "export", "--stack", this.stackName, "--show-secrets=false"], {
                env: pulumiEnv(),
                cwd: this.projectDir,
                timeoutMs: 60_000,
            }),
            "pulumi stack export",
        );
    }
}

/** The public key file of the host key every rig host's sshd presents (hosts.sh makes one per rig). */
export const RIG_HOST_KEY = path.join(RIG_STATE, "ssh_host_ed25519_key.pub");

/** Sets `hosts[i].ssh.hostKey` of every host of the stack to `key`, through the CLI as a user would. */
export async function pinHostKeys(stack: StackCli, hostCount: number, key: string): Promise<void> {
    for (let i = 0; i < hostCount; i++) {
        const r = await stack.cli("config", ["set", "--path", `hosts[${i}].ssh.hostKey`, key]);
        if (r.code !== 0) throw new Error(`pulumi config set --path hosts[${i}].ssh.hostKey: exit ${r.code}`);
    }
}

/**
 * A rig stack: a project copy holding rig/stacks/<name>.yaml as its stack file, run from this machine,
 * with every host's SSH host key pinned and the rig's key as the secret sshPrivateKey (for hosts that
 * name no key file).
 */
export async function rigStack(name: string): Promise<CliStack> {
    const dir = path.join(PULUMI_DIR, "projects", name);
    copyProject(dir, true);
    fs.copyFileSync(path.join(ROOT, "rig", "stacks", `${name}.yaml`), path.join(dir, `Pulumi.${name}.yaml`));
    const stack = new CliStack(name, name, dir);
    // A stack left by an earlier, interrupted run of the rig starts over: the rig's hosts are new each run.
    const init = await stack.shell(
        `pulumi stack rm ${name} --force --yes --preserve-config --non-interactive >/dev/null 2>&1; exec pulumi stack init ${name} --non-interactive`,
    );
    if (init.code !== 0) throw new Error(`pulumi stack init ${name}: exit ${init.code}`);
    const hosts = (yaml.load(fs.readFileSync(path.join(dir, `Pulumi.${name}.yaml`), "utf8")) as { config: Record<string, unknown[]> })
        .config["swarm-platform:hosts"];
    await pinHostKeys(stack, hosts.length, publicKeyOf(RIG_HOST_KEY));
    const key = await stack.shell(`pulumi config set --stack ${name} --secret sshPrivateKey < ${RIG_KEY}`);
    if (key.code !== 0) throw new Error(`pulumi config set --secret sshPrivateKey: exit ${key.code}`);
    return stack;
}
