import { IptablesRule, deleteRules, insertRules } from "./shell";

/** How often the keeper looks for missing rules: the longest a lost rule stays lost while the keeper runs. */
export const FIREWALL_KEEPER_INTERVAL_SECONDS = 5;

export const FIREWALL_KEEPER_CONTAINER = "firewall-keeper";
export const FIREWALL_KEEPER_SCRIPT = "/etc/firewall-keeper/keep.sh";

/**
 * The keeper's loop: every few seconds, each rule that is missing goes back at the top of its chain
 * and is logged. Rules live in the kernel, so a reboot, a firewall reload or `iptables -F` loses
 * them while Docker's own state survives; the keeper, restarted by Docker, puts them back.
 *
 * It writes through the iptables backend dockerd uses, found by where DOCKER-USER exists (dockerd
 * makes that chain before it starts any container): rules in the other backend would never be
 * reached. nft is asked first because listing a legacy table would create one in the host's
 * namespace. No `set -e`: a rule that cannot be inserted now is retried on the next pass.
 */
export function renderFirewallKeeper(rules: IptablesRule[]): string {
    return (
        [
            "set -u",
            `if iptables-nft -w -n -L DOCKER-USER >/dev/null 2>&1; then backend=iptables-nft; else backend=iptables-legacy; fi`,
            `iptables() { "$backend" -w "$@"; }`,
            `echo "firewall-keeper: ${rules.length} rule(s) through $backend, checked every ${FIREWALL_KEEPER_INTERVAL_SECONDS} s"`,
            // sleep in the background: sh runs a trap only between commands, and a foreground sleep would hold SIGTERM back.
            `trap 'exit 0' TERM INT`,
            `while :; do`,
            ...insertRules(rules, true).map((line) => `  ${line}`),
            `  sleep ${FIREWALL_KEEPER_INTERVAL_SECONDS} & wait $!`,
            `done`,
        ].join("\n") + "\n"
    );
}

/**
 * Script lines removing rules the keeper holds: the keeper stops first, or it would put them back
 * within a pass. It stays stopped until the stack replaces it, which it does whenever a step that
 * applied its rules is replaced (see FirewallKeeper).
 */
export const removeKeptRules = (rules: IptablesRule[]): string[] => [
    `if docker container inspect ${FIREWALL_KEEPER_CONTAINER} >/dev/null 2>&1; then docker stop ${FIREWALL_KEEPER_CONTAINER} >/dev/null && echo "${FIREWALL_KEEPER_CONTAINER} stopped"; fi`,
    ...deleteRules(rules),
];
