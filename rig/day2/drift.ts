/** Drift on a host (a container removed by hand, the stack's rules lost, the engine restarted) and its repair. */
import * as path from "path";
import { MANAGED_LABEL } from "../../render/shell";
import { ROOT, dockerOn, must, run, sleep, snapshotHost, waitFor } from "../lib";
import { PulumiRun, StackCli } from "../pulumi";
import { assert, check } from "../report";
import { Scenario } from "../scenario";
import { touchedIn } from "./engineOutput";
import { dropStackRules } from "./firewallRestored";
import { describe, watchService } from "./watch";

const containerStates = async (h: number): Promise<Map<string, string>> =>
    new Map(
        (await must(dockerOn(h, ["ps", "-a", "--filter", `label=${MANAGED_LABEL}`, "--format", "{{.Names}} {{.State}}"]), "docker ps"))
            .split("\n")
            .filter(Boolean)
            .map((l) => l.split(" ") as [string, string]),
    );

/**
 * Drift on rig-h<h>: registrator removed by hand, then, as a reboot would, the stack's iptables rules
 * lost and the host's dockerd restarted, all while the service is watched. What Docker can bring back
 * comes back by itself (every other container, by its restart policy; the rules, by the firewall
 * keeper), and `pulumi refresh` then `pulumi up` restore the rest, touching nothing else; a preview
 * then finds nothing to change.
 */
export async function checkDrift(stack: StackCli, s: Scenario, h: number): Promise<void> {
    const name = `rig-h${h}`;
    await check(`drift[${stack.label}]`, async () => {
        const before = await snapshotHost(h);
        const running = [...(await containerStates(h)).entries()].filter(([, state]) => state === "running").map(([n]) => n);
        const watch = watchService(s);
        let back: string[] = [];
        let dropped = 0;
        let rulesBack = 0;
        let refresh: PulumiRun | undefined;
        let up: PulumiRun | undefined;
        try {
            await must(dockerOn(h, ["rm", "-f", "registrator"]), "docker rm -f registrator");
            dropped = await dropStackRules(h);
            await must(
                run("bash", [path.join(ROOT, "rig", "hosts.sh"), "restart-engine", String(h)], { timeoutMs: 180_000 }),
                `hosts.sh restart-engine ${h}`,
            );
            const expected = running.filter((n) => n !== "registrator");
            const settled = await waitFor(
                async () => {
                    const now = await containerStates(h);
                    return expected.every((n) => now.get(n) === "running") ? [...now.keys()] : undefined;
                },
                60_000,
                1000,
                60,
            );
            back = settled.value ?? [];
            assert(settled.value, `not back after the restart: ${expected.filter((n) => !back.includes(n)).join(", ")}`);
            const rules = await waitFor(
                async () => (JSON.stringify((await snapshotHost(h)).firewall) === JSON.stringify(before.firewall) ? true : undefined),
                30_000,
                250,
                200,
            );
            assert(rules.value, `${name}'s firewall rules not back ${(rules.ms / 1000).toFixed(1)}s after its containers`);
            rulesBack = (settled.ms + rules.ms) / 1000;
            refresh = await stack.cli("refresh");
            up = await stack.cli("up");
        } finally {
            await sleep(2000);
        }
        const w = await watch.stop();
        assert(refresh.code === 0, `pulumi refresh: exit ${refresh.code}: ${refresh.output.slice(-300)}`);
        const touched = touchedIn(up);
        const line = describe(
            up,
            w,
            `${back.length} containers back by themselves; refresh then up changed ${touched.join(", ") || "nothing"}`,
        );
        assert(up.code === 0, `up exit ${up.code}; ${line}`);
        assert(
            touched.length > 0 && touched.every((n) => n === `platform-registrator-${name}`),
            `up should recreate only platform-registrator-${name}; ${line}`,
        );
        assert((await containerStates(h)).get("registrator") === "running", `registrator not running on ${name}; ${line}`);
        const again = await stack.cli("preview", ["--expect-no-changes"]);
        assert(again.code === 0, `preview after the repair found changes: exit ${again.code}; ${line}`);
        return `${line}; ${dropped} stack rules dropped before the restart, all back ${rulesBack.toFixed(1)}s after it; preview --expect-no-changes passes (${w.failed} failed requests, ${w.leaderlessSeconds.toFixed(1)}s without a leader while ${name}'s engine restarted)`;
    });
}
