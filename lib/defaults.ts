import * as fs from "fs";
import * as yaml from "js-yaml";
import { PROJECT_FILE } from "./project";

interface ProjectConfigEntry {
    default?: unknown;
}

/**
 * The project's config defaults, read from Pulumi.yaml: the engine applies them on `pulumi up`, and
 * runs without the engine (mocks, the live rig) apply the same ones here, so they live in one place.
 */
export function projectConfigDefaults(projectFile = PROJECT_FILE): Record<string, unknown> {
    const project = yaml.load(fs.readFileSync(projectFile, "utf8")) as { config?: Record<string, ProjectConfigEntry> };
    const defaults: Record<string, unknown> = {};
    for (const [key, entry] of Object.entries(project.config ?? {})) {
        if (entry.default !== undefined) defaults[key] = entry.default;
    }
    return defaults;
}
