import { spawnSync } from "child_process";

/**
 * The render tests hand configs to the real `nginx -t`, `keepalived --config-test` and `haproxy -c`. Without those
 * programs every such test would fail with a spawn error; one line says what to install instead.
 */
export default function checkPrerequisites(): void {
    const missing = ["nginx", "keepalived", "haproxy"].filter((program) => spawnSync(program, ["-v"], { stdio: "ignore" }).error !== undefined);
    if (missing.length > 0) {
        throw new Error(`npm test needs ${missing.join(" and ")} on PATH (config checkers only): apt-get install --no-install-recommends nginx-light keepalived haproxy`);
    }
}
