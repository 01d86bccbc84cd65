import { spawnSync } from "child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";

export interface ScriptRun {
    code: number;
    stdout: string;
    stderr: string;
}

/**
 * A scratch directory of stand-in programs, first on PATH when a rendered script runs, so the script
 * meets a `docker`, `iptables` or `sleep` that answers from state files in the same directory and
 * records what it was asked. The stand-ins find the directory in $FAKE.
 */
export class FakeBin {
    readonly dir: string;

    constructor(programs: Record<string, string>) {
        this.dir = mkdtempSync(join(tmpdir(), "fake-bin-"));
        for (const [name, body] of Object.entries(programs)) writeFileSync(join(this.dir, name), body, { mode: 0o755 });
    }

    path(name: string): string {
        return join(this.dir, name);
    }

    write(name: string, content: string): void {
        writeFileSync(this.path(name), content);
    }

    /** A state or log file's content; "" when absent. */
    read(name: string): string {
        return existsSync(this.path(name)) ? readFileSync(this.path(name), "utf8") : "";
    }

    /** A state or log file's non-empty lines. */
    lines(name: string): string[] {
        return this.read(name).split("\n").filter(Boolean);
    }

    /** The environment a script runs in: only the stand-ins and the system's own programs on PATH. */
    env(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
        return { PATH: `${this.dir}:/usr/bin:/bin`, FAKE: this.dir, ...extra };
    }

    /** Runs `script` with sh from a file, `stdin` (where a secret arrives) on its standard input. */
    run(script: string, opts: { stdin?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): ScriptRun {
        const file = this.path("script.sh");
        writeFileSync(file, script);
        const r = spawnSync("sh", [file], {
            input: opts.stdin ?? "",
            env: this.env(opts.env),
            encoding: "utf8",
            timeout: opts.timeoutMs ?? 20_000,
        });
        return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
    }

    remove(): void {
        rmSync(this.dir, { recursive: true, force: true });
    }
}
