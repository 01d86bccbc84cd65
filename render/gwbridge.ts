import { GwBridgeSpec, HostSpec, hasRole } from "../lib/model";
import { SWARM_PORT, selfDemotion } from "./swarm";
import { MANAGED_LABEL, boundedWait, posixScript, shq } from "./shell";

export const GWBRIDGE = "docker_gwbridge";

const createGwBridge = (spec: GwBridgeSpec): string =>
    [
        `docker network create --driver bridge --subnet ${shq(spec.subnet)} --gateway ${shq(spec.gateway)}`,
        "-o com.docker.network.bridge.enable_icc=false",
        "-o com.docker.network.bridge.enable_ip_masquerade=true",
        `-o com.docker.network.bridge.name=${GWBRIDGE}`,
        `--label ${MANAGED_LABEL}=true ${GWBRIDGE} >/dev/null`,
    ].join(" ");

const currentBridge = `current=$(docker network inspect ${GWBRIDGE} --format '{{range .IPAM.Config}}{{.Subnet}} {{.Gateway}}{{end}}' 2>/dev/null || true)`;
const wanted = (spec: GwBridgeSpec): string => `${spec.subnet} ${spec.gateway}`;

/** Removes docker_gwbridge once the node is out of any swarm; the ingress sandbox and stopped containers can hold endpoints for a moment after leaving. */
const removeBridge = (hostName: string): string[] => [
    `tries=0`,
    `until docker network rm ${GWBRIDGE} >/dev/null 2>&1; do`,
    `  tries=$((tries + 1))`,
    `  if [ "$tries" -ge 30 ]; then echo "${GWBRIDGE} on ${hostName} still has active endpoints after leaving the swarm; stop the containers attached to it and run again" >&2; exit 1; fi`,
    `  for endpoint in $(docker network inspect ${GWBRIDGE} --format '{{range $id, $c := .Containers}}{{$c.Name}} {{end}}' 2>/dev/null); do docker network disconnect -f ${GWBRIDGE} "$endpoint" >/dev/null 2>&1 || true; done`,
    `  sleep 1`,
    `done`,
];

/**
 * Makes docker_gwbridge carry the configured subnet before the node joins a swarm (seed 001). A bridge
 * that already has it is left alone; one with another subnet is rebuilt only with the opt-in. On a node
 * already in a swarm the bridge "has active endpoints" until the node leaves: renderGwBridgeRebuild
 * does that after the join, one node at a time.
 */
export function renderGwBridgeCreate(spec: GwBridgeSpec, hostName: string): string {
    const want = wanted(spec);
    return posixScript(
        currentBridge,
        `if [ "$current" = ${shq(want)} ]; then echo "${GWBRIDGE}: already ${want}"; exit 0; fi`,
        `if [ -n "$current" ]; then`,
        spec.allowRebuild
            ? [
                  `  if [ "$(docker info --format '{{.Swarm.LocalNodeState}}')" != inactive ]; then echo "${GWBRIDGE}: has $current; ${hostName} is in a swarm, so it is rebuilt after its join, one node at a time"; exit 0; fi`,
                  `  echo "${GWBRIDGE}: has $current, rebuilding with ${want}"`,
                  ...removeBridge(hostName).map((l) => `  ${l}`),
              ].join("\n")
            : `  echo "${GWBRIDGE} on ${hostName} has subnet/gateway $current, but the stack wants ${want}. Rebuilding it means leaving the swarm: set gwbridgeAllowRebuild=true to allow that, or set gwbridgeSubnet/gwbridgeGateway to match." >&2; exit 1`,
        `fi`,
        createGwBridge(spec),
        `echo "${GWBRIDGE}: created ${want}"`,
    );
}

// A node that joined is active within seconds; past this `up` stops here, before the next node leaves.
const REJOIN_SECONDS = 120;

const fail = (message: string): string => `{ echo ${shq(message)} >&2; exit 1; }`;

/**
 * On a swarm member, after its join: when docker_gwbridge lacks the configured subnet, the node leaves
 * the swarm (a manager demotes itself first, so the others keep their quorum), the bridge is rebuilt,
 * and the node joins again through `managerAddress` with its role's token from stdin, then waits until
 * it is active again. A bridge that has the subnet is left alone, so on a first deployment this
 * changes nothing. The entry the node leaves behind is removed by a manager (renderDownNodesRemove).
 */
export function renderGwBridgeRebuild(spec: GwBridgeSpec, host: HostSpec, managerAddress: string): string {
    const want = wanted(spec);
    const dataPath = host.dataPathAddress ? ` --data-path-addr ${shq(host.dataPathAddress)}` : "";
    return posixScript(
        `IFS= read -r token || [ -n "$token" ]`,
        currentBridge,
        `if [ "$current" = ${shq(want)} ]; then echo "${GWBRIDGE}: already ${want}"; exit 0; fi`,
        `echo "${GWBRIDGE} on ${host.name}: has $current; leaving the swarm to rebuild it with ${want}"`,
        `if [ "$(docker info --format '{{.Swarm.ControlAvailable}}')" = true ]; then`,
        ...selfDemotion(
            REJOIN_SECONDS,
            fail(`${host.name} still a manager ${REJOIN_SECONDS} s after its demotion; the other nodes are left as they are`),
        ).map((l) => `  ${l}`),
        `fi`,
        `docker swarm leave --force >/dev/null`,
        ...removeBridge(host.name),
        createGwBridge(spec),
        `docker swarm join --token "$token" --advertise-addr ${shq(host.address)}${dataPath} ${shq(`${managerAddress}:${SWARM_PORT}`)} >/dev/null`,
        // A manager counts as back once it is a reachable Raft member, so the next one's demotion keeps a quorum.
        ...boundedWait(
            hasRole(host, "manager")
                ? `[ "$(docker node inspect self --format '{{.ManagerStatus.Reachability}}' 2>/dev/null)" = reachable ]`
                : `[ "$(docker info --format '{{.Swarm.LocalNodeState}}')" = active ]`,
            REJOIN_SECONDS,
            fail(`${host.name} not back in the swarm within ${REJOIN_SECONDS} s; the other nodes are left as they are`),
        ),
        `echo "${GWBRIDGE} on ${host.name}: rebuilt with ${want}, back in the swarm"`,
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
