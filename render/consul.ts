import { createHash } from "crypto";
import { IptablesRule, boundedWait, insertRules, posixScript, shq } from "./shell";
import { removeKeptRules } from "./firewallKeeper";

/**
 * Consul agent configuration for the Consul the stack defaults to (1.20, also what the live rig runs),
 * without deprecated keys: Consul rejects unknown keys and logs a warning for each deprecated one.
 */

export interface ConsulAgentSettings {
    nodeName: string;
    /** A UUID; pinned so a re-created container keeps its identity in the catalog. */
    nodeId: string;
    /** Used both to bind and to advertise. */
    address: string;
    server: boolean;
    /** Only rendered for servers. */
    bootstrapExpect: number;
    retryJoin: string[];
    datacenter: string;
    /** Space-separated addresses (go-sockaddr templates allowed) for the HTTP and DNS APIs. */
    clientAddress: string;
    httpPort: number;
    dnsPort: number;
    /**
     * The one address the DNS interface binds: docker_gwbridge's gateway, the same on every node and
     * reachable from the host's containers and the host itself, but not from the LAN.
     */
    dnsAddress: string;
    /** Where names outside .consul go: the host's own nameservers. */
    recursors: string[];
    /** Base64 gossip encryption key. */
    encryptKey: string;
    acl: AgentAclTokens;
}

/** The ACL tokens an agent holds in its config: its own, the anonymous default, and on servers the management token. */
export interface AgentAclTokens {
    agent: string;
    /** Used for requests that carry no token, DNS above all: read-only. */
    default: string;
    /** Servers only: the bootstrap (initial management) token. */
    management?: string;
}

/** The platform's Consul tokens: each a UUID pair (accessor, secret) derived from one generated seed. */
export const CONSUL_TOKEN_ROLES = ["management", "agent", "dns", "registrator", "consul-template"] as const;
export type ConsulTokenRole = (typeof CONSUL_TOKEN_ROLES)[number];

/** Formats 16 bytes of a SHA-256 as a UUID (version 4 and variant bits set), the form Consul requires for token IDs. */
function uuidOf(text: string): string {
    const b = createHash("sha256").update(text).digest().subarray(0, 16);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const h = b.toString("hex");
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/**
 * A role's token, derived from the stack's secret seed so that it is the same on every run and every
 * host without being stored anywhere but (encrypted) in the state. The accessor ID names the token in
 * Consul's ACL list; the secret ID is what clients present.
 */
export const consulTokenOf = (seed: string, role: ConsulTokenRole): { accessor: string; secret: string } => ({
    accessor: uuidOf(`accessor:${role}:${seed}`),
    secret: uuidOf(`secret:${role}:${seed}`),
});

/** Least privilege per role, in Consul's rule language. The management token needs none (it is global-management). */
export const CONSUL_POLICIES: Record<Exclude<ConsulTokenRole, "management">, string> = {
    // Registers its node and keeps its health in sync; reads services for anti-entropy.
    agent: 'node_prefix "" { policy = "write" }\nservice_prefix "" { policy = "read" }\n',
    // What DNS and any token-less reader see: the catalog, read-only.
    dns: 'node_prefix "" { policy = "read" }\nservice_prefix "" { policy = "read" }\nquery_prefix "" { policy = "read" }\n',
    // Registers and deregisters the node's containers as services on its local agent.
    registrator: 'service_prefix "" { policy = "write" }\nnode_prefix "" { policy = "read" }\nagent_prefix "" { policy = "read" }\n',
    // Reads the healthy instances it renders into nginx's upstreams.
    "consul-template": 'service_prefix "" { policy = "read" }\nnode_prefix "" { policy = "read" }\n',
};

/** Runs the ACL setup script (on stdin) inside the host's Consul server container. */
export const renderConsulAclApply = (): string => posixScript("exec docker exec -i consul sh -s");

/**
 * Creates (or brings up to date) the platform's ACL policies and tokens, idempotently, from inside a
 * server's container with the management token. Fed to `sh -s` on stdin, so no token is on a command
 * line; it waits (bounded) for a leader that answers ACL requests.
 */
export function renderConsulAclSetup(seed: string, httpAddress: string): string {
    const lines = [
        `export CONSUL_HTTP_ADDR=${shq(httpAddress)} CONSUL_HTTP_TOKEN=${shq(consulTokenOf(seed, "management").secret)}`,
        ...boundedWait(
            "consul acl policy list >/dev/null 2>&1",
            120,
            '{ echo "consul acl: no leader answering ACL requests after 120 s" >&2; exit 1; }',
        ),
    ];
    for (const [role, rules] of Object.entries(CONSUL_POLICIES)) {
        const policy = `swarm-platform-${role}`;
        const token = consulTokenOf(seed, role as ConsulTokenRole);
        lines.push(
            `consul acl policy update -name ${policy} -rules ${shq(rules)} >/dev/null 2>&1 || consul acl policy create -name ${policy} -rules ${shq(rules)} >/dev/null`,
            `consul acl token read -accessor-id ${token.accessor} >/dev/null 2>&1 || consul acl token create -accessor ${token.accessor} -secret ${token.secret} -policy-name ${policy} -description ${shq(`swarm-platform ${role}`)} >/dev/null`,
        );
    }
    lines.push(`echo "consul acl: ${Object.keys(CONSUL_POLICIES).length} policies and tokens in place"`);
    return posixScript(...lines);
}

// A replaced agent is back within seconds; this bounds a rollout that can never finish (an agent that
// cannot rejoin) so `up` stops there, before the next host's agent is touched.
const AGENT_REJOIN_SECONDS = 180;
const LEADER_HANDOFF_SECONDS = 30;

/** Puts the management token from stdin into the environment of the `docker exec`s that name it. */
const TOKEN_FROM_STDIN = [
    // A last line without a newline still counts: read sets the variable and returns non-zero.
    'IFS= read -r CONSUL_HTTP_TOKEN || [ -n "$CONSUL_HTTP_TOKEN" ]',
    "export CONSUL_HTTP_TOKEN",
];

/**
 * The awk program that passes `consul operator autopilot state` when every server is healthy (in
 * contact with the leader, on its term, its log caught up) and node `n` votes. A server back from a
 * restart can answer reads through the leader before its own Raft log has caught up; stopping the
 * next server then can leave too few up-to-date voters to elect a leader.
 */
const AUTOPILOT_READY = [
    `/^Healthy:/ { all = $2 }`,
    `$1 == "Name:" { me = ($2 == n) }`,
    `me && $1 == "Status:" { status = $2 }`,
    `me && $1 == "Healthy:" { healthy = $2 }`,
    `END { exit !(all == "true" && healthy == "true" && (status == "voter" || status == "leader")) }`,
].join(" ");

/**
 * Waits until the host's Consul agent is a working member: a catalog read through it reaches a leader
 * and lists its node, and for a server, autopilot reports every server healthy with this one voting
 * (the management token comes on stdin). The next host's agent is replaced only after this, so a
 * rolling change keeps a quorum of up-to-date voters.
 */
export function renderConsulAgentReady(nodeName: string, httpAddress: string, server: boolean): string {
    // A client's read needs no token: the agent's default token reads nodes.
    const consul = `docker exec${server ? " -e CONSUL_HTTP_TOKEN" : ""} -e CONSUL_HTTP_ADDR=${shq(httpAddress)} consul consul`;
    const listed = `${consul} catalog nodes 2>/dev/null | awk 'NR > 1 { print $1 }' | grep -qxF ${shq(nodeName)}`;
    const voting = `${consul} operator autopilot state 2>/dev/null | awk -v n=${shq(nodeName)} ${shq(AUTOPILOT_READY)}`;
    return posixScript(
        ...(server ? TOKEN_FROM_STDIN : []),
        ...boundedWait(
            server ? `${listed} && ${voting}` : listed,
            AGENT_REJOIN_SECONDS,
            `{ echo "consul agent ${nodeName}: ${server ? "not a healthy voter among healthy servers" : "no leader answered through it"} within ${AGENT_REJOIN_SECONDS} s; the next agents are left as they are" >&2; exit 1; }`,
        ),
        `echo "consul agent ${nodeName}: in the cluster"`,
    );
}

/**
 * Runs before a server's agent is stopped: when it leads, it hands leadership to an up-to-date peer
 * (Raft's leadership transfer) and waits until that peer leads, so the cluster is never without a
 * leader for an election timeout. The management token comes on stdin; the agent is named by its
 * container id, so an agent already gone (and maybe recreated) is left alone. Never fails: a server
 * that cannot hand over is still stopped, and the others elect a leader as they would after a crash.
 * The leader is read from this server's own view (`-stale`): without a quorum (the last servers of a
 * destroy) a forwarded read is held for seconds before failing, which stretched the one-second
 * waits to minutes (docs/performance.md).
 */
export function renderConsulLeaderHandoff(nodeName: string, httpAddress: string, containerId: string): string {
    return posixScript(
        ...TOKEN_FROM_STDIN,
        `leader() { docker exec -e CONSUL_HTTP_TOKEN -e CONSUL_HTTP_ADDR=${shq(httpAddress)} ${shq(containerId)} consul operator raft list-peers -stale 2>/dev/null | awk '$4 == "leader" { print $1 }'; }`,
        `[ "$(leader)" = ${shq(nodeName)} ] || { echo "consul agent ${nodeName}: not the leader, nothing to hand over"; exit 0; }`,
        `docker exec -e CONSUL_HTTP_TOKEN -e CONSUL_HTTP_ADDR=${shq(httpAddress)} ${shq(containerId)} consul operator raft transfer-leader >/dev/null || { echo "consul agent ${nodeName}: leadership transfer refused; the others elect a leader once it stops" >&2; exit 0; }`,
        ...boundedWait(
            `now=$(leader); [ -n "$now" ] && [ "$now" != ${shq(nodeName)} ]`,
            LEADER_HANDOFF_SECONDS,
            `{ echo "consul agent ${nodeName}: no other leader after ${LEADER_HANDOFF_SECONDS} s" >&2; exit 0; }`,
        ),
        `echo "consul agent ${nodeName}: leadership handed to $now"`,
    );
}

/** On another server: says which server it will prune once that server's agent is gone. */
export const renderConsulServerTracked = (nodeName: string): string => posixScript(`echo ${shq(`consul: server ${nodeName} tracked`)}`);

/**
 * On another server, after a removed server's agent stopped (servers keep their Raft membership when
 * they stop, so a restart rejoins): waits until Consul no longer sees it alive, then removes it from
 * the member list and from Raft (`force-leave -prune`), so the remaining servers' quorum counts only
 * them. The management token comes on stdin. Never fails: a host with no agent left says so.
 */
export function renderConsulServerPrune(nodeName: string, httpAddress: string): string {
    const consul = `docker exec -e CONSUL_HTTP_TOKEN -e CONSUL_HTTP_ADDR=${shq(httpAddress)} consul consul`;
    return posixScript(
        ...TOKEN_FROM_STDIN,
        `${consul} members >/dev/null 2>&1 || { echo ${shq(`consul: no agent answers on this host; server ${nodeName} not pruned here`)}; exit 0; }`,
        ...boundedWait(
            `! ${consul} members 2>/dev/null | awk -v n=${shq(nodeName)} '$1 == n && $3 == "alive"' | grep -q .`,
            LEADER_HANDOFF_SECONDS,
            `{ echo ${shq(`consul: server ${nodeName} still alive after ${LEADER_HANDOFF_SECONDS} s; not pruned`)} >&2; exit 0; }`,
        ),
        `${consul} force-leave -prune ${shq(nodeName)} >/dev/null 2>&1 || true`,
        `echo ${shq(`consul: server ${nodeName} pruned`)}`,
    );
}

/**
 * Turns autopilot's dead-server cleanup off, in Raft: an agent file's `autopilot` block counts only when
 * a cluster is first bootstrapped. With cleanup on, the leader force-leaves a server that stops
 * answering for a few seconds (a link down, a host rebooting), which deregisters its node and every
 * service on it; once the server is back, its services stay out of the catalog, and so out of the
 * edge, until its agent's next full sync, more than a minute later. The servers the program removes it
 * prunes itself (renderConsulServerPrune). The management token comes on stdin; waits (bounded) for a
 * leader.
 */
export function renderConsulAutopilotSettings(httpAddress: string): string {
    const consul = `docker exec -e CONSUL_HTTP_TOKEN -e CONSUL_HTTP_ADDR=${shq(httpAddress)} consul consul`;
    return posixScript(
        ...TOKEN_FROM_STDIN,
        ...boundedWait(
            `${consul} operator autopilot get-config >/dev/null 2>&1`,
            120,
            '{ echo "consul autopilot: no leader answering after 120 s" >&2; exit 1; }',
        ),
        `${consul} operator autopilot set-config -cleanup-dead-servers=false >/dev/null`,
        `${consul} operator autopilot get-config | grep -q 'CleanupDeadServers *= *false' || { echo "consul autopilot: dead-server cleanup still on" >&2; exit 1; }`,
        'echo "consul autopilot: dead-server cleanup off"',
    );
}

export const CONSUL_CONFIG_DIR = "/consul/config";
export const CONSUL_DATA_DIR = "/consul/data";

/** The official image's `consul` user and group, numeric so any image can run the agent as them. */
export const CONSUL_USER = "100:1000";

/** The nat rules that send DNS for `address:port` (from containers, and from the host itself) to Consul's `listenPort`. */
export function dnsRedirectRules(address: string, port: number, listenPort: number): IptablesRule[] {
    return ["PREROUTING", "OUTPUT"].flatMap((chain) =>
        ["udp", "tcp"].map((proto) => ({
            table: "nat" as const,
            chain,
            spec: `-d ${address}/32 -p ${proto} --dport ${port} -m comment --comment swarm-platform-consul-dns -j DNAT --to-destination ${address}:${listenPort}`,
        })),
    );
}

export function renderDnsRedirectApply(address: string, port: number, listenPort: number): string {
    return posixScript(
        ...insertRules(dnsRedirectRules(address, port, listenPort)),
        `echo "consul dns: ${address}:${port} -> ${listenPort}"`,
    );
}

export function renderDnsRedirectRemove(address: string, port: number, listenPort: number): string {
    return posixScript(...removeKeptRules(dnsRedirectRules(address, port, listenPort)));
}

/**
 * Hands the data volume to the agent's user, from a throwaway root container of the agent's own image:
 * a new volume is root's, and one an older (root) agent wrote holds root's files.
 */
export function renderConsulDataOwner(volume: string, image: string): string {
    return posixScript(
        `docker run --rm --network none --user 0:0 --entrypoint chown -v ${shq(`${volume}:${CONSUL_DATA_DIR}`)} ${shq(image)} -R ${CONSUL_USER} ${CONSUL_DATA_DIR}`,
        `echo "consul data: ${volume} owned by ${CONSUL_USER}"`,
    );
}

export function renderConsulAgentConfig(s: ConsulAgentSettings): string {
    if (s.server && !(Number.isInteger(s.bootstrapExpect) && s.bootstrapExpect >= 1)) {
        throw new Error(`consul server ${s.nodeName}: bootstrapExpect must be a positive integer, got ${s.bootstrapExpect}`);
    }
    const config = {
        data_dir: CONSUL_DATA_DIR,
        node_name: s.nodeName,
        node_id: s.nodeId,
        datacenter: s.datacenter,
        bind_addr: s.address,
        advertise_addr: s.address,
        client_addr: s.clientAddress,
        server: s.server,
        // Raft's timing at the speed HashiCorp recommends for production servers (the default, 5,
        // suits development machines): followers miss a leader after 1-2 s instead of 5-10, and only
        // then elect another. Until one is elected writes wait and the DNS answers nothing (see below).
        ...(s.server ? { bootstrap_expect: s.bootstrapExpect, performance: { raft_multiplier: 1 } } : {}),
        retry_join: s.retryJoin,
        ui_config: { enabled: true },
        addresses: { dns: s.dnsAddress },
        ports: { http: s.httpPort, dns: s.dnsPort },
        recursors: s.recursors,
        // Answers only what passes its checks; Consul's default also returns "warning". Over UDP Consul
        // answers with at most three instances, picked at random each time, and by default does not
        // say so: the edge, which balances over the instances in its answer, would then use three of
        // them and find a new one only when chance put it in. The truncation flag makes it ask again
        // over TCP, which carries them all. Answers come from the leader: a follower learns of a new
        // registration a moment after the leader has it, and the edge, asking once a second,
        // then passes over a new instance for a whole second. While no leader is elected the questions
        // fail, and the edge keeps the instances it has until one answers.
        dns_config: { only_passing: true, enable_truncate: true, allow_stale: false },
        encrypt: s.encryptKey,
        // A server that leaves on stop shrinks the Raft peer set, so restarting one costs quorum
        // headroom; a client leaving on stop deregisters its node cleanly instead of lingering as failed.
        leave_on_terminate: !s.server,
        skip_leave_on_interrupt: s.server,
        acl: {
            enabled: true,
            default_policy: "deny",
            // While the leader is unreachable, agents keep using the policies they last resolved.
            down_policy: "extend-cache",
            enable_token_persistence: false,
            tokens: {
                agent: s.acl.agent,
                default: s.acl.default,
                ...(s.server && s.acl.management ? { initial_management: s.acl.management } : {}),
            },
        },
        disable_update_check: true,
        log_level: "INFO",
    };
    return `${JSON.stringify(config, null, 2)}\n`;
}

/** The container command that follows the /bin/consul entrypoint. */
export function consulAgentArgs(): string[] {
    return ["agent", `-config-dir=${CONSUL_CONFIG_DIR}`];
}

/** Consul's gossip encryption key from 32 secret characters: their 32 bytes, base64-encoded (AES-256). */
export const gossipKeyOf = (secret32: string): string => Buffer.from(secret32, "utf8").toString("base64");

/** The host's nameservers, one per line, as /etc/resolv.conf lists them. */
export const renderNameservers = (): string => posixScript(`awk '$1 == "nameserver" { print $2 }' /etc/resolv.conf`);

/** The address lines of renderNameservers' output (IPv4 or IPv6); anything else is dropped. */
export const parseNameservers = (stdout: string): string[] =>
    stdout
        .split("\n")
        .map((l) => l.trim())
        .filter((l) => /^[0-9a-fA-F.:]+$/.test(l));
