/**
 * The edge: nginx proxies to the healthy instances Consul knows of. consul-template renders the
 * upstreams from Consul and supervises nginx in exec mode, so the pair lives and dies together and the
 * container's restart policy restarts both.
 */
import { EdgeServiceSpec } from "../lib/model";
import { boundedWait, posixScript, shq } from "./shell";

export const EDGE_PATHS = {
    nginxConf: "/etc/nginx/nginx.conf",
    upstreamsTemplate: "/etc/consul-template/upstreams.ctmpl",
    upstreamsConf: "/etc/nginx/conf.d/upstreams.conf",
    consulTemplateConfig: "/etc/consul-template/config.hcl",
    /** While this file exists the health endpoint answers 503: keepalived gives the VIP away, traffic still flows. */
    drainFlag: "/run/swarm-platform-edge.draining",
} as const;

/** The edge container's name on every edge host. */
export const EDGE_CONTAINER = "edge";

// A replaced edge answers within seconds; this bounds a rollout that can never finish so `up` stops
// there, before the next edge host is touched.
const EDGE_READY_SECONDS = 120;
const VIP_DEPARTURE_SECONDS = 20;

export const EDGE_HEALTH_PATH = "/healthz";

const NGINX_PID_FILE = "/run/nginx.pid";

// Old workers finish in-flight requests for at most this long after a reload or a graceful stop.
const WORKER_SHUTDOWN_TIMEOUT = "5s";

// Access log lines are written in blocks of this size (and at least once a second) rather than one
// write to the container's log pipe per request, a cost docs/performance.md measured.
const ACCESS_LOG_BUFFER = "buffer=64k flush=1s";

// Requests per keep-alive connection, clients' and upstreams'. nginx's default of 1000 makes a busy
// client reconnect every 1000 requests and the edge reopen upstream connections as often.
const KEEPALIVE_REQUESTS = 10000;

// Idle upstream connections kept per worker: enough for every client connection a busy worker serves
// to find one, so load does not turn into a connect per request to the backends.
const UPSTREAM_IDLE_CONNECTIONS = 64;

// A listening socket per worker, so the kernel spreads new connections evenly over the workers. With
// one shared socket the worker woken last takes most of them, and requests queue behind its busy
// core while another worker idles (docs/performance.md has the latency it saved).
const LISTEN_OPTIONS = "reuseport";

// consul-template escalates to SIGKILL after this; it must outlast the worker bound above.
const NGINX_KILL_SECONDS = 8;

// How long a stopping edge waits for keepalived to hand its VIP over: one health check interval, the
// other edge's takeover, and a margin; past it nginx stops regardless (no other edge may be left).
const STOP_DRAIN_SECONDS = 3;

/** The edge container's stop timeout: the drain, then nginx's graceful stop, so `docker stop` never kills. */
export const EDGE_STOP_SECONDS = STOP_DRAIN_SECONDS + NGINX_KILL_SECONDS + 2;

/**
 * The main nginx configuration. It includes nothing but the rendered upstreams, so whatever the base
 * image ships in conf.d or sites-enabled stays inert. `upstreamsInclude` exists so a test can point the
 * include at a scratch directory.
 */
export function renderNginxConf(upstreamsInclude: string = EDGE_PATHS.upstreamsConf): string {
    return `worker_processes auto;
pid ${NGINX_PID_FILE};
error_log stderr notice;
worker_shutdown_timeout ${WORKER_SHUTDOWN_TIMEOUT};

events {
    worker_connections 1024;
}

http {
    default_type application/octet-stream;
    access_log /dev/stdout combined ${ACCESS_LOG_BUFFER};
    server_tokens off;
    keepalive_timeout 65s;
    keepalive_requests ${KEEPALIVE_REQUESTS};

    include ${upstreamsInclude};
}
`;
}

// The upstream always holds this `down` server: with no usable instance it keeps the block valid and
// makes nginx answer 502 instead of refusing the whole configuration; beside live servers it is never picked.
const NO_INSTANCE_SERVER = "server 127.0.0.1:65535 down;";

/*
 * nginx asks again when an answer's TTL has run out, at the earliest a second later (its timer counts
 * in whole seconds, and `resolver ... valid=` takes whole seconds too). Consul's DNS answers with TTL 0,
 * so once a second is how soon an instance that starts or stops passing gains or loses traffic; the
 * answers come from the host's own agent, for which a query per second and service is nothing.
 */
// Consul's DNS answers from the local agent; one that does not answer within this is restarting, and
// nginx keeps the addresses it has until the next try.
const RESOLVER_TIMEOUT = "2s";

/** Where nginx asks for a service's passing instances: the host's Consul agent's DNS interface. */
export interface ConsulDns {
    address: string;
    port: number;
}

/*
 * Instances reach nginx without a reload: the upstream's server is re-resolved from Consul's DNS (SRV
 * records: address and port of each passing instance; Consul is set to answer only passing ones), so
 * starting, stopping or scaling a service changes no file and closes no client connection. The
 * template itself changes only when a service gains its first passing instance or loses its last:
 * with none, the upstream holds only the down server and nginx answers 502 at once.
 */
/*
 * Passive marking covers what Consul has not noticed yet: a host cut off keeps its instances passing
 * until Consul declares its node failed, seconds later, and every try of one of them costs a request
 * the 500 ms connect timeout. Two failed connects keep an instance out for 10 s; with 2 s the edge
 * tried the cut-off host's instances again and again, and the VIP went unanswered several times
 * longer (docs/performance.md). An instance back under the same address within those 10 s stays out
 * until they pass; the others serve meanwhile.
 */
const PASSIVE_FAILURES = "max_fails=2 fail_timeout=10s";

function upstreamBlock(service: string): string {
    return `upstream ${service} {
    zone upstream_${service} 64k;
    ${NO_INSTANCE_SERVER}
{{- if service "${service}" }}
    server service.consul service=_${service}._tcp resolve ${PASSIVE_FAILURES};
{{- end }}
    keepalive ${UPSTREAM_IDLE_CONNECTIONS};
    keepalive_requests ${KEEPALIVE_REQUESTS};
}
`;
}

/*
 * A request goes on to the next server for as long as one is left and 10 s have not passed
 * (proxy_next_upstream_tries 0): when most instances go at once (scaling 9 to 3), nginx's last answer
 * from Consul still names the gone ones for up to a second, and a fixed number of tries can land on
 * gone ones only. nginx never tries one server twice per request, so the number of servers bounds the retries.
 * Connecting gets 500 ms: backends sit on the hosts' own network, where a connect answers in well under
 * a millisecond, and a host that is cut off should cost a request half a second on its way to the next
 * server, not the seconds its client may already have given up after.
 */
function locationBlock({ service, path }: EdgeServiceSpec): string {
    return `
    location ${path} {
        proxy_pass http://${service};
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header Host $host;
        proxy_set_header X-Real-IP $remote_addr;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto $scheme;
        proxy_set_header X-Forwarded-Host $host;
        proxy_connect_timeout 500ms;
        proxy_next_upstream error timeout http_502 http_503;
        proxy_next_upstream_tries 0;
        proxy_next_upstream_timeout 10s;
    }
`;
}

/** The consul-template template whose output is the upstreams file nginx includes. */
export function renderUpstreamsTemplate(services: EdgeServiceSpec[], port: number, dns: ConsulDns): string {
    return `resolver ${dns.address}:${dns.port} ipv6=off;
resolver_timeout ${RESOLVER_TIMEOUT};

${services.map((s) => upstreamBlock(s.service)).join("\n")}
server {
    listen ${port} ${LISTEN_OPTIONS};

    location = ${EDGE_HEALTH_PATH} {
        access_log off;
        default_type text/plain;
        if (-f ${EDGE_PATHS.drainFlag}) {
            return 503 "draining\\n";
        }
        return 200 "ok\\n";
    }
${services.map(locationBlock).join("")}}
`;
}

/*
 * Reload protocol. consul-template runs a template's command after every render that changed the
 * file, including the very first one, which happens before exec mode has started nginx. A command that
 * exits non-zero is fatal to consul-template (and so to nginx), so the command:
 *   - tests the whole configuration first; a rejected render is logged and left on disk while nginx keeps
 *     serving the configuration it already loaded (the next good render replaces the file and reloads);
 *   - signals only a live nginx master: with no pid file (first render) or a stale one left by a crashed
 *     run whose pid now belongs to another process, there is nothing to reload and exec mode starts
 *     nginx on the freshly rendered file;
 *   - reloads with SIGHUP, which nginx applies gracefully and never turns into a restart.
 * The exec block's own reload_signal is SIGNULL: consul-template would otherwise restart nginx on
 * every change (nil signal) or signal it before the test above ran.
 */
const TEST_THEN_RELOAD = [
    `nginx -t -q -c ${EDGE_PATHS.nginxConf} || { echo "edge: nginx rejected the rendered upstreams; still serving the previous configuration" >&2; exit 0; }`,
    `pid=$(cat ${NGINX_PID_FILE} 2>/dev/null) || exit 0`,
    `[ "$(cat /proc/$pid/comm 2>/dev/null)" = nginx ] || exit 0`,
    `exec kill -HUP "$pid"`,
].join("; ");

export function renderConsulTemplateConfig(consulAddress: string, token: string): string {
    const q = (value: string | string[]): string => JSON.stringify(value);
    return `consul {
  address = ${q(consulAddress)}
  token   = ${q(token)}

  # Unlimited retries: while the local agent restarts, nginx keeps serving the last rendered upstreams
  # instead of consul-template giving up and taking nginx down with it.
  retry {
    enabled     = true
    attempts    = 0
    backoff     = "250ms"
    max_backoff = "10s"
  }
}

log_level = "info"

# Docker stops containers with SIGTERM; handling it here makes consul-template stop nginx with the
# graceful kill_signal below rather than forwarding SIGTERM, which nginx treats as a fast shutdown.
kill_signal = "SIGTERM"

exec {
  command       = ${q(["nginx", "-c", EDGE_PATHS.nginxConf, "-g", "daemon off;"])}
  reload_signal = "SIGNULL"
  kill_signal   = "SIGQUIT"
  kill_timeout  = ${q(`${NGINX_KILL_SECONDS}s`)}
}

template {
  source      = ${q(EDGE_PATHS.upstreamsTemplate)}
  destination = ${q(EDGE_PATHS.upstreamsConf)}

  # No quiet period: the file changes only when a service gains its first passing instance or loses
  # its last, and each of those must reach nginx. Were "none" and "one again" coalesced into no
  # change, nginx would keep its answer from Consul's DNS that the service has no instance, which it
  # trusts for 10 s (a name that does not exist), and answer 502 all that time.

  exec {
    command = ${q(["/bin/sh", "-c", TEST_THEN_RELOAD])}
    timeout = "30s"
  }
}
`;
}

/** A shell test: does this host (or a container on its network) hold `ip` as a local address? */
const vipHere = (ip: string): string =>
    `awk -v ip=${shq(ip)} '$2 == ip { getline; if ($0 ~ /host LOCAL/) found = 1 } END { exit !found }' /proc/net/fib_trie`;

/**
 * The edge container's command: consul-template, and nginx under it, behind a shell that turns
 * Docker's stop (SIGTERM) into a drain. The health endpoint starts failing while nginx still serves,
 * so with a VIP keepalived hands it to the other edge (waited for, bounded) before nginx stops
 * gracefully: a `docker stop` or `restart`, or the host shutting down, costs the VIP no request. The
 * drain mark a stop or a rollout left is cleared at start, so a started edge takes the VIP back.
 * `drainFlag` exists so a test can point it at a scratch directory.
 */
export function renderEdgeCommand(vip: string | undefined, drainFlag: string = EDGE_PATHS.drainFlag): string[] {
    const script = [
        `rm -f ${drainFlag}`,
        "drain() {",
        `  touch ${drainFlag}`,
        ...(vip ? boundedWait(`! ${vipHere(vip)}`, STOP_DRAIN_SECONDS, "break").map((line) => `  ${line}`) : []),
        '  kill -TERM "$pid"',
        "}",
        `consul-template -config ${EDGE_PATHS.consulTemplateConfig} &`,
        "pid=$!",
        "trap drain TERM",
        // wait returns early when the trap runs; consul-template's own exit status is the container's.
        'while :; do wait "$pid"; status=$?; kill -0 "$pid" 2>/dev/null || break; done',
        'exit "$status"',
    ].join("\n");
    return ["/bin/sh", "-c", script];
}

const answersHealth = (port: number): string =>
    `docker exec ${EDGE_CONTAINER} curl -fsS --max-time 2 -o /dev/null http://127.0.0.1:${port}${EDGE_HEALTH_PATH}`;

/**
 * Waits until the host's edge answers its health check, then `settleSeconds` for keepalived to take
 * it back as a VIP holder; the next edge host is changed only after this, so one edge always serves.
 * It first clears the drain mark of the edge in place: when only keepalived was replaced, the drain
 * before it marked an edge that stays.
 */
export function renderEdgeReady(port: number, settleSeconds: number): string {
    return posixScript(
        ...boundedWait(
            `docker exec ${EDGE_CONTAINER} rm -f ${EDGE_PATHS.drainFlag} 2>/dev/null && ${answersHealth(port)} 2>/dev/null`,
            EDGE_READY_SECONDS,
            `{ echo "edge: no healthy answer on port ${port} within ${EDGE_READY_SECONDS} s; the other edge hosts are left as they are" >&2; exit 1; }`,
        ),
        `sleep ${settleSeconds}`,
        `echo "edge: healthy"`,
    );
}

/**
 * Runs before the host's edge container stops: its health check starts failing while nginx still
 * serves, so keepalived hands the VIP to the other edge first; then it waits (bounded) until the VIP
 * has left this host. It names the container by id: one that is already gone (removed by hand, then
 * recreated by `up`) has nothing to drain, and its successor must not be drained. Never fails: an
 * edge that cannot drain is stopped all the same.
 */
export function renderEdgeDrain(vip: string | undefined, containerId: string): string {
    return posixScript(
        `docker exec ${shq(containerId)} touch ${EDGE_PATHS.drainFlag} 2>/dev/null || { echo "edge: not running, nothing to drain"; exit 0; }`,
        ...(vip
            ? [
                  ...boundedWait(
                      `! ${vipHere(vip)}`,
                      VIP_DEPARTURE_SECONDS,
                      `{ echo "edge: VIP ${vip} still here after ${VIP_DEPARTURE_SECONDS} s (no other edge took it)" >&2; exit 0; }`,
                  ),
                  `echo "edge: draining, VIP ${vip} not on this host"`,
              ]
            : [`echo "edge: draining"`]),
    );
}
