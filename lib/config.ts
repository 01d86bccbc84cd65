import * as pulumi from "@pulumi/pulumi";
import { projectConfigDefaults } from "./defaults";
import { PlatformModel } from "./model";
import { RawConfig, formatProblem, validateConfig } from "./validate";

export interface LoadedConfig {
    model: PlatformModel;
    /** The shared SSH key, kept secret; undefined when every remote host names a key file. */
    sshPrivateKey?: pulumi.Output<string>;
}

/** Reads every project key (defaults from Pulumi.yaml, values from the stack) as plain data. */
function readRawConfig(config: pulumi.Config): RawConfig {
    const raw: RawConfig = { ...projectConfigDefaults() };
    for (const key of [...Object.keys(raw), "hosts"]) {
        if (key === "sshPrivateKey") continue;
        const text = config.get(key);
        if (text === undefined) continue;
        try {
            raw[key] = JSON.parse(text);
        } catch {
            raw[key] = text;
        }
    }
    return raw;
}

/**
 * The one place stack config is read. Problems stop the program before any resource is registered,
 * all of them in one message; warnings are logged and the run goes on.
 */
export function loadPlatformConfig(config = new pulumi.Config(), stack = pulumi.getStack()): LoadedConfig {
    const raw = readRawConfig(config);
    const secretKey = config.get("sshPrivateKey") ? config.requireSecret("sshPrivateKey") : undefined;
    if (secretKey) raw.sshPrivateKey = "(secret)";
    const result = validateConfig(raw, stack);
    for (const warning of result.warnings) pulumi.log.warn(formatProblem(warning));
    if (!result.model) {
        const lines = result.errors.map((e) => `  - ${formatProblem(e)}`);
        throw new pulumi.RunError(`stack config of "${stack}" is invalid (${result.errors.length} problem(s)):\n${lines.join("\n")}`);
    }
    return { model: result.model, sshPrivateKey: secretKey };
}
