import { HostSpec, SwarmSpec } from "../lib/model";
import { MANAGED_LABEL, boundedWait, posixScript, shq } from "./shell";

/**
 * A volume on the engine marks membership the stack brought about; engine-local, so it survives
 * restarts and needs no state on the machine running Pulumi. Destroy leaves a swarm only when it exists.
 */
export const SWARM_MARKER_VOLUME = "swarm-platform-swarm-member";

export const SWARM_PORT = 2377;

const nodeState = `state=$(docker info --format '{{.Swarm.LocalNodeState}}')`;
const markMembership = `docker volume create --label ${MANAGED_LABEL}=true ${SWARM_MARKER_VOLUME} >/dev/null`;
// A change that failed outright leaves nothing to mark.
const orUnmark = `|| { docker volume rm ${SWARM_MARKER_VOLUME} >/dev/null; exit 1; }`;
const dataPathFlag = (host: HostSpec): string => (host.dataPathAddress ? ` --data-path-addr ${shq(host.dataPathAddress)}` : "");

/** `docker swarm init` on the first manager, unless the engine already manages a swarm. */
export function renderSwarmInit(host: HostSpec, swarm: SwarmSpec): string {
    return posixScript(
        nodeState,
        `if [ "$state" = active ]; then`,
        `  if [ "$(docker info --format '{{.Swarm.ControlAvailable}}')" != true ]; then echo "${host.name} is a worker of another swarm; it cannot be the first manager" >&2; exit 1; fi`,
        `  echo "swarm: ${host.name} already manages a swarm, kept as it is"; exit 0`,
        `fi`,
        // Marked before the change it marks: an `up` interrupted after init still leaves a swarm that
        // destroy knows as the stack's.
        markMembership,
        [
            `docker swarm init --advertise-addr ${shq(host.address)}${dataPathFlag(host)}`,
            `--default-addr-pool ${shq(swarm.defaultAddressPool)} --default-addr-pool-mask-length ${swarm.defaultAddressPoolMaskLength}`,
            `--data-path-port ${swarm.dataPathPort} >/dev/null ${orUnmark}`,
        ].join(" "),
        `echo "swarm: initialised on ${host.name}"`,
    );
}

/** Prints a join token; its output is a secret. */
export const renderJoinToken = (role: "manager" | "worker"): string => posixScript(`docker swarm join-token -q ${role}`);

/**
 * Joins a node with the token read from standard input, so the token never stands on a command line
 * in state or logs. A node already in this swarm is left alone; one in another swarm is an error.
 */
export function renderSwarmJoin(host: HostSpec, managerAddress: string): string {
    const manager = `${managerAddress}:${SWARM_PORT}`;
    return posixScript(
        `IFS= read -r token`,
        nodeState,
        `if [ "$state" = active ]; then`,
        `  case " $(docker info --format '{{range .Swarm.RemoteManagers}}{{.Addr}} {{end}}')" in`,
        `    *" ${manager} "*) echo "swarm: ${host.name} already joined"; exit 0 ;;`,
        `  esac`,
        `  echo "${host.name} is in another swarm; make it leave (docker swarm leave) or remove it from the stack" >&2; exit 1`,
        `fi`,
        markMembership,
        `docker swarm join --token "$token" --advertise-addr ${shq(host.address)}${dataPathFlag(host)} ${shq(manager)} >/dev/null ${orUnmark}`,
        `echo "swarm: ${host.name} joined ${manager}"`,
    );
}

const DEMOTION_SECONDS = 30;

/**
 * Script lines in which a manager demotes itself, then waits until it is a worker: demoting itself, a
 * manager often hears "context deadline exceeded" while it turns, and a leave in that moment fails the
 * same way. After `seconds` they run `onTimeout` (see boundedWait).
 */
export const selfDemotion = (seconds: number, onTimeout: string): string[] => [
    `docker node demote "$(docker info --format '{{.Swarm.NodeID}}')" >/dev/null 2>&1 || true`,
    ...boundedWait(`[ "$(docker info --format '{{.Swarm.ControlAvailable}}')" != true ]`, seconds, onTimeout),
];

/**
 * Leaves the swarm only where the stack joined or initialised it. A manager demotes itself first so the
 * remaining managers keep their quorum.
 */
export function renderSwarmLeave(): string {
    return posixScript(
        `if ! docker volume inspect ${SWARM_MARKER_VOLUME} >/dev/null 2>&1; then echo "swarm: membership not created by this stack, kept"; exit 0; fi`,
        nodeState,
        `if [ "$state" != inactive ]; then`,
        `  if [ "$(docker info --format '{{.Swarm.ControlAvailable}}')" = true ] && [ "$(docker info --format '{{.Swarm.Managers}}')" -gt 1 ]; then`,
        // Still a manager after the wait: the leave is tried anyway, --force takes it out.
        ...selfDemotion(DEMOTION_SECONDS, "break").map((l) => `    ${l}`),
        `  fi`,
        `  docker swarm leave --force >/dev/null`,
        `fi`,
        `docker volume rm ${SWARM_MARKER_VOLUME} >/dev/null`,
        `echo "swarm: left"`,
    );
}

// A node that left is marked down within a second or two; past this the entry is left for an operator.
const NODE_DOWN_SECONDS = 60;

/** On a manager: says which node joining the swarm it will remove once that node leaves. */
export const renderNodeTracked = (nodeName: string): string => posixScript(`echo ${shq(`swarm: node ${nodeName} tracked`)}`);

/**
 * On a manager: waits until at most `upEntries` entries of the node are up (0 once the node left for
 * good, its join's delete having run first; 1 once it left and joined again, as a docker_gwbridge
 * rebuild does), then removes its Down entries, so `docker node ls` keeps no Down node for it. Never
 * fails: when this manager cannot tell (it left too, or the node never went down) it says so and the
 * entries stay.
 */
export function renderNodeRemove(nodeName: string, upEntries: 0 | 1 = 0): string {
    const entries = (status: "down" | "up") =>
        `docker node ls --format '{{.ID}} {{.Hostname}} {{.Status}}' | awk -v n=${shq(nodeName)} '$2 == n && ($3 == "Down") == ${status === "down" ? 1 : 0} { print $1 }'`;
    return posixScript(
        `docker node ls >/dev/null 2>&1 || { echo ${shq(`swarm: this host manages no swarm any more; node ${nodeName} not removed here`)}; exit 0; }`,
        ...boundedWait(
            `[ "$(${entries("up")} | wc -l)" -le ${upEntries} ]`,
            NODE_DOWN_SECONDS,
            `{ echo ${shq(`swarm: node ${nodeName} still not down after ${NODE_DOWN_SECONDS} s; its entry stays (docker node rm once it is)`)} >&2; exit 0; }`,
        ),
        `for id in $(${entries("down")}); do docker node rm "$id" >/dev/null; done`,
        `echo ${shq(`swarm: node ${nodeName}: Down entries removed`)}`,
    );
}

/** Prints the engine's node name, which swarm and Consul use as the node's identity. */
export const renderEngineName = (): string => posixScript(`docker info --format '{{.Name}}'`);
