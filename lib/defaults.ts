import { readProjectFile } from "./project";

/**
 * The project's config defaults, read from Pulumi.yaml: the engine applies them on `pulumi up`, and
 * runs without the engine (mocks, the live rig) apply the same ones here, so they live in one place.
 */
export function projectConfigDefaults(): Record<string, unknown> {
    const defaults: Record<string, unknown> = {};
    for (const [key, entry] of Object.entries(readProjectFile().config ?? {})) {
        if (entry.default !== undefined) defaults[key] = entry.default;
    }
    return defaults;
}
