/**
 * What `pulumi up` did, read from the engine's own output: its step lines name each resource with what
 * happened to it (deleting original, created replacement, created, deleted, updated, replaced).
 */
import { PulumiRun } from "../pulumi";

/** The engine's step lines of a resource: `name` deleting / deleted / creating / created, in output order. */
export const STEP = /^\s*[-+~]{1,3}\s+\S+\s+(\S+)\s+(deleting original|created replacement|replaced|created|deleted|updated)\b/;

/** The resources `up` replaced, in the order their replacements were created. */
export const replacedIn = (r: PulumiRun): string[] =>
    r.output
        .split("\n")
        .map((l) => STEP.exec(l))
        .filter((m): m is RegExpExecArray => m !== null && m[2] === "created replacement")
        .map((m) => m[1]);

/** The resources `up` touched at all (created, deleted, updated or replaced). */
export const touchedIn = (r: PulumiRun): string[] => [
    ...new Set(
        r.output
            .split("\n")
            .map((l) => STEP.exec(l)?.[1])
            .filter((n): n is string => Boolean(n)),
    ),
];

/** The rig host a resource belongs to, by the host name its name ends with. */
const hostOf = (name: string): string | undefined => /(rig-h\d+)$/.exec(name)?.[1];

/**
 * Hosts whose replacements overlapped within one rollout, by the engine's own output. Each pattern of
 * `rollouts` is one rollout that goes one host at a time (Consul's agents, the edges); in it, a host is
 * in the middle of a change from the deletion of its first matching resource until every one it
 * deleted has its replacement. Two rollouts are not ordered against each other: an edge replaced on
 * one host while a Consul agent is replaced on another is no overlap.
 */
export function overlappingHosts(r: PulumiRun, rollouts: RegExp[]): string[] {
    const overlaps = new Set<string>();
    for (const rollout of rollouts) {
        const pending = new Map<string, Set<string>>();
        for (const line of r.output.split("\n")) {
            const m = STEP.exec(line);
            const host = m && rollout.test(m[1]) ? hostOf(m[1]) : undefined;
            if (!m || !host) continue;
            if (m[2] === "deleting original") {
                for (const [other, names] of pending) if (other !== host && names.size > 0) overlaps.add([other, host].sort().join(" + "));
                pending.set(host, (pending.get(host) ?? new Set()).add(m[1]));
            } else if (m[2] === "created replacement") pending.get(host)?.delete(m[1]);
        }
    }
    return [...overlaps];
}

/** A demo backend replica's resource, keyed by replica and host. */
export const BACKEND_REPLICA = /^platform-backends-web-\d+-rig-h\d+$/;
