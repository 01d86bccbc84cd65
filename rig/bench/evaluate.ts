/**
 * The program evaluated under Pulumi's mocks for each host count given (the multihost stack grown as
 * in test/graph.test.ts); prints one JSON object: per count, CPU seconds, wall seconds and resources.
 * Its own process, so no other work shares the CPU time it reads. It runs as `pulumi up` runs the
 * program: compiled, with Pulumi.yaml's nodeargs, and refuses to measure any other form.
 *
 *   npm run build && node --stack-trace-limit=0 --max-semi-space-size=64 bin/rig/bench/evaluate.js 10 100
 */
import { Platform } from "../../components/Platform";
import { assertCompiledCurrent, programNodeArgs } from "../../lib/project";
import { runUnderMocks } from "../../support/mockEngine";
import { modelWithHosts } from "../../support/stacks";

async function main(): Promise<void> {
    const nodeArgs = programNodeArgs();
    if (!__filename.endsWith(".js") || nodeArgs.some((a) => !process.execArgv.includes(a))) {
        throw new Error(
            `not the form pulumi up runs; measure with: npm run build && node ${nodeArgs.join(" ")} bin/rig/bench/evaluate.js ${process.argv.slice(2).join(" ")}`,
        );
    }
    assertCompiledCurrent();
    const out: Record<string, { cpuSeconds: number; wallSeconds: number; resources: number }> = {};
    for (const hosts of process.argv.slice(2).map(Number)) {
        const model = modelWithHosts(hosts);
        const cpu0 = process.cpuUsage();
        const t0 = Date.now();
        const run = await runUnderMocks(() => new Platform("platform", { model }));
        const cpu = process.cpuUsage(cpu0);
        out[hosts] = { cpuSeconds: (cpu.user + cpu.system) / 1e6, wallSeconds: (Date.now() - t0) / 1000, resources: run.resources.length };
    }
    console.log(JSON.stringify(out));
}

main().catch((e) => {
    console.error(e);
    process.exit(1);
});
