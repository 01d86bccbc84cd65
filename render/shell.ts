/** Quotes a value for POSIX sh, so config values never become shell syntax on a host. */
export const shq = (value: string | number): string => `'${String(value).replace(/'/g, `'"'"'`)}'`;

/**
 * Wraps a script body for remote execution: POSIX sh (the login shell may be dash or bash), exit on
 * the first error, and a trace-free run so no value on a command line is echoed into logs.
 */
export const posixScript = (...lines: string[]): string => ["set -eu", ...lines].join("\n") + "\n";

/**
 * Script lines polling `condition` (a shell test) once a second until it holds; after `seconds` tries
 * they run `onTimeout`, which exits (to fail, or to give up quietly) or breaks (to go on regardless).
 */
export const boundedWait = (condition: string, seconds: number, onTimeout: string): string[] => [
    "i=0",
    `until ${condition}; do`,
    `  i=$((i + 1)); [ "$i" -le ${seconds} ] || ${onTimeout}`,
    "  sleep 1",
    "done",
];

/** Label every object the stack creates on a host carries, so destroy removes only those. */
export const MANAGED_LABEL = "io.swarm-platform.managed";

/** One iptables rule: `iptables -t <table> -I <chain> 1 <spec>`. */
export interface IptablesRule {
    table: "filter" | "raw" | "nat";
    chain: string;
    spec: string;
}

const iptables = (r: IptablesRule, action: "-C" | "-D" | "-I"): string =>
    `iptables -t ${r.table} ${action} ${r.chain}${action === "-I" ? " 1" : ""} ${r.spec}`;

/**
 * Script lines inserting each rule at the top of its chain; `-C` first keeps re-runs from stacking
 * duplicates. With `announce`, each insertion prints the rule, so a rule put back shows in a log.
 */
export const insertRules = (rules: IptablesRule[], announce = false): string[] =>
    rules.map(
        (r) =>
            `${iptables(r, "-C")} 2>/dev/null || ${announce ? `{ ${iptables(r, "-I")} && echo ${shq(`put back: -t ${r.table} ${r.chain} ${r.spec}`)}; }` : iptables(r, "-I")}`,
    );

/** Script lines deleting exactly these rules, every copy of them, and nothing else. */
export const deleteRules = (rules: IptablesRule[]): string[] =>
    rules.map((r) => `while ${iptables(r, "-C")} 2>/dev/null; do ${iptables(r, "-D")}; done`);
