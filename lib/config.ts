import * as pulumi from "@pulumi/pulumi";
import { projectConfigDefaults } from "./defaults";
import { LastDeployment, PlatformModel } from "./model";
import { RawConfig, formatProblem, unchangeableProblems, validateConfig } from "./validate";

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

const invalid = (stack: string, problems: { key: string; message: string; fix: string }[]): pulumi.RunError =>
    new pulumi.RunError(
        `stack config of "${stack}" is invalid (${problems.length} problem(s)):\n${problems.map((e) => `  - ${formatProblem(e)}`).join("\n")}`,
    );

/** The stack output that records what the running swarm fixed (see unchangeableProblems). */
export const SWARM_FIXED_OUTPUT = "swarmFixedSettings";

/** The stack outputs that say what the last deployment ran: Consul's agents and where each backend is. */
export const CONSUL_AGENTS_OUTPUT = "consulAgents";
export const BACKEND_PLACEMENT_OUTPUT = "backendPlacement";
/** The address of the manager the others joined through. */
export const MANAGER_ADDRESS_OUTPUT = "managerAddress";

/**
 * Reads what the last deployment left and refuses, before any resource is registered, settings its
 * swarm cannot take in place. The outputs come from a reference to this very stack, which the engine
 * reads from the state at preview and up alike.
 */
export async function checkAgainstLastDeployment(model: PlatformModel): Promise<LastDeployment> {
    const self = new pulumi.StackReference("last-deployment", {
        name: `${pulumi.getOrganization()}/${pulumi.getProject()}/${pulumi.getStack()}`,
    });
    const previous = (await self.getOutputDetails(SWARM_FIXED_OUTPUT)).value;
    const problems = unchangeableProblems(previous, model);
    if (problems.length > 0) throw invalid(model.stack, problems);
    const agents: unknown = (await self.getOutputDetails(CONSUL_AGENTS_OUTPUT)).value;
    const placement: unknown = (await self.getOutputDetails(BACKEND_PLACEMENT_OUTPUT)).value;
    const managerAddress: unknown = (await self.getOutputDetails(MANAGER_ADDRESS_OUTPUT)).value;
    return {
        // A member's address cannot change (refused above), so the address still names its host.
        swarmInit: model.hosts.find((h) => h.address === managerAddress)?.name ?? null,
        consulAgents: Array.isArray(agents) ? agents.filter((a): a is string => typeof a === "string") : [],
        backendPlacement:
            typeof placement === "object" && placement !== null
                ? Object.fromEntries(Object.entries(placement).filter((e): e is [string, string] => typeof e[1] === "string"))
                : {},
    };
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
    if (!result.model) throw invalid(stack, result.errors);
    return { model: result.model, sshPrivateKey: secretKey };
}
