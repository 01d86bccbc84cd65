/**
 * The engine's lifecycle of one stack on the rig, each step a check: `preview` touches no host, `up`
 * serves traffic, a second preview / up / refresh find nothing to change (nor with the hosts listed in
 * another order), the state holds no secret in plain text, and `destroy` leaves every host as it was found.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as yaml from "js-yaml";
import { HostSnapshot, diffSnapshots, httpGet, must, publicKeyOf, run, snapshotHosts, waitFor } from "./lib";
import { BACKEND_REPLICA, touchedIn } from "./day2/engineOutput";
import { CliStack, PulumiRun, StackCli, pinHostKeys } from "./pulumi";
import { assert, check, report, timing } from "./report";
import { nameOf, requestLoop } from "./requests";
import { Scenario, edgeUrl } from "./scenario";
import { waitBackends } from "./clients/consul";

const errorLines = (r: PulumiRun, n = 5): string =>
    r.output
        .split("\n")
        .filter((l) => /error:|failed|FAIL/i.test(l))
        .slice(0, n)
        .join(" / ") || r.output.slice(-600);

/** The engine's own summary line(s), e.g. "+ 35 to create" or "35 unchanged". */
const summary = (r: PulumiRun): string =>
    r.output
        .split("\n")
        .map((l) => l.trim())
        .filter((l) => /^[+~\-±]?\s*\d+ (to create|to update|to delete|to replace|created|updated|deleted|replaced|unchanged)/.test(l))
        .join(", ");

export async function checkPreview(stack: StackCli, hosts: number[]): Promise<boolean> {
    return check(`preview[${stack.label}]`, async () => {
        const before = await snapshotHosts(hosts);
        const r = await stack.cli("preview");
        const diff = diffSnapshots(before, await snapshotHosts(hosts));
        assert(r.code === 0, `exit ${r.code}: ${errorLines(r)}`);
        assert(/to create/.test(summary(r)), `no plan in the output: ${r.output.slice(-400)}`);
        assert(diff.length === 0, `preview changed the hosts: ${diff.slice(0, 8).join("; ")}`);
        return `plan ${summary(r)} in ${r.seconds.toFixed(1)}s; hosts unchanged`;
    });
}

/**
 * With another key pinned as every host's `hostKey`, `up` is refused on both SSH paths (the scripts'
 * connection and the Docker CLI's ssh) and no host changes; then the right key goes back and what the
 * refused `up` created off-host (random values) is destroyed.
 */
export async function checkHostKeyPinned(stack: StackCli, hostCount: number, hosts: number[], rightKey: string): Promise<void> {
    await check(`host-key-pinned[${stack.label}]`, async () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rig-hostkey-"));
        try {
            await must(
                run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "not-the-host", "-f", path.join(dir, "key")]),
                "ssh-keygen",
            );
            await pinHostKeys(stack, hostCount, publicKeyOf(path.join(dir, "key.pub")));
            const before = await snapshotHosts(hosts);
            // Without --continue-on-error the engine stops at the first refusal, which may come from either path.
            const r = await stack.cli("up", ["--continue-on-error"]);
            const diff = diffSnapshots(before, await snapshotHosts(hosts));
            assert(r.code !== 0, `up succeeded with a wrong host key pinned`);
            assert(diff.length === 0, `the refused up changed the hosts: ${diff.slice(0, 6).join("; ")}`);
            const scripts = r.output.includes("host key mismatch");
            const dockerCli = r.output.includes("Host key verification failed");
            assert(
                scripts && dockerCli,
                `up failed, but not on both SSH paths (scripts refused: ${scripts}, Docker CLI refused: ${dockerCli}): ${errorLines(r, 4)}`,
            );
            return `up exit ${r.code} in ${r.seconds.toFixed(1)}s; scripts: "ssh: host key mismatch", Docker CLI's ssh: "Host key verification failed"; hosts unchanged`;
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
            await pinHostKeys(stack, hostCount, rightKey);
            await stack.cli("destroy");
        }
    });
}

/** Plugin version mismatches and undefined outputs show up as engine warnings on every run. */
export const engineWarnings = (r: PulumiRun): string[] => [
    ...new Set(
        r.output
            .split("\n")
            .filter((l) => /^\s*warning:/.test(l))
            .map((l) => l.trim()),
    ),
];

/** Waits for the first request served through the edge after an `up`. */
async function firstServed(s: Scenario): Promise<number | undefined> {
    const first = await waitFor(
        async () => {
            const x = await httpGet(edgeUrl(s), 2000);
            return x.status === 200 && nameOf(x.body) ? true : undefined;
        },
        90_000,
        200,
        450,
    );
    return first.value ? first.ms / 1000 : undefined;
}

export async function checkUp(stack: StackCli, s: Scenario, args: string[] = [], label = `up[${stack.label}]`): Promise<boolean> {
    const r = await stack.cli("up", args);
    if (r.code !== 0) {
        report(false, label, `exit ${r.code} after ${r.seconds.toFixed(1)}s: ${errorLines(r)}`);
        return false;
    }
    const warnings = engineWarnings(r);
    if (warnings.length > 0) {
        report(false, label, `succeeded in ${r.seconds.toFixed(1)}s with engine warnings: ${warnings.join(" / ")}`);
        return false;
    }
    timing(`${label} duration`, r.seconds);
    const served = await firstServed(s);
    if (served !== undefined) timing(`first request served after ${label}`, served);
    report(
        served !== undefined,
        label,
        `${summary(r)} in ${r.seconds.toFixed(1)}s; ${served !== undefined ? `first request via ${edgeUrl(s)} ${served.toFixed(1)}s later` : `but ${edgeUrl(s)} served nothing within 90s`}`,
    );
    return served !== undefined;
}

/** `pulumi preview`, `up` and `refresh`, each with --expect-no-changes, and the hosts untouched by all three. */
export async function checkNoChanges(stack: StackCli, hosts: number[]): Promise<void> {
    const before = await snapshotHosts(hosts);
    for (const verb of ["preview", "up", "refresh"]) {
        await check(`${verb}-no-changes[${stack.label}]`, async () => {
            const r = await stack.cli(verb, ["--expect-no-changes"]);
            assert(r.code === 0, `pulumi ${verb} --expect-no-changes: exit ${r.code}: ${errorLines(r, 8)}`);
            const diff = diffSnapshots(before, await snapshotHosts(hosts));
            assert(diff.length === 0, `pulumi ${verb} changed the hosts: ${diff.slice(0, 8).join("; ")}`);
            return `exit 0 in ${r.seconds.toFixed(1)}s (${summary(r) || "no changes"}); host snapshots unchanged`;
        });
    }
}

/**
 * A setting the running swarm cannot take (its data path port) is refused by `pulumi preview`, naming
 * the key and the running value, with no host touched; then the setting goes back.
 */
export async function checkUnchangeableRefused(stack: StackCli, hosts: number[]): Promise<void> {
    await check(`unchangeable-refused[${stack.label}]`, async () => {
        const before = await snapshotHosts(hosts);
        try {
            const r = await stack.cli("preview", ["--config", "swarm-platform:swarmDataPathPort=4790"]);
            const diff = diffSnapshots(before, await snapshotHosts(hosts));
            const line = r.output.split("\n").find((l) => l.includes("swarmDataPathPort: the running swarm was initialised with 4789"));
            assert(r.code !== 0, "preview accepted swarmDataPathPort=4790 on a running swarm");
            assert(line, `preview failed without naming swarmDataPathPort and its running value: ${errorLines(r, 4)}`);
            assert(diff.length === 0, `the refused preview changed the hosts: ${diff.slice(0, 6).join("; ")}`);
            return `preview exit ${r.code} in ${r.seconds.toFixed(1)}s, hosts unchanged: ${line.trim()}`;
        } finally {
            await stack.cli("config", ["rm", "swarm-platform:swarmDataPathPort"]);
        }
    });
}

/**
 * Day 2: `backendReplicas` changed by `pulumi up` while requests run through `url` (the VIP where there
 * is one): only backend containers are created or deleted, every request is answered, and the catalog
 * ends with exactly the new count. Ends back at the scenario's own count.
 */
export async function checkScale(stack: StackCli, s: Scenario, url: string, steps: number[]): Promise<void> {
    for (const replicas of [...steps, s.replicas]) {
        await check(`scale-${replicas}[${stack.label}]`, async () => {
            let done = false;
            const loop = requestLoop(url, 2000, 120_000, 50, () => done);
            try {
                const r = await stack.cli("up", ["--config", `swarm-platform:backendReplicas=${replicas}`]);
                assert(r.code === 0, `up with backendReplicas=${replicas}: exit ${r.code}: ${errorLines(r)}`);
                const touched = touchedIn(r);
                const others = touched.filter((n) => !BACKEND_REPLICA.test(n));
                assert(touched.length > 0, `no created or deleted resource in the output of up: ${r.output.slice(-400)}`);
                assert(others.length === 0, `up changed more than backends: ${others.join(", ")}`);
                await waitBackends(s, replicas);
            } finally {
                done = true;
            }
            const samples = await loop;
            const failed = samples.filter((x) => x.status !== 200);
            assert(
                failed.length === 0,
                `${failed.length} of ${samples.length} requests through ${url} failed (statuses ${[...new Set(failed.map((x) => x.status))].join(", ")})`,
            );
            return `backendReplicas=${replicas}: only backend containers changed; ${replicas} instances passing; ${samples.length} requests through ${url} during the change, none failed`;
        });
    }
}

/** The exported state (secrets left encrypted) holds none of the given values. */
export async function checkStateSecrets(stack: StackCli, secrets: Record<string, string[]>): Promise<void> {
    await check(`state-secrets[${stack.label}]`, async () => {
        const state = await stack.exportState();
        const found = Object.entries(secrets).filter(([, values]) => values.some((v) => state.includes(v)));
        const missing = Object.entries(secrets)
            .filter(([, values]) => values.length === 0)
            .map(([k]) => k);
        assert(missing.length === 0, `could not read ${missing.join(", ")} from the hosts, so the state was not checked for them`);
        assert(found.length === 0, `in plain text in the state: ${found.map(([k]) => k).join(", ")}`);
        return `${(state.length / 1024).toFixed(0)} KiB of state, none of ${Object.keys(secrets).join(", ")} in plain text`;
    });
}

export async function checkDestroy(stack: StackCli, hosts: number[], reference: HostSnapshot[], label: string): Promise<void> {
    const r = await stack.cli("destroy");
    report(
        r.code === 0,
        `destroy[${stack.label}]`,
        r.code === 0 ? `${summary(r)} in ${r.seconds.toFixed(1)}s` : `exit ${r.code}: ${errorLines(r)}`,
    );
    const diff = diffSnapshots(reference, await snapshotHosts(hosts));
    report(
        diff.length === 0,
        `destroy-clean[${stack.label}]`,
        diff.length === 0 ? `every host as ${label}` : `hosts differ from ${label}: ${diff.slice(0, 12).join("; ")}`,
    );
}

/**
 * `protectData=true` makes `pulumi destroy` refuse and leave the hosts alone; back to false, the stack
 * can go again. Each switch is applied by an `up`, which must change nothing on the hosts.
 */
export async function checkProtect(stack: StackCli, hosts: number[]): Promise<void> {
    await check(`protect[${stack.label}]`, async () => {
        const before = await snapshotHosts(hosts);
        const on = await stack.cli("up", ["--config", "swarm-platform:protectData=true"]);
        assert(on.code === 0, `up with protectData=true: exit ${on.code}: ${errorLines(on)}`);
        const refused = await stack.cli("destroy");
        const diff = diffSnapshots(before, await snapshotHosts(hosts));
        const off = await stack.cli("up", ["--config", "swarm-platform:protectData=false"]);
        assert(off.code === 0, `up with protectData=false: exit ${off.code}: ${errorLines(off)}`);
        assert(refused.code !== 0, "destroy ran although protectData=true");
        const protectedLines = refused.output.split("\n").filter((l) => /protected/.test(l));
        assert(protectedLines.length > 0, `destroy failed, but not for protection: ${errorLines(refused)}`);
        assert(diff.length === 0, `a refused destroy changed the hosts: ${diff.slice(0, 6).join("; ")}`);
        return `destroy refused with protectData=true (${protectedLines[0].trim().slice(0, 160)}), hosts unchanged; ups switching it: ${summary(on) || "no changes"} / ${summary(off) || "no changes"}`;
    });
}

/** The same hosts listed in reverse: the engine must find nothing to change. */
export async function checkReorder(stack: CliStack): Promise<void> {
    await check(`reorder-no-changes[${stack.label}]`, async () => {
        const file = path.join(stack.projectDir, `Pulumi.${stack.stackName}.yaml`);
        const original = fs.readFileSync(file, "utf8");
        const doc = yaml.load(original) as { config: Record<string, unknown[]> };
        const names = (doc.config["swarm-platform:hosts"] as { name: string }[]).map((h) => h.name);
        doc.config["swarm-platform:hosts"].reverse();
        fs.writeFileSync(file, yaml.dump(doc));
        try {
            const r = await stack.cli("preview", ["--expect-no-changes"]);
            assert(
                r.code === 0,
                `hosts listed as ${[...names].reverse().join(", ")}: exit ${r.code}: ${r.output
                    .split("\n")
                    .filter((l) => /^\s*[-+~]{1,2}\s/.test(l))
                    .slice(0, 6)
                    .join(" / ")}`,
            );
            return `hosts listed as ${[...names].reverse().join(", ")} instead of ${names.join(", ")}: preview --expect-no-changes exit 0`;
        } finally {
            fs.writeFileSync(file, original);
        }
    });
}
