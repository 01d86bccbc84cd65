import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as yaml from "js-yaml";
import { projectConfigDefaults } from "../lib/defaults";
import { PlatformModel } from "../lib/model";
import { PROJECT_DIR } from "../lib/project";
import { RawConfig, validateConfig } from "../lib/validate";

const NAMESPACE = "swarm-platform:";

/** The config of the stack file at `file` as the engine would hand it to the program: project defaults, then the file's values. */
export function stackFileRawConfig(file: string): RawConfig {
    const doc = yaml.load(fs.readFileSync(file, "utf8")) as { config: Record<string, unknown> };
    const raw: RawConfig = projectConfigDefaults();
    for (const [key, value] of Object.entries(doc.config)) raw[key.replace(NAMESPACE, "")] = value;
    return raw;
}

/** The config of the repository's own stack file Pulumi.<stack>.yaml, as the engine would hand it to the program. */
export const stackRawConfig = (stack: string): RawConfig => stackFileRawConfig(path.join(PROJECT_DIR, `Pulumi.${stack}.yaml`));

/** A throwaway key file, so stacks that name ~/.ssh keys can run under mocks on any machine. */
export function scratchKeyFile(): string {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "swarm-platform-test-")), "id_test");
    fs.writeFileSync(file, "-----BEGIN OPENSSH PRIVATE KEY-----\ntest\n-----END OPENSSH PRIVATE KEY-----\n", { mode: 0o600 });
    return file;
}

export function stackModel(stack: string): PlatformModel {
    const result = validateConfig(stackRawConfig(stack), stack);
    if (!result.model) throw new Error(result.errors.map((e) => `${e.key}: ${e.message}`).join("\n"));
    const keyFile = scratchKeyFile();
    for (const host of result.model.hosts) {
        if (host.connection.kind === "ssh" && host.connection.privateKeyPath) host.connection.privateKeyPath = keyFile;
    }
    return result.model;
}

/** The multihost stack grown to `n` hosts: three managers and Consul servers (two of them edges), the rest workers and Consul clients. */
export function modelWithHosts(n: number): PlatformModel {
    const raw = stackRawConfig("multihost");
    const keyFile = scratchKeyFile();
    raw.hosts = Array.from({ length: n }, (_, i) => ({
        name: `node${String(i + 1).padStart(3, "0")}`,
        address: `10.60.${Math.floor((i + 1) / 250)}.${((i + 1) % 250) + 1}`,
        ssh: { privateKeyPath: keyFile },
        roles: i < 3 ? ["manager", "consul-server", ...(i < 2 ? ["edge"] : [])] : ["worker", "consul-client"],
    }));
    raw.edgeVip = "10.60.9.100";
    const result = validateConfig(raw, "multihost");
    if (!result.model) throw new Error(result.errors.map((e) => e.message).join("; "));
    return result.model;
}
