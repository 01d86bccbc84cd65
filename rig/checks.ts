/**
 * The live checks: every scenario end to end with the real Pulumi CLI against the rig's hosts.
 *
 *   RIG_PULUMI_BIN=... npx ts-node --transpile-only rig/checks.ts [dev] [local] [multi]   (default: all)
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as yaml from "js-yaml";
import { projectConfigDefaults } from "../lib/defaults";
import { devLocalStack, insideHost, readmeUpCommand, tagDefaultImages, untagDefaultImages } from "./devlocal";
import {
    checkDestroy,
    checkHostKeyPinned,
    checkNoChanges,
    checkScale,
    checkUnchangeableRefused,
    checkPreview,
    checkProtect,
    checkStateSecrets,
    checkUp,
    engineWarnings,
} from "./lifecycle";
import { HostSnapshot, RIG_STATE, diffSnapshots, dockerOn, hostAddress, must, publicKeyOf, run, snapshotHosts, waitFor } from "./lib";
import { filesHolding } from "../support/files";
import { CliStack, RIG_HOST_KEY, installPlugins, killCurrent, rigStack } from "./pulumi";
import {
    checkDrift,
    checkFirewallRestored,
    checkFlowsChanged,
    checkGwbridgeRebuilt,
    checkHostAdded,
    checkHostRemoved,
    checkInitManagerRetired,
    checkInterrupted,
    checkUpgrades,
} from "./day2";
import { assert, check, info, report, tally, timing } from "./report";
import {
    DEV,
    GWBRIDGE_WANT,
    MULTI,
    Scenario,
    checkConsul,
    checkConsulApiClosed,
    checkConsulServerCutOff,
    checkConsulUnprivileged,
    checkCpuWeights,
    checkDockerProxy,
    checkEdgeDynamics,
    checkEdgeMalformedEntry,
    checkEdgeReach,
    checkGwbridge,
    checkIsolation,
    checkOverlay,
    checkRegistrator,
    checkServiceDns,
    checkSwarm,
    checkVersions,
    checkVip,
    gwbridgeOf,
    secretsOnHosts,
} from "./system";

// rig-h4 is in no stack file: rig-multi adds it as a worker and takes it out again.
const ALL_HOSTS = [1, 2, 3, 4];
const RIG_KEY = path.join(RIG_STATE, "id_ed25519");

for (const sig of ["SIGTERM", "SIGINT"] as const) {
    process.on(sig, () => {
        killCurrent();
        console.log(`FAIL checks: stopped by ${sig}`);
        process.exit(1);
    });
}

/** Every check of a stack that is up; `edgeFailure` is how the scenario takes an edge path away, `isolationHost` where tiers are probed. */
async function checkRunningStack(s: Scenario, edgeFailure: (s: Scenario) => Promise<void>, isolationHost: number): Promise<void> {
    await checkVersions(s, String(projectConfigDefaults().consulImage));
    await checkSwarm(s);
    await checkOverlay(s);
    await checkGwbridge(s);
    await checkConsul(s);
    await checkConsulUnprivileged(s);
    await checkCpuWeights(s);
    await checkConsulApiClosed(s);
    await checkRegistrator(s);
    await checkDockerProxy(s);
    await checkServiceDns(s);
    await checkEdgeReach(s);
    await checkEdgeMalformedEntry(s);
    await edgeFailure(s);
    await checkIsolation(s, isolationHost);
}

/** The same hosts listed in reverse: the engine must find nothing to change. */
async function checkReorder(stack: CliStack): Promise<void> {
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

/** The secret sshPrivateKey reached the hosts (rig-multi's rig-h3 has no key file) without being written to a file. */
async function checkNoKeyOnDisk(stack: CliStack): Promise<void> {
    await check(`no-key-on-disk[${stack.label}]`, async () => {
        // The second line of every unencrypted OpenSSH ed25519 key is the same header; the third is this key's own.
        const keyLine = fs.readFileSync(RIG_KEY, "utf8").split("\n")[2];
        const found = [os.tmpdir(), stack.projectDir, path.join(os.homedir(), ".ssh")].flatMap((d) =>
            fs.existsSync(d) ? filesHolding(d, keyLine) : [],
        );
        assert(found.length === 0, `the private key is in ${found.join(", ")}`);
        return `no file in ${os.tmpdir()}, the project or ~/.ssh holds the private key`;
    });
}

/** After a first `up`: the system checks, then nothing to change for the engine, then no secret in the state or on disk. */
async function checkDayOne(
    stack: CliStack,
    s: Scenario,
    edgeFailure: (s: Scenario) => Promise<void>,
    isolationHost: number,
): Promise<void> {
    await checkRunningStack(s, edgeFailure, isolationHost);
    await checkNoKeyOnDisk(stack);
    await checkNoChanges(stack, s.hosts);
    await checkUnchangeableRefused(stack, s.hosts);
    await checkStateSecrets(stack, await secretsOnHosts(s, RIG_KEY));
    await checkProtect(stack, s.hosts);
}

async function scenarioDev(baseline: HostSnapshot[]): Promise<void> {
    const s = DEV;
    info(
        `=== ${s.stack}: one host (rig-h1) with every role over SSH; a swarm and a docker_gwbridge made by hand beforehand must survive destroy`,
    );
    await must(
        dockerOn(1, [
            "network",
            "create",
            "--driver",
            "bridge",
            "--subnet",
            "172.21.0.0/20",
            "--gateway",
            "172.21.0.1",
            "-o",
            "com.docker.network.bridge.enable_icc=false",
            "-o",
            "com.docker.network.bridge.enable_ip_masquerade=true",
            "-o",
            "com.docker.network.bridge.name=docker_gwbridge",
            "docker_gwbridge",
        ]),
        "hand-made docker_gwbridge",
    );
    await must(dockerOn(1, ["swarm", "init", "--advertise-addr", hostAddress(1)]), "hand-made swarm init");
    // The swarm's ingress sandbox joins docker_gwbridge (and gets its raw/PREROUTING rule) a moment after
    // init: the "before" snapshot must include it.
    const sandbox = await waitFor(
        async () => {
            const ip = (
                await dockerOn(1, [
                    "network",
                    "inspect",
                    "docker_gwbridge",
                    "-f",
                    '{{range .Containers}}{{if eq .Name "gateway_ingress-sbox"}}{{.IPv4Address}}{{end}}{{end}}',
                ])
            ).stdout
                .trim()
                .split("/")[0];
            return ip && (await snapshotHosts([1]))[0].firewall.some((r) => r.includes(`-d ${ip}/32`)) ? ip : undefined;
        },
        30_000,
        500,
        60,
    );
    if (!sandbox.value) info("the hand-made swarm's ingress sandbox did not show on docker_gwbridge within 30s");
    const pre = await snapshotHosts(ALL_HOSTS);
    const handSwarm = pre[0].swarm[0];
    const stack = await rigStack(s.stack);
    await checkHostKeyPinned(stack, s.hosts.length, ALL_HOSTS, publicKeyOf(RIG_HOST_KEY));
    try {
        if ((await checkPreview(stack, ALL_HOSTS)) && (await checkUp(stack, s))) await checkDayOne(stack, s, checkEdgeDynamics, 1);
    } finally {
        await checkDestroy(stack, ALL_HOSTS, pre, "before up (hand-made swarm and gwbridge included)");
    }
    await check(`preexisting-kept[${s.stack}]`, async () => {
        const now = await must(dockerOn(1, ["info", "--format", "{{.Swarm.LocalNodeState}} node={{.Swarm.NodeID}}"]), "docker info");
        assert(handSwarm.startsWith(now), `swarm was "${handSwarm}", is now "${now}"`);
        const gw = await gwbridgeOf(1);
        assert(gw.startsWith(GWBRIDGE_WANT), `docker_gwbridge is "${gw}"`);
        return `hand-made swarm still ${now}; hand-made docker_gwbridge kept (${gw})`;
    });
    // Undo the hand-made setup so the next scenario starts from clean hosts.
    await dockerOn(1, ["swarm", "leave", "--force"]);
    await waitFor(async () => ((await dockerOn(1, ["network", "rm", "docker_gwbridge"])).code === 0 ? true : undefined), 20_000, 1000, 20);
    const diff = diffSnapshots(baseline, await snapshotHosts(ALL_HOSTS));
    if (diff.length > 0) info(`after undoing the hand-made swarm: hosts differ from the baseline: ${diff.join("; ")}`);
}

async function scenarioMulti(baseline: HostSnapshot[]): Promise<void> {
    const s = MULTI;
    info(`=== ${s.stack}: three hosts, all managers and Consul servers, two edges sharing VIP ${s.vip}`);
    await check(`clean-start[${s.stack}]`, async () => {
        const diff = diffSnapshots(baseline, await snapshotHosts(ALL_HOSTS));
        assert(diff.length === 0, diff.slice(0, 10).join("; "));
        return "every host as in the baseline taken before any stack ran";
    });
    // A docker_gwbridge with another subnet on rig-h3: the default config must refuse to touch it.
    await must(
        dockerOn(3, [
            "network",
            "create",
            "--driver",
            "bridge",
            "--subnet",
            "172.22.0.0/20",
            "--gateway",
            "172.22.0.1",
            "-o",
            "com.docker.network.bridge.name=docker_gwbridge",
            "docker_gwbridge",
        ]),
        "wrong-subnet docker_gwbridge on rig-h3",
    );
    const pre = await snapshotHosts(ALL_HOSTS);
    const stack = await rigStack(s.stack);
    try {
        await checkPreview(stack, ALL_HOSTS);
        await check(`gwbridge-guard[${s.stack}]`, async () => {
            const r = await stack.cli("up");
            assert(r.code !== 0, "up succeeded although rig-h3's docker_gwbridge has 172.22.0.0/20");
            const line = r.output.split("\n").find((l) => l.includes("gwbridgeAllowRebuild") && l.includes("rig-h3"));
            assert(
                line,
                `up failed, but no line names gwbridgeAllowRebuild and rig-h3: ${r.output
                    .split("\n")
                    .filter((l) => l.includes("error"))
                    .slice(0, 4)
                    .join(" / ")}`,
            );
            const gw = await gwbridgeOf(3);
            assert(gw.startsWith("172.22.0.0/20"), `rig-h3's docker_gwbridge changed to ${gw}`);
            return `up failed in ${r.seconds.toFixed(1)}s, bridge untouched; ${line.trim().slice(0, 260)}`;
        });
        // What the refused update created goes again; the bridge it refused to touch must stay.
        await checkDestroy(stack, ALL_HOSTS, pre, "before the refused up (rig-h3's foreign docker_gwbridge included)");
        if (
            await checkUp(stack, s, ["--config", "swarm-platform:gwbridgeAllowRebuild=true"], `up[${s.stack}] (gwbridgeAllowRebuild=true)`)
        ) {
            await check(`gwbridge-rebuild[${s.stack}]`, async () => {
                const gw = await gwbridgeOf(3);
                assert(gw === `${GWBRIDGE_WANT} managed=true`, `rig-h3's docker_gwbridge is "${gw}"`);
                return `rig-h3's docker_gwbridge rebuilt: ${gw}`;
            });
            await checkDayOne(stack, s, checkVip, 2);
            await checkScale(stack, s, `http://${s.vip}:${s.edgePort}/`, [9, 3]);
            await checkUpgrades(stack, s);
            await checkHostRemoved(stack, s, 4, "worker", await checkHostAdded(stack, s, 4, "worker"));
            const managerAdded = await checkHostAdded(stack, s, 4, "manager");
            await checkInitManagerRetired(stack, s, 4, managerAdded);
            await checkHostRemoved(stack, s, 4, "manager", managerAdded);
            await checkGwbridgeRebuilt(stack, s);
            await checkInterrupted(stack, s);
            await checkDrift(stack, s, 2);
            await checkFirewallRestored(stack, 2);
            await checkIsolation(s, 2);
            await checkFlowsChanged(stack, s);
            // Late: it disturbs Consul and the swarm more than the checks above.
            await checkConsulServerCutOff(s);
            await checkReorder(stack);
        }
    } finally {
        await checkDestroy(stack, ALL_HOSTS, baseline, "in the baseline taken before any stack ran");
        await dockerOn(3, ["network", "rm", "docker_gwbridge"]).then(
            (r) => r.code === 0 && info("removed a docker_gwbridge left on rig-h3"),
        );
    }
}

/** The engine's config validation passes for a stack file and `pulumi preview` reaches the program: `reached` is what shows it did. */
async function checkConfigValidation(dev: CliStack, stack: string, reached: RegExp, withKey: boolean): Promise<void> {
    await check(`config-validation[${stack}${withKey ? ", sshPrivateKey set" : ""}]`, async () => {
        if (withKey) {
            const set = await dev.shell(
                `pulumi config set --stack ${stack} --secret sshPrivateKey < ${RIG_KEY} && pulumi config get --stack ${stack} sshPrivateKey >/dev/null`,
            );
            assert(set.code === 0, `pulumi config set --secret sshPrivateKey: exit ${set.code}`);
        }
        // An empty HOME: multihost's ~/.ssh/id_ed25519 is missing, so the program stops before any provider could dial its placeholder hosts.
        const home = fs.mkdtempSync(path.join(os.tmpdir(), "rig-home-"));
        try {
            const r = await dev.shell(`exec pulumi preview --stack ${stack} --non-interactive`, { HOME: home });
            const refused = r.output
                .split("\n")
                .find((l) => /validating stack config|missing configuration value|must be encrypted/.test(l));
            assert(!refused, `the CLI refused the stack config: ${refused}`);
            assert(reached.test(r.output), `no sign the program ran (exit ${r.code}): ${r.output.slice(-400)}`);
            return `exit ${r.code}; the program ran (${reached.exec(r.output)?.[0]})`;
        } finally {
            fs.rmSync(home, { recursive: true, force: true });
        }
    });
}

/** Pulumi.dev.yaml, unmodified, brought up by the README's first command inside rig-h1. */
async function scenarioLocal(): Promise<void> {
    const dev = devLocalStack(1);
    const s: Scenario = { ...DEV, stack: "dev-local" };
    const command = readmeUpCommand();
    info(`=== dev-local: \`${command}\` with the repository's Pulumi.dev.yaml inside rig-h1 (local engine, local commands, 127.0.0.1)`);
    await tagDefaultImages(1);
    const pre = await snapshotHosts(ALL_HOSTS);
    try {
        const installed = await dev.shell("npm ci && pulumi stack init dev --non-interactive");
        report(installed.code === 0, "npm-ci[dev-local]", `exit ${installed.code} in ${installed.seconds.toFixed(1)}s`);
        await checkPreview(dev, ALL_HOSTS);
        const up = await dev.shell(command);
        const warnings = engineWarnings(up);
        report(
            up.code === 0 && warnings.length === 0,
            "readme-up[dev-local]",
            `\`${command}\`: exit ${up.code} in ${up.seconds.toFixed(1)}s${warnings.length ? `, engine warnings: ${warnings.join(" / ")}` : ", no engine warning"}`,
        );
        if (up.code === 0) {
            timing("up[dev-local] duration", up.seconds);
            await check("edge-reach[dev-local]", async () => {
                const names = new Set<string>();
                const probe = `for i in $(seq 1 30); do curl -s -m 2 http://127.0.0.1:8080/ | sed -n 's/^Name: //p'; sleep 0.3; done`;
                const [nsenter, ...into] = insideHost(1);
                await waitFor(
                    async () => {
                        const r = await run(nsenter, [...into, "sh", "-c", probe], { timeoutMs: 30_000 });
                        r.stdout
                            .split("\n")
                            .filter(Boolean)
                            .forEach((n) => names.add(n));
                        return names.size >= 3 ? true : undefined;
                    },
                    90_000,
                    1000,
                    6,
                );
                assert(names.size >= 3, `only ${[...names].join(", ") || "no backend"} answered on http://127.0.0.1:8080/`);
                return `http://127.0.0.1:8080/ inside rig-h1 served ${[...names].sort().join(", ")}`;
            });
            await checkNoChanges(dev, ALL_HOSTS);
            await checkStateSecrets(dev, await secretsOnHosts(s));
        }
        for (const withKey of [false, true]) {
            await checkConfigValidation(dev, "dev", /\d+ unchanged/, withKey);
        }
        await dev.shell("pulumi stack init multihost --non-interactive");
        for (const withKey of [false, true]) {
            await checkConfigValidation(dev, "multihost", /ssh\.privateKeyPath \S+ does not exist/, withKey);
        }
    } finally {
        await checkDestroy(dev, ALL_HOSTS, pre, "before up");
        await untagDefaultImages(1);
    }
}

async function main(): Promise<number> {
    const which = process.argv.slice(2);
    const scenarios = which.length ? which : ["dev", "local", "multi"];
    const t0 = Date.now();
    await check("toolchain", installPlugins);
    const baseline = await snapshotHosts(ALL_HOSTS);
    await check("baseline", async () => {
        const busy = baseline.filter((b) => b.containers.length > 0 || !b.swarm[0].startsWith("inactive") || b.volumes.length > 0);
        assert(busy.length === 0, `hosts not fresh: ${busy.map((b) => b.host).join(", ")}`);
        return baseline
            .map(
                (b) =>
                    `${b.host}: ${b.networks.length} networks, ${b.images.length} images, ${b.firewall.length} DOCKER-USER/raw PREROUTING rule(s), swarm ${b.swarm[0].split(" ")[0]}`,
            )
            .join("; ");
    });
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
