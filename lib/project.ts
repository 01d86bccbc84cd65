import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import * as yaml from "js-yaml";

/**
 * The directory of Pulumi.yaml, found upwards: this module runs as lib/project.ts under ts-node and
 * jest, and as bin/lib/project.js compiled, the form `pulumi up` runs.
 */
export const PROJECT_DIR = ((): string => {
    for (let dir = __dirname; ; dir = path.dirname(dir)) {
        if (fs.existsSync(path.join(dir, "Pulumi.yaml"))) return dir;
        if (path.dirname(dir) === dir) throw new Error(`no Pulumi.yaml in ${__dirname} or above`);
    }
})();

/** What this project reads of its Pulumi.yaml. */
export interface ProjectFile {
    runtime?: { options?: { nodeargs?: string } };
    config?: Record<string, { default?: unknown }>;
}

export const readProjectFile = (): ProjectFile => yaml.load(fs.readFileSync(path.join(PROJECT_DIR, "Pulumi.yaml"), "utf8")) as ProjectFile;

/** The node flags Pulumi.yaml has the engine run the program with, so a measurement can use the same. */
export function programNodeArgs(): string[] {
    return (readProjectFile().runtime?.options?.nodeargs ?? "").split(/\s+/).filter(Boolean);
}

/**
 * Pulumi runs no build step, so the compiled program in bin/ can be older than its sources after an
 * edit or a checkout: refuse to run it then, rather than deploy what the sources no longer say. Checks
 * the modules loaded so far, each against the .ts it came from; under ts-node there are none to check.
 */
export function assertCompiledCurrent(): void {
    const bin = path.join(PROJECT_DIR, "bin");
    const stale = Object.keys(require.cache)
        .filter((js) => js.startsWith(bin + path.sep) && js.endsWith(".js"))
        .map((js) => ({ js, ts: path.join(PROJECT_DIR, path.relative(bin, js)).replace(/\.js$/, ".ts") }))
        .filter(({ js, ts }) => !fs.existsSync(ts) || fs.statSync(ts).mtimeMs > fs.statSync(js).mtimeMs)
        .map(({ ts }) => path.relative(PROJECT_DIR, ts));
    if (stale.length > 0) {
        throw new pulumi.RunError(`bin/ was compiled before the last change to ${stale.join(", ")}: run \`npm run build\` and try again`);
    }
}
