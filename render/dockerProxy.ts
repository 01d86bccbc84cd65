/**
 * The Docker API proxy in front of registrator: HAProxy on a unix socket that passes only the reads
 * registrator makes (ping, version, info, the event stream, the container list and one container's
 * inspect) to the engine's socket and answers everything else 403. A compromised registrator can then
 * watch the host's containers, but not start, change, exec into, copy from or remove any of them.
 */

/** Where the proxy's socket lives, in the volume it shares with registrator. */
export const DOCKER_PROXY_DIR = "/run/docker-proxy";
export const DOCKER_PROXY_SOCKET = `${DOCKER_PROXY_DIR}/docker.sock`;
export const DOCKER_PROXY_CONFIG = "/usr/local/etc/haproxy/haproxy.cfg";
/**
 * Where the proxy sees the engine's socket. Not /var/run/docker.sock: /var/run is a symlink to /run in
 * Debian images, and Docker's file upload into a created container fails on a bind mount below one.
 */
export const PROXIED_ENGINE_SOCKET = "/run/docker-engine.sock";

/** The requests passed on: GET/HEAD of these paths, with or without an API version prefix. */
// [.] rather than a backslash-escaped dot: HAProxy's config parser reads backslashes as escapes.
export const DOCKER_PROXY_ALLOWED_PATH =
    "^(/v[0-9]+[.][0-9]+)?/(_ping|version|info|events|containers/json|containers/[A-Za-z0-9_.-]+/json)$";

export function renderDockerProxyConfig(engineSocket = PROXIED_ENGINE_SOCKET): string {
    return `global
    # One foreground process: no daemon, no pid file, no stats socket.
    log stdout format raw local0 notice

defaults
    mode http
    log global
    option httplog
    timeout connect 5s
    # /events is a stream that may stay quiet for a long time.
    timeout client 24h
    timeout server 24h

frontend docker_api
    bind ${DOCKER_PROXY_SOCKET} mode 666
    http-request deny deny_status 403 unless { method GET HEAD } { path_reg ${DOCKER_PROXY_ALLOWED_PATH} }
    default_backend engine

backend engine
    server engine ${engineSocket}
`;
}

/** haproxy in the foreground (-db), master-worker (-W) so it reloads cleanly and exits on SIGTERM. */
export const dockerProxyArgs = (): string[] => ["-W", "-db", "-f", DOCKER_PROXY_CONFIG];
