import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as yaml from "js-yaml";
import { projectConfigDefaults } from "../lib/defaults";
import { PlatformModel } from "../lib/model";
import { RawConfig, validateConfig } from "../lib/validate";

const ROOT = path.join(__dirname, "..");
const NAMESPACE = "swarm-platform:";

/** A stack file's config as the engine would hand it to the program: project defaults, then the stack's values. */
export function stackRawConfig(stack: string): RawConfig {
    const file = yaml.load(fs.readFileSync(path.join(ROOT, `Pulumi.${stack}.yaml`), "utf8")) as { config: Record<string, unknown> };
    const raw: RawConfig = projectConfigDefaults();
    for (const [key, value] of Object.entries(file.config)) raw[key.replace(NAMESPACE, "")] = value;
    return raw;
}

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
