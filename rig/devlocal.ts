/**
 * The dev stack as a new user runs it: the README's first command, word for word, in a copy of the
 * repository with its own Pulumi.dev.yaml, inside rig-h1's namespaces, so that "the local engine" and
 * "local commands" are a rig host's and not this machine's.
 */
import * as fs from "fs";
import * as path from "path";
import * as yaml from "js-yaml";
import { projectConfigDefaults } from "../lib/defaults";
import { RIG_STATE, ROOT, dockerOn, must } from "./lib";
import { CliStack, copyProject } from "./pulumi";

/** The first ```sh block after "Bring the dev stack up" in the README: what a new user types. */
export function readmeUpCommand(readme = fs.readFileSync(path.join(ROOT, "README.md"), "utf8")): string {
    const m = /Bring the dev stack up[^\n]*\n+```sh\n([^\n]+)\n```/.exec(readme);
    if (!m) throw new Error('README.md has no ```sh block after "Bring the dev stack up"');
    return m[1];
}

/**
 * No registry is reachable, so the host's engine gets the rig's images under the names the stack's
 * defaults pin: each image rig-dev's stack file names (rig/README.md says which are stand-ins and why),
 * tagged as the default of the same key.
 */
const defaultImageTags = (): [string, string][] => {
    const defaults = projectConfigDefaults();
    const rigDev = yaml.load(fs.readFileSync(path.join(ROOT, "rig", "stacks", "rig-dev.yaml"), "utf8")) as {
        config: Record<string, unknown>;
    };
    return Object.entries(rigDev.config)
        .map(([key, value]): [string, unknown] => [key.replace(/^swarm-platform:/, ""), value])
        .filter(([key]) => key.endsWith("Image"))
        .map(([key, rigImage]) => [String(rigImage), String(defaults[key])]);
};

/** nsenter arguments that put a process into rig-h<i>'s mount, UTS and network namespaces. */
export const insideHost = (i: number): string[] => [
    "nsenter",
    "--target",
    fs.readFileSync(path.join(RIG_STATE, `h${i}-dockerd.launch`), "utf8").trim(),
    "--mount",
    "--uts",
    "--net",
    "--",
];

/** The stack `dev` of a fresh project copy with its own node_modules, run inside rig-h<host>. */
export function devLocalStack(host: number): CliStack {
    const dir = path.join(RIG_STATE, "pulumi", "projects", "dev-local");
    copyProject(dir, false);
    // The host has no route to the npm registry: npm works from the cache this machine's `npm ci` filled.
    return new CliStack("dev-local", "dev", dir, insideHost(host), {
        npm_config_offline: "true",
        npm_config_audit: "false",
        npm_config_fund: "false",
    });
}

export async function tagDefaultImages(host: number): Promise<void> {
    for (const [from, to] of defaultImageTags()) await must(dockerOn(host, ["tag", from, to]), `tag ${from} as ${to}`);
}

export async function untagDefaultImages(host: number): Promise<void> {
    for (const [, tag] of defaultImageTags()) await dockerOn(host, ["image", "rm", tag]);
}
