import { execFileSync } from "child_process";
import { FakeBin } from "./fakeBin";
import { renderFirewallKeeper } from "../render/firewallKeeper";
import { dnsRedirectRules } from "../render/consul";
import { flowRuleSet } from "../render/tiers";
import { stackModel } from "../support/stacks";

const model = stackModel("multihost");
const rules = [...flowRuleSet(model.flows, model.tiers, "multihost"), ...dnsRedirectRules("172.21.0.1", 53, 8600)];
const script = renderFirewallKeeper(rules);

/**
 * Stand-ins for the two iptables backends, each keeping its rules as lines in a file: `-C` looks a
 * rule up, `-I` adds it, `-L DOCKER-USER` fails in nft when NFT_LACKS_DOCKER_USER says dockerd writes to legacy.
 * The `sleep` stand-in drops every rule on its first call (a firewall reload) and stops the keeper
 * on its second, so each run is two passes and ends by itself.
 */
const IPTABLES_STUB = `#!/bin/sh
store="$FAKE/state-$(basename "$0")"
[ "$1" = -w ] && shift
if [ "$1" = -n ]; then
    [ "$(basename "$0")" = iptables-nft ] && exit "$NFT_LACKS_DOCKER_USER"
    exit 0
fi
table=$2; action=$3; chain=$4; shift 4
[ "$action" = -I ] && shift
rule="$table $chain $*"
case $action in
    -C) grep -qxF -- "$rule" "$store" 2>/dev/null ;;
    -I) echo "$rule" >> "$store" ;;
    *) exit 2 ;;
esac
`;
const SLEEP_STUB = `#!/bin/sh
calls=$(($(cat "$FAKE/sleeps" 2>/dev/null || echo 0) + 1))
echo "$calls" > "$FAKE/sleeps"
if [ "$calls" -eq 1 ]; then : > "$FAKE/state-iptables-nft"; : > "$FAKE/state-iptables-legacy"; else kill -TERM "$PPID"; fi
`;

function runKeeper(legacy: boolean, preset: string): { stdout: string; nft: string[]; legacyRules: string[] } {
    const fake = new FakeBin({ "iptables-nft": IPTABLES_STUB, "iptables-legacy": IPTABLES_STUB, sleep: SLEEP_STUB });
    try {
        fake.write(`state-${legacy ? "iptables-legacy" : "iptables-nft"}`, preset);
        const r = fake.run(script, { env: { NFT_LACKS_DOCKER_USER: legacy ? "1" : "0" }, timeoutMs: 10_000 });
        if (r.code !== 0) throw new Error(`the keeper exited ${r.code}: ${r.stderr}`);
        return { stdout: r.stdout, nft: fake.lines("state-iptables-nft"), legacyRules: fake.lines("state-iptables-legacy") };
    } finally {
        fake.remove();
    }
}

/** Each rule as the stub stores it, the shell's quoting undone. */
const asStored = (r: (typeof rules)[number]) => `${r.table} ${r.chain} ${r.spec.replace(/"/g, "")}`;

describe("firewall keeper", () => {
    test("parses under sh -n and bash -n", () => {
        for (const shell of ["sh", "bash"]) execFileSync(shell, ["-n"], { input: script });
    });

    test("leaves rules in place alone, puts every lost one back once, and stops on SIGTERM", () => {
        const { stdout, nft } = runKeeper(false, rules.map(asStored).join("\n") + "\n");
        expect(stdout).toContain(`firewall-keeper: ${rules.length} rule(s) through iptables-nft`);
        const putBack = stdout.split("\n").filter((l) => l.startsWith("put back: "));
        expect(putBack).toHaveLength(rules.length);
        expect([...nft].sort()).toEqual(rules.map(asStored).sort());
    });

    test("writes through the legacy backend when dockerd's DOCKER-USER lives there", () => {
        const { stdout, nft, legacyRules } = runKeeper(true, "");
        expect(stdout).toContain("through iptables-legacy");
        expect(nft).toEqual([]);
        expect([...legacyRules].sort()).toEqual(rules.map(asStored).sort());
    });
});
