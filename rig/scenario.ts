/**
 * The rig's scenarios, read from their stack files (rig/stacks/<name>.yaml) through the program's own
 * validation: which rig hosts a stack uses and what each of them plays comes from the file, so a check
 * and the stack it checks cannot disagree. Rig host i is 10.77.0.1<i>, named rig-h<i>.
 */
import * as path from "path";
import { PlatformModel, consulServers, edgeHosts, managers } from "../lib/model";
import { placeReplicas } from "../lib/topology";
import { validateConfig } from "../lib/validate";
import { stackFileRawConfig } from "../support/stacks";
import { ROOT, hostAddress, hostNumber } from "./lib";

export interface Scenario {
    stack: string;
    /** Rig host numbers, in the stack file's order. */
    hosts: number[];
    managers: number[];
    consulServers: number[];
    edges: number[];
    edgePort: number;
    replicas: number;
    vip?: string;
    /** The stack file's validated model, for what the checks compare the hosts with (overlay, gwbridge, images, names). */
    model: PlatformModel;
}

/** The scenario of rig/stacks/<stack>.yaml; throws with the validation's own words when the file is not a valid stack. */
export function scenarioOf(stack: string): Scenario {
    const raw = stackFileRawConfig(path.join(ROOT, "rig", "stacks", `${stack}.yaml`));
    // rigStack sets the secret sshPrivateKey on every rig stack, for the hosts that name no key file; lib/config
    // hands the validation a stand-in for a secret the same way.
    raw.sshPrivateKey = "(secret)";
    const { model, errors } = validateConfig(raw, stack);
    if (!model) throw new Error(`rig/stacks/${stack}.yaml: ${errors.map((e) => `${e.key}: ${e.message}`).join("; ")}`);
    const numbers = (hosts: { name: string; address: string }[]): number[] =>
        hosts.map((h) => {
            const i = hostNumber(h.address);
            if (i === undefined || h.name !== `rig-h${i}`)
                throw new Error(
                    `rig/stacks/${stack}.yaml: host ${h.name} at ${h.address} is not a rig host (rig-h<i> at ${hostAddress(0).slice(0, -1)}<i>)`,
                );
            return i;
        });
    return {
        stack,
        hosts: numbers(model.hosts),
        managers: numbers(managers(model)),
        consulServers: numbers(consulServers(model)),
        edges: numbers(edgeHosts(model)),
        edgePort: model.edge.port,
        replicas: model.backends.replicas,
        vip: model.edge.vip,
        model,
    };
}

export const DEV = scenarioOf("rig-dev");
export const MULTI = scenarioOf("rig-multi");

export const backendName = (s: Scenario, k: number): string => `${s.model.backends.service}-${k}`;
/** The rig host backend replica k (1-based) runs on after the stack's first deployment, placed as DemoBackends places it. */
export function backendHost(s: Scenario, k: number): number {
    const placement = placeReplicas(
        s.model.backends.service,
        s.model.backends.replicas,
        s.model.hosts.map((h) => h.name),
        {},
    );
    return s.hosts[s.model.hosts.findIndex((h) => h.name === placement[backendName(s, k)])];
}
export const edgeUrl = (s: Scenario, host = s.edges[0]): string => `http://${hostAddress(host)}:${s.edgePort}/`;
