/** Quotes a value for POSIX sh, so config values never become shell syntax on a host. */
export const shq = (value: string | number): string => `'${String(value).replace(/'/g, `'"'"'`)}'`;

/**
 * Wraps a script body for remote execution: POSIX sh (the login shell may be dash or bash), exit on
 * the first error, and a trace-free run so no value on a command line is echoed into logs.
 */
export const posixScript = (...lines: string[]): string => ["set -eu", ...lines].join("\n") + "\n";

/** Label every object the stack creates on a host carries, so destroy removes only those. */
export const MANAGED_LABEL = "io.swarm-platform.managed";
