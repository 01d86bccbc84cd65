import { spawnSync } from "child_process";
import { NGINX, NGINX_MIN_VERSION } from "./nginx";

/**
 * The render tests hand configs to the real `nginx -t`, `keepalived --config-test` and `haproxy -c`. Without those
 * programs every such test would fail with a spawn error; one line per problem says what to run instead.
 */
export default function checkPrerequisites(): void {
    const problems = [missingPackages(), nginxProblem()].filter((p): p is string => p !== undefined);
    if (problems.length > 0) throw new Error(problems.join("\n"));
}

function missingPackages(): string | undefined {
    const missing = ["keepalived", "haproxy"].filter((program) => spawnSync(program, ["-v"], { stdio: "ignore" }).error !== undefined);
    if (missing.length === 0) return undefined;
    return `npm test needs ${missing.join(" and ")} on PATH (config checkers only): apt-get install --no-install-recommends keepalived haproxy`;
}

function nginxProblem(): string | undefined {
    const run = spawnSync(NGINX, ["-v"], { encoding: "utf8" });
    const version = /nginx\/(\d+)\.(\d+)\.(\d+)/
        .exec(run.stderr ?? "")
        ?.slice(1)
        .map(Number);
    if (run.error === undefined && version !== undefined && !olderThan(version, NGINX_MIN_VERSION)) return undefined;
    const found = run.error !== undefined ? `no ${NGINX}` : `${NGINX} is ${version?.join(".") ?? "of no known version"}`;
    return `npm test needs nginx >= ${NGINX_MIN_VERSION.join(".")} (${found}): as root, export NGINX_BIN=$(bash rig/nginx.sh)`;
}

function olderThan(version: readonly number[], minimum: readonly number[]): boolean {
    const differing = version.findIndex((part, i) => part !== minimum[i]);
    return differing !== -1 && version[differing] < minimum[differing];
}
