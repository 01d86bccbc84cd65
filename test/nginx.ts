/**
 * The nginx whose `nginx -t` checks the edge's configs: `$NGINX_BIN` (`.ci/run` sets it to Debian sid's,
 * from `bash rig/nginx.sh`), else the one on PATH.
 */
export const NGINX = process.env.NGINX_BIN || "nginx";

/** The edge's upstreams re-resolve Consul's SRV records (`server ... service=... resolve`), new in nginx 1.27.3. */
export const NGINX_MIN_VERSION: readonly number[] = [1, 27, 3];
