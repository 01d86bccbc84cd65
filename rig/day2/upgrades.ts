/** Consul and edge upgrades to a rebuilt image and back, each rolled out one host at a time while watched. */
import { dockerOn, must } from "../lib";
import { StackCli } from "../pulumi";
import { assert, check } from "../report";
import { Scenario } from "../scenario";
import { overlappingHosts, replacedIn, touchedIn } from "./engineOutput";
import { configure } from "./stackConfig";
import { assertUndisturbed, describe, watchedUp } from "./watch";

/** A locally built image that differs from `base` (a label), tagged `tag` on each host: an upgrade with nothing else changed. */
export async function buildVariant(hosts: number[], base: string, tag: string): Promise<void> {
    for (const h of hosts) {
        await must(
            dockerOn(h, ["build", "-q", "-t", tag, "-"], {
                input: `FROM ${base}\nLABEL io.swarm-platform.rig.variant=${JSON.stringify(tag)}\n`,
                env: { ...process.env, DOCKER_BUILDKIT: "0" },
            }),
            `docker build ${tag} on rig-h${h}`,
        );
    }
}

/**
 * A config change rolled out by `up` while the service is watched: every resource matching `rolled`
 * is replaced, one host at a time, nothing outside `rolled` and `alsoTouched` changes, no request
 * fails after one retry and a server always names a leader.
 */
export async function checkRollout(
    stack: StackCli,
    s: Scenario,
    label: string,
    config: string[],
    rolled: RegExp,
    alsoTouched: RegExp,
): Promise<boolean> {
    return check(`${label}[${stack.label}]`, async () => {
        const { r, w } = await watchedUp(
            stack,
            s,
            config.flatMap((c) => ["--config", c]),
        );
        const replaced = replacedIn(r).filter((n) => rolled.test(n));
        const line = describe(r, w, `replaced in order: ${replaced.join(", ") || "nothing"}`);
        assertUndisturbed(r, w, line);
        const outside = touchedIn(r).filter((n) => !rolled.test(n) && !alsoTouched.test(n));
        assert(replaced.length > 0, `nothing matching ${rolled} was replaced; ${line}`);
        assert(outside.length === 0, `up also changed ${outside.join(", ")}; ${line}`);
        const overlaps = overlappingHosts(r, [rolled]);
        assert(overlaps.length === 0, `hosts changed at the same time: ${overlaps.join("; ")}; ${line}`);
        return line;
    });
}

/** The upgrades the rig rolls out: a config key, the image the stack names for it, what it replaces and what else it may touch. */
export const UPGRADES = [
    {
        label: "consul-upgrade",
        key: "swarm-platform:consulImage",
        image: (s: Scenario) => s.model.images.consul,
        hosts: (s: Scenario) => s.hosts,
        rolled: /^platform-consul-(agent|rollout)-/,
        alsoTouched: /^platform-consul-(image|data-owner)-/,
    },
    {
        label: "edge-upgrade",
        key: "swarm-platform:edgeBaseImage",
        image: (s: Scenario) => s.model.images.edgeBase,
        hosts: (s: Scenario) => s.edges,
        rolled: /^platform-edge-(rig|vip|rollout)-/,
        alsoTouched: /^platform-edge-image-/,
    },
];

/**
 * Each upgrade to a rebuilt image and back again, both rolled out while watched; the rebuilt images
 * go afterwards, so the hosts end as the stack found them.
 */
export async function checkUpgrades(stack: StackCli, s: Scenario): Promise<void> {
    for (const u of UPGRADES) {
        const image = u.image(s);
        const rebuilt = `${image}-rebuilt`;
        await buildVariant(u.hosts(s), image, rebuilt);
        try {
            if (await checkRollout(stack, s, u.label, [`${u.key}=${rebuilt}`], u.rolled, u.alsoTouched)) {
                await checkRollout(stack, s, `${u.label}-back`, [`${u.key}=${image}`], u.rolled, u.alsoTouched);
            }
        } finally {
            await configure(stack, ["set", u.key, image]);
            for (const h of u.hosts(s)) await dockerOn(h, ["image", "rm", rebuilt]);
        }
    }
}
