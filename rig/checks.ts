/**
 * The live checks: every scenario end to end with the real Pulumi CLI against the rig's hosts, in order.
 *
 *   RIG_PULUMI_BIN=... npx ts-node --transpile-only rig/checks.ts [dev] [local] [multi]   (default: all)
 */
import { installPlugins, killCurrent } from "./pulumi";
import { check, info, report, tally } from "./report";
import { scenarioDev } from "./scenarios/dev";
import { checkBaseline } from "./scenarios/hosts";
import { scenarioLocal } from "./scenarios/local";
import { scenarioMulti } from "./scenarios/multi";

for (const sig of ["SIGTERM", "SIGINT"] as const) {
    process.on(sig, () => {
        killCurrent();
        console.log(`FAIL checks: stopped by ${sig}`);
        process.exit(1);
    });
}

async function main(): Promise<number> {
    const which = process.argv.slice(2);
    const scenarios = which.length ? which : ["dev", "local", "multi"];
    const t0 = Date.now();
    await check("toolchain", installPlugins);
    const baseline = await checkBaseline();
    for (const sc of scenarios) {
        if (sc === "dev") await scenarioDev(baseline);
        else if (sc === "multi") await scenarioMulti(baseline);
        else if (sc === "local") await scenarioLocal();
        else throw new Error(`unknown scenario ${sc}`);
    }
    report(tally.timings.length > 0, "timings", tally.timings.join("; ") || "none recorded");
    info(`checks done in ${((Date.now() - t0) / 1000).toFixed(0)}s: ${tally.passed} passed, ${tally.failed} failed`);
    return tally.failed === 0 ? 0 : 1;
}

main().then(
    (code) => process.exit(code),
    (e) => {
        report(false, "checks", `crashed: ${e instanceof Error ? e.stack : String(e)}`);
        process.exit(1);
    },
);
