/** What the demo backends carry so registrator registers them with a health check. */
import { BackendSpec } from "../lib/model";

/**
 * The registrator metadata that names the service and gives it an HTTP health check in Consul.
 *
 * The check starts as passing: Consul runs a new check's first probe at a random point of its
 * interval (to spread many checks), which alone would keep a new instance out for up to a second.
 * whoami serves from its first moment, registrator registers it only once it has started, and while
 * an instance that is not ready after all waits for its first probe, the edge retries its refused
 * connections on the next instance. A service that needs a warm-up would start as critical instead.
 */
export function backendEnvs(spec: BackendSpec): string[] {
    return [
        `SERVICE_NAME=${spec.service}`,
        `SERVICE_CHECK_HTTP=${spec.healthPath}`,
        "SERVICE_CHECK_INTERVAL=1s",
        "SERVICE_CHECK_TIMEOUT=1s",
        "SERVICE_CHECK_INITIAL_STATUS=passing",
    ];
}
