/**
 * One evaluation under Pulumi's mocks, in its own process, so no other work shares the CPU time and
 * the memory it reads; prints one JSON object (EvaluationResult). Two kinds:
 *   program HOSTS [RECORD]  the program for the multihost stack grown to HOSTS (support/stacks.ts);
 *                           with RECORD, the resources it registered are written there as JSON
 *   floor RECORD            a plain program registering those same resources (same types, names and
 *                           count, the inputs the program gave them as constants): the SDK's own floor
 * It runs as `pulumi up` runs the program, compiled with Pulumi.yaml's nodeargs, and refuses any other
 * form (rig/bench/evaluation.ts builds it and runs it).
 */
import * as fs from "fs";
import * as pulumi from "@pulumi/pulumi";
import { Platform } from "../../components/Platform";
import { programNodeArgs } from "../../lib/project";
import { RecordedResource, runUnderMocks } from "../../support/mockEngine";
import { modelWithHosts } from "../../support/stacks";

export interface EvaluationResult {
    cpuSeconds: number;
    wallSeconds: number;
    resources: number;
    /** The process's peak resident memory. */
    maxRssMb: number;
}

/** What the floor program needs of each registration, in the order the program made them. */
interface Registration {
    type: string;
    name: string;
    custom: boolean;
    inputs: Record<string, unknown>;
    secretInputs: string[];
    /** The name of the provider resource it used, if any. */
    provider?: string;
}

const PROVIDER_PREFIX = "pulumi:providers:";

// The SDK's resource classes are abstract; these add nothing to them.
class FloorResource extends pulumi.CustomResource {}
class FloorProvider extends pulumi.ProviderResource {}

const registrationOf = (r: RecordedResource): Registration => ({
    type: r.type,
    name: r.name,
    custom: r.custom,
    inputs: r.inputs,
    secretInputs: r.secretInputs,
    // A provider reference is `URN::ID`; the URN's last part is the provider's name.
    provider: r.provider ? r.provider.split("::")[3] : undefined,
});

/** Registers each recorded resource again with plain constants for inputs, its provider by name. */
function floorProgram(registrations: Registration[]): void {
    const providers = new Map<string, pulumi.ProviderResource>();
    for (const r of registrations) {
        const inputs = Object.fromEntries(Object.entries(r.inputs).map(([k, v]) => [k, r.secretInputs.includes(k) ? pulumi.secret(v) : v]));
        if (r.type.startsWith(PROVIDER_PREFIX)) {
            providers.set(r.name, new FloorProvider(r.type.slice(PROVIDER_PREFIX.length), r.name, inputs));
        } else if (r.custom) {
            new FloorResource(r.type, r.name, inputs, { provider: r.provider ? providers.get(r.provider) : undefined });
        } else {
            new pulumi.ComponentResource(r.type, r.name, inputs);
        }
    }
}

async function measured(program: () => unknown): Promise<{ result: EvaluationResult; resources: RecordedResource[] }> {
    const cpu0 = process.cpuUsage();
    const t0 = Date.now();
    const run = await runUnderMocks(program);
    const cpu = process.cpuUsage(cpu0);
    return {
        result: {
            cpuSeconds: (cpu.user + cpu.system) / 1e6,
            wallSeconds: (Date.now() - t0) / 1000,
            resources: run.resources.length,
            maxRssMb: process.resourceUsage().maxRSS / 1024,
        },
        resources: run.resources,
    };
}

async function main(): Promise<void> {
    const nodeArgs = programNodeArgs();
    if (!__filename.endsWith(".js") || nodeArgs.some((a) => !process.execArgv.includes(a))) {
        throw new Error(`not the form pulumi up runs: run it compiled, with node ${nodeArgs.join(" ")} (rig/bench/evaluation.ts does)`);
    }
    const [kind, arg, record] = process.argv.slice(2);
    if (kind === "program") {
        const model = modelWithHosts(Number(arg));
        const { result, resources } = await measured(() => new Platform("platform", { model }));
        if (record) fs.writeFileSync(record, JSON.stringify(resources.map(registrationOf)));
        console.log(JSON.stringify(result));
    } else if (kind === "floor") {
        const registrations = JSON.parse(fs.readFileSync(arg, "utf8")) as Registration[];
        console.log(JSON.stringify((await measured(() => floorProgram(registrations))).result));
    } else {
        throw new Error("usage: evaluate.js program HOSTS [RECORD] | floor RECORD");
    }
}

main().catch((e) => {
    console.error(e);
    process.exit(1);
});
