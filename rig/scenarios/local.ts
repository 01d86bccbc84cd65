/**
 * dev-local: the repository's own Pulumi.dev.yaml brought up by the README's first command inside
 * rig-h1 (its local engine, local commands, 127.0.0.1), and the CLI's config validation of the
 * repository's stack files.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { devLocalStack, insideHost, readmeUpCommand, tagDefaultImages, untagDefaultImages } from "../devlocal";
import { RIG_KEY, run, snapshotHosts, waitFor } from "../lib";
import { checkDestroy, checkNoChanges, checkPreview, checkStateSecrets, engineWarnings } from "../lifecycle";
import { CliStack } from "../pulumi";
import { assert, check, info, report, timing } from "../report";
import { DEV, Scenario } from "../scenario";
import { secretsOnHosts } from "../checks/hardening";
import { ALL_HOSTS } from "./hosts";

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
export async function scenarioLocal(): Promise<void> {
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
