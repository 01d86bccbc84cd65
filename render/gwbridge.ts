import { GwBridgeSpec } from "../lib/model";
import { MANAGED_LABEL, posixScript, shq } from "./shell";

export const GWBRIDGE = "docker_gwbridge";

const createGwBridge = (spec: GwBridgeSpec): string =>
    [
        `docker network create --driver bridge --subnet ${shq(spec.subnet)} --gateway ${shq(spec.gateway)}`,
        "-o com.docker.network.bridge.enable_icc=false",
        "-o com.docker.network.bridge.enable_ip_masquerade=true",
        `-o com.docker.network.bridge.name=${GWBRIDGE}`,
        `--label ${MANAGED_LABEL}=true ${GWBRIDGE} >/dev/null`,
    ].join(" ");

/**
 * Makes docker_gwbridge carry the configured subnet before the node joins a swarm (seed 001). A bridge
 * that already has it is left alone; one with another subnet is rebuilt only with the opt-in, by leaving
 * the swarm first because a swarm member's gwbridge "has active endpoints".
 */
export function renderGwBridgeCreate(spec: GwBridgeSpec, hostName: string): string {
    const want = `${spec.subnet} ${spec.gateway}`;
    return posixScript(
        `current=$(docker network inspect ${GWBRIDGE} --format '{{range .IPAM.Config}}{{.Subnet}} {{.Gateway}}{{end}}' 2>/dev/null || true)`,
        `if [ "$current" = ${shq(want)} ]; then echo "${GWBRIDGE}: already ${want}"; exit 0; fi`,
        `if [ -n "$current" ]; then`,
        spec.allowRebuild
            ? [
                  `  echo "${GWBRIDGE}: has $current, rebuilding with ${want}"`,
                  `  state=$(docker info --format '{{.Swarm.LocalNodeState}}')`,
                  `  if [ "$state" != inactive ]; then docker swarm leave --force >/dev/null; fi`,
                  // The ingress sandbox and stopped containers can hold endpoints for a moment after leaving.
                  `  tries=0`,
                  `  until docker network rm ${GWBRIDGE} >/dev/null 2>&1; do`,
                  `    tries=$((tries + 1))`,
                  `    if [ "$tries" -ge 30 ]; then echo "${GWBRIDGE} on ${hostName} still has active endpoints after leaving the swarm; stop the containers attached to it and run again" >&2; exit 1; fi`,
                  `    for endpoint in $(docker network inspect ${GWBRIDGE} --format '{{range $id, $c := .Containers}}{{$c.Name}} {{end}}' 2>/dev/null); do docker network disconnect -f ${GWBRIDGE} "$endpoint" >/dev/null 2>&1 || true; done`,
                  `    sleep 1`,
                  `  done`,
              ].join("\n")
            : `  echo "${GWBRIDGE} on ${hostName} has subnet/gateway $current, but the stack wants ${want}. Rebuilding it means leaving the swarm: set gwbridgeAllowRebuild=true to allow that, or set gwbridgeSubnet/gwbridgeGateway to match." >&2; exit 1`,
        `fi`,
        createGwBridge(spec),
        `echo "${GWBRIDGE}: created ${want}"`,
    );
}

/** Removes docker_gwbridge only if this stack created it (it carries the managed label). */
export function renderGwBridgeDelete(): string {
    return posixScript(
        `managed=$(docker network inspect ${GWBRIDGE} --format '{{index .Labels "${MANAGED_LABEL}"}}' 2>/dev/null || true)`,
        `if [ "$managed" != true ]; then echo "${GWBRIDGE}: not created by this stack, kept"; exit 0; fi`,
        `docker network rm ${GWBRIDGE} >/dev/null`,
        `echo "${GWBRIDGE}: removed"`,
    );
}
