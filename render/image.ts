import { MANAGED_LABEL, posixScript, shq } from "./shell";

/**
 * Builds an image on the host itself from a Dockerfile read on standard input (the build has no
 * context), unless the tag is already there, and prints the image id. Building where the image runs
 * needs nothing on the machine running Pulumi and no registry; the tag follows the recipe, so an
 * existing tag is the same image.
 */
export function renderImageBuild(tag: string, buildArgs: Record<string, string>): string {
    const args = Object.entries(buildArgs)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([k, v]) => ` --build-arg ${shq(`${k}=${v}`)}`)
        .join("");
    return posixScript(
        `if ! docker image inspect ${shq(tag)} >/dev/null 2>&1; then`,
        // Without the buildx plugin the CLI can only use the classic builder; the Dockerfile needs no more.
        `  docker buildx version >/dev/null 2>&1 || export DOCKER_BUILDKIT=0`,
        `  docker build --label ${MANAGED_LABEL}=true -t ${shq(tag)}${args} - >&2`,
        `fi`,
        `docker image inspect --format '{{.Id}}' ${shq(tag)}`,
    );
}

/** Removes the stack's image tag if it is still there. */
export const renderImageRemove = (tag: string): string =>
    posixScript(`if docker image inspect ${shq(tag)} >/dev/null 2>&1; then docker image rm ${shq(tag)} >/dev/null; fi`);
