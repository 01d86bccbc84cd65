/**
 * An `up` killed halfway through a Consul upgrade, then the README's recovery and `up` again, all while
 * the service is watched.
 */
import { MANAGED_LABEL } from "../../render/shell";
import { dockerOn, must, sleep } from "../lib";
import { PulumiRun, StackCli } from "../pulumi";
import { assert, check } from "../report";
import { Scenario } from "../scenario";
import { replacedIn } from "./engineOutput";
import { configure } from "./stackConfig";
import { UPGRADES, buildVariant, checkRollout } from "./upgrades";
import { assertUndisturbed, describe, watchService } from "./watch";

/** The ids of the containers the stack's state holds. */
async function containersInState(stack: StackCli): Promise<Set<string>> {
    const state = JSON.parse(await stack.exportState()) as { deployment: { resources?: { type: string; id?: string }[] } };
    return new Set(
        (state.deployment.resources ?? []).filter((r) => r.type === "docker:index/container:Container" && r.id).map((r) => r.id as string),
    );
}

/**
 * The README's recovery from an interrupted `up`, step by step as an operator runs it: the lock the
 * killed CLI left goes (`pulumi cancel`), `pulumi refresh --clear-pending-creates` forgets what was
 * being created, and every container of the stack that the state does not know (half made by the
 * interrupted create, it holds the name the next create needs) is removed from its host.
 */
async function recoverInterrupted(stack: StackCli, hosts: number[]): Promise<string> {
    const cancel = await stack.cli("cancel");
    assert(cancel.code === 0, `pulumi cancel: exit ${cancel.code}: ${cancel.output.slice(-300)}`);
    const refresh = await stack.cli("refresh", ["--clear-pending-creates"]);
    assert(refresh.code === 0, `pulumi refresh --clear-pending-creates: exit ${refresh.code}: ${refresh.output.slice(-300)}`);
    const known = await containersInState(stack);
    const removed: string[] = [];
    for (const h of hosts) {
        const ids = (await must(dockerOn(h, ["ps", "-aq", "--no-trunc", "--filter", `label=${MANAGED_LABEL}`]), "docker ps"))
            .split("\n")
            .filter(Boolean);
        for (const id of ids.filter((i) => !known.has(i))) {
            const name = (await must(dockerOn(h, ["inspect", "--format", "{{.Name}} {{.State.Status}}", id]), "docker inspect")).trim();
            await must(dockerOn(h, ["rm", "-f", id]), `docker rm -f ${id}`);
            removed.push(`rig-h${h}:${name}`);
        }
    }
    return `cancel, refresh --clear-pending-creates, removed ${removed.join(", ") || "no leftover"}`;
}

/**
 * `pulumi up` of a Consul upgrade killed with SIGKILL while the second agent is being created, then
 * the README's recovery and `up` again, all while the service is watched: the second `up` completes
 * the rollout, a preview then finds nothing to change, and the upgrade is rolled back.
 */
export async function checkInterrupted(stack: StackCli, s: Scenario): Promise<void> {
    const u = UPGRADES[0];
    const image = u.image(s);
    const rebuilt = `${image}-rebuilt`;
    const secondAgent = `platform-consul-agent-rig-h${s.consulServers[1]}`;
    await buildVariant(u.hosts(s), image, rebuilt);
    try {
        await check(`interrupted-up[${stack.label}]`, async () => {
            const watch = watchService(s);
            let steps = "";
            let second: PulumiRun | undefined;
            let killed: PulumiRun | undefined;
            try {
                killed = await stack.cli("up", ["--config", `${u.key}=${rebuilt}`], new RegExp(`${secondAgent} creating replacement`));
                if (killed.killed) {
                    steps = await recoverInterrupted(stack, s.hosts);
                    second = await stack.cli("up");
                }
            } finally {
                await sleep(2000);
            }
            const w = await watch.stop();
            assert(killed.killed, `up ended (exit ${killed.code}) before ${secondAgent} was being created`);
            assert(second, "no second up");
            const line = describe(
                second,
                w,
                `killed after ${killed.seconds.toFixed(1)}s while ${secondAgent} was being created; ${steps}; the next up replaced ${
                    replacedIn(second)
                        .filter((n) => u.rolled.test(n))
                        .join(", ") || "nothing"
                }`,
            );
            assertUndisturbed(second, w, line);
            const again = await stack.cli("preview", ["--expect-no-changes"]);
            assert(again.code === 0, `preview after the recovered up found changes: exit ${again.code}; ${line}`);
            return `${line}; preview --expect-no-changes passes`;
        });
    } finally {
        await configure(stack, ["set", u.key, image]);
        await checkRollout(stack, s, `${u.label}-after-interruption`, [], u.rolled, u.alsoTouched);
        for (const h of u.hosts(s)) await dockerOn(h, ["image", "rm", rebuilt]);
    }
}
