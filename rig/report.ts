/**
 * How the live checks report: exactly one line per check, `PASS <name>: <detail>` or
 * `FAIL <name>: <detail>`, counted for the closing summary; other lines are context.
 */
export const tally = { passed: 0, failed: 0, skipped: 0, timings: [] as string[] };

/**
 * For development: RIG_ONLY (a regular expression) runs only the checks whose names match it, and
 * those that bring a stack up or take it down; every other check prints `SKIP <name>` and counts
 * neither way. CI never sets it.
 */
const ONLY = process.env.RIG_ONLY ? new RegExp(process.env.RIG_ONLY) : undefined;
const ALWAYS = /^(toolchain|baseline|clean-start|preview|up|destroy|destroy-clean)(\[|$)/;

export function report(ok: boolean, name: string, detail: string): void {
    if (ok) tally.passed++;
    else tally.failed++;
    console.log(`${ok ? "PASS" : "FAIL"} ${name}: ${detail.replace(/\s*\n\s*/g, " | ")}`);
}

/** Runs one check: a returned string is its PASS detail, a thrown error its FAIL detail. */
export async function check(name: string, f: () => Promise<string>): Promise<boolean> {
    if (ONLY && !ONLY.test(name) && !ALWAYS.test(name)) {
        tally.skipped++;
        console.log(`SKIP ${name}`);
        return true;
    }
    try {
        report(true, name, await f());
        return true;
    } catch (e) {
        report(false, name, e instanceof Error ? e.message : String(e));
        return false;
    }
}

export const info = (msg: string): void => console.log(`[checks] ${msg}`);

export function timing(name: string, seconds: number): void {
    const line = `${name} ${seconds.toFixed(1)}s`;
    tally.timings.push(line);
    info(`timing: ${line}`);
}

export function assert(cond: unknown, msg: string): asserts cond {
    if (!cond) throw new Error(msg);
}
