import { execFileSync } from "child_process";
import { FakeBin } from "./fakeBin";
import {
    renderConsulAgentReady,
    renderConsulAutopilotSettings,
    renderConsulLeaderHandoff,
    renderConsulServerPrune,
} from "../render/consul";
import { EDGE_PATHS, renderEdgeDrain, renderEdgeReady } from "../render/edge";
import { renderNodeRemove, renderSwarmLeave } from "../render/swarm";
import { HostRole, HostSpec } from "../lib/model";
import { stackModel } from "../support/stacks";
import { renderGwBridgeCreate, renderGwBridgeRebuild } from "../render/gwbridge";

/**
 * The rollout scripts run against stand-ins for `docker` and `sleep` on PATH: the stand-in docker
 * answers from a small state file and logs every call with the token it saw in its environment.
 */
const FAKE_DOCKER = `#!/bin/sh
echo "argv=$* token=\${CONSUL_HTTP_TOKEN:-}" >> "$FAKE/log"
case "$*" in
  "network inspect docker_gwbridge --format"*) [ -f "$FAKE/bridge" ] || exit 1; cat "$FAKE/bridge" ;;
  "network rm docker_gwbridge") rm -f "$FAKE/bridge" ;;
  "network create"*)
    set -- "$@"; while [ "$#" -gt 0 ]; do case "$1" in --subnet) subnet=$2 ;; --gateway) gateway=$2 ;; esac; shift; done
    echo "$subnet $gateway" > "$FAKE/bridge" ;;
  "info --format {{.Swarm.LocalNodeState}}") cat "$FAKE/state" ;;
  "info --format {{.Swarm.ControlAvailable}}")
    # While "turning" counts down, a demoted manager still reports itself one.
    n=$(cat "$FAKE/turning"); [ "$n" -gt 0 ] && { echo $((n - 1)) > "$FAKE/turning"; echo true; exit 0; }
    cat "$FAKE/control" ;;
  "info --format {{.Swarm.Managers}}") echo 3 ;;
  "volume inspect swarm-platform-swarm-member") ;;
  "volume rm swarm-platform-swarm-member") ;;
  "info --format {{.Swarm.NodeID}}") echo id-self ;;
  "swarm leave"*) echo inactive > "$FAKE/state" ;;
  "swarm join"*) echo active > "$FAKE/state" ;;
  "node demote"*) echo false > "$FAKE/control"; [ -f "$FAKE/demote-deadline" ] && { echo "context deadline exceeded" >&2; exit 1; }; exit 0 ;;
  "node inspect self --format {{.ManagerStatus.Reachability}}") [ "$(cat "$FAKE/state")" = active ] && echo reachable || exit 1 ;;
  *"operator raft list-peers"*)
    leader=$(cat "$FAKE/leader")
    echo "Node ID Address State Voter RaftProtocol"
    for n in rig-h1 rig-h2 rig-h3; do
      if [ "$n" = "$leader" ]; then echo "$n id-$n 10.0.0.1:8300 leader true 3"; else echo "$n id-$n 10.0.0.1:8300 follower true 3"; fi
    done ;;
  *"consul members"*)
    [ -f "$FAKE/no-agent" ] && exit 1
    n=$(cat "$FAKE/failures"); state=failed; [ "$n" -gt 0 ] && { echo $((n - 1)) > "$FAKE/failures"; state=alive; }
    echo "Node Address Status Type"; echo "rig-h1 10.0.0.1:8301 alive server"; echo "rig-h3 10.0.0.3:8301 $state server" ;;
  *"operator autopilot state"*)
    # The real output's shape; until "settling" runs out, rig-h3 has not caught up.
    n=$(cat "$FAKE/settling"); h3=true; status=voter
    [ "$n" -gt 0 ] && { echo $((n - 1)) > "$FAKE/settling"; h3=false; [ "$n" -gt 1 ] && status=non-voter; }
    echo "Healthy:                      $h3"; echo "Failure Tolerance:            0"; echo "Servers:"
    for s in rig-h1:leader:true rig-h3:$status:$h3; do
      echo "   id-\${s%%:*}"; echo "      Name:            \${s%%:*}"; rest=\${s#*:}
      echo "      Status:          \${rest%%:*}"; echo "      Node Status:     alive"; echo "      Healthy:         \${rest#*:}"
    done ;;
  *"operator autopilot get-config"*)
    n=$(cat "$FAKE/failures"); [ "$n" -gt 0 ] && { echo $((n - 1)) > "$FAKE/failures"; echo "No cluster leader" >&2; exit 1; }
    echo "CleanupDeadServers = $(cat "$FAKE/cleanup")"; echo "LastContactThreshold = 200ms" ;;
  *"operator autopilot set-config -cleanup-dead-servers=false"*) [ -f "$FAKE/ignore-set" ] || echo false > "$FAKE/cleanup" ;;
  *"force-leave"*) ;;
  *"transfer-leader"*) [ -f "$FAKE/refuse" ] && exit 1; echo rig-h2 > "$FAKE/leader" ;;
  *"catalog nodes"*)
    n=$(cat "$FAKE/failures"); [ "$n" -gt 0 ] && { echo $((n - 1)) > "$FAKE/failures"; exit 1; }
    echo "Node ID Address DC"; echo "rig-h1 1 10.0.0.1 dc1"; echo "rig-h3 3 10.0.0.3 dc1" ;;
  *" curl "*)
    [ -f "$FAKE/drained" ] && exit 22
    n=$(cat "$FAKE/failures"); [ "$n" -gt 0 ] && { echo $((n - 1)) > "$FAKE/failures"; exit 7; }; exit 0 ;;
  *" touch "*) [ -f "$FAKE/stopped" ] && exit 1; : > "$FAKE/drained" ;;
  *" rm -f "*) rm -f "$FAKE/drained" ;;
  "node ls"*)
    [ -f "$FAKE/no-swarm" ] && exit 1
    n=$(cat "$FAKE/failures"); state=Down; [ "$n" -gt 0 ] && { echo $((n - 1)) > "$FAKE/failures"; state=Ready; }
    echo "id-old web7 Down"; echo "id-web7 web7 $state"; echo "id-web70 web70 Down"; echo "id-m1 m1 Ready" ;;
  "node rm"*) ;;
esac
`;

let fake: FakeBin;

beforeEach(() => {
    fake = new FakeBin({ docker: FAKE_DOCKER, sleep: `#!/bin/sh\necho "sleep $1" >> "$FAKE/log"\n` });
    fake.write("leader", "rig-h1\n");
    fake.write("failures", "0\n");
    fake.write("settling", "0\n");
    fake.write("turning", "0\n");
    fake.write("cleanup", "true\n");
    fake.write("log", "");
});
afterEach(() => fake.remove());

/** Runs a script against the stand-ins, `stdin` (where a secret arrives) on its standard input; with every call they logged. */
function runScript(script: string, stdin = ""): { code: number; stdout: string; stderr: string; log: string[] } {
    return { ...fake.run(script, { stdin }), log: fake.lines("log") };
}

const NEW_BRIDGE = { subnet: "172.24.0.0/20", gateway: "172.24.0.1", allowRebuild: true };
const web7 = (roles: HostRole[]): HostSpec => ({
    ...stackModel("multihost").hosts[1],
    name: "web7",
    address: "10.0.0.7",
    roles,
    dataPathAddress: undefined,
});

const scripts = {
    agentReady: renderConsulAgentReady("rig-h3", "127.0.0.1:8500", false),
    serverReady: renderConsulAgentReady("rig-h3", "127.0.0.1:8500", true),
    leaderHandoff: renderConsulLeaderHandoff("rig-h1", "127.0.0.1:8500", "c0ffee"),
    edgeReady: renderEdgeReady(80, 3),
    edgeDrain: renderEdgeDrain("203.0.113.7", "c0ffee"),
    edgeDrainNoVip: renderEdgeDrain(undefined, "c0ffee"),
    nodeRemove: renderNodeRemove("web7"),
    gwbridgeRebuild: renderGwBridgeRebuild(NEW_BRIDGE, web7(["worker"]), "10.0.0.1"),
    serverPrune: renderConsulServerPrune("rig-h3", "127.0.0.1:8500"),
    autopilot: renderConsulAutopilotSettings("127.0.0.1:8500"),
};

test.each(Object.keys(scripts) as (keyof typeof scripts)[])("%s parses under sh -n and bash -n and stops at the first error", (key) => {
    for (const shell of ["sh", "bash"]) execFileSync(shell, ["-n"], { input: scripts[key] });
    expect(scripts[key].startsWith("set -eu\n")).toBe(true);
});

describe("Consul's autopilot settings", () => {
    test("dead-server cleanup goes off once a leader answers; the token comes from stdin, never argv", () => {
        fake.write("failures", "2\n");
        const r = runScript(scripts.autopilot, "mgmt-token\n");
        expect(r.code).toBe(0);
        expect(r.stdout).toContain("consul autopilot: dead-server cleanup off");
        expect(fake.read("cleanup").trim()).toBe("false");
        expect(r.log.filter((l) => l === "sleep 1")).toHaveLength(2);
        const calls = r.log.filter((l) => l.startsWith("argv="));
        expect(calls.length).toBeGreaterThan(0);
        for (const call of calls) {
            const [argv, token] = call.split(" token=");
            expect([argv.includes("mgmt-token"), token]).toEqual([false, "mgmt-token"]);
        }
    });

    test("a setting that does not take fails the step", () => {
        fake.write("ignore-set", "");
        const r = runScript(scripts.autopilot, "mgmt-token");
        expect(r.code).toBe(1);
        expect(r.stderr).toContain("consul autopilot: dead-server cleanup still on");
    });

    test("no leader within 120 s fails the step, saying so", () => {
        fake.write("failures", "1000\n");
        const r = runScript(scripts.autopilot, "mgmt-token");
        expect(r.code).toBe(1);
        expect(r.stderr).toContain("consul autopilot: no leader answering after 120 s");
        expect(r.log.some((l) => l.includes("set-config"))).toBe(false);
    });
});

describe("a Consul agent's rollout", () => {
    test("ready once a read through the agent reaches a leader and the catalog lists its node; retried each second meanwhile", () => {
        fake.write("failures", "2\n");
        const r = runScript(scripts.agentReady);
        expect(r.code).toBe(0);
        expect(r.stdout).toContain("consul agent rig-h3: in the cluster");
        expect(r.log.filter((l) => l.includes("catalog nodes"))).toHaveLength(3);
        expect(r.log.filter((l) => l === "sleep 1")).toHaveLength(2);
    });

    test("a node the catalog never lists fails the rollout after a bounded wait, naming the node", () => {
        const r = runScript(renderConsulAgentReady("rig-h9", "127.0.0.1:8500", false));
        expect(r.code).toBe(1);
        expect(r.stderr).toContain("consul agent rig-h9: no leader answered through it within 180 s");
        expect(r.log.filter((l) => l.includes("catalog nodes"))).toHaveLength(181);
    });

    test("a server is ready only once autopilot reports every server healthy and it votes; the token comes from stdin", () => {
        fake.write("settling", "3\n");
        const r = runScript(scripts.serverReady, "s3cr3t-token\n");
        expect(r.code).toBe(0);
        expect(r.stdout).toContain("consul agent rig-h3: in the cluster");
        const probes = r.log.filter((l) => l.includes("autopilot state"));
        expect(probes).toHaveLength(4);
        expect(probes.every((l) => l.endsWith("token=s3cr3t-token"))).toBe(true);
        expect(r.log.filter((l) => l.startsWith("sleep"))).toHaveLength(3);
    });

    test("a server that never becomes a healthy voter fails the rollout after a bounded wait, naming it", () => {
        fake.write("settling", "1000\n");
        const r = runScript(scripts.serverReady, "s3cr3t-token");
        expect(r.code).toBe(1);
        expect(r.stderr).toContain("consul agent rig-h3: not a healthy voter among healthy servers within 180 s");
    });

    test("the leader hands leadership over before it stops, with the token from stdin (no trailing newline) in the environment only", () => {
        const r = runScript(scripts.leaderHandoff, "s3cr3t-token");
        expect(r.code).toBe(0);
        expect(r.stdout).toContain("consul agent rig-h1: leadership handed to rig-h2");
        expect(r.log.some((l) => l.includes("c0ffee consul operator raft transfer-leader") && l.endsWith("token=s3cr3t-token"))).toBe(true);
        expect(r.log.every((l) => !l.split(" token=")[0].includes("s3cr3t-token"))).toBe(true);
    });

    test("a follower has nothing to hand over", () => {
        fake.write("leader", "rig-h3\n");
        const r = runScript(scripts.leaderHandoff, "t\n");
        expect(r.code).toBe(0);
        expect(r.stdout).toContain("not the leader");
        expect(r.log.some((l) => l.includes("transfer-leader"))).toBe(false);
    });

    test("a refused transfer does not stop the change: the agent still goes, the others elect a leader", () => {
        fake.write("refuse", "");
        const r = runScript(scripts.leaderHandoff, "t\n");
        expect(r.code).toBe(0);
        expect(r.stderr).toContain("leadership transfer refused");
    });
});

describe("an edge's rollout", () => {
    test("ready once the edge answers its health check, then the VIP's settle time", () => {
        fake.write("failures", "1\n");
        const r = runScript(scripts.edgeReady);
        expect(r.code).toBe(0);
        expect(r.log.filter((l) => l.includes("curl -fsS --max-time 2 -o /dev/null http://127.0.0.1:80/healthz"))).toHaveLength(2);
        expect(r.log.slice(-1)).toEqual(["sleep 3"]);
    });

    test("an edge drained but kept (only its keepalived was replaced) is cleared by the ready step and serves again", () => {
        expect(runScript(scripts.edgeDrain).code).toBe(0);
        const r = runScript(scripts.edgeReady);
        expect(r.code).toBe(0);
        expect(r.stdout).toContain("edge: healthy");
        expect(r.log.filter((l) => l.includes("/healthz"))).toHaveLength(1);
    });

    test("drain marks the edge so its health check fails, then returns once the VIP is not on this host", () => {
        const r = runScript(scripts.edgeDrain);
        expect(r.code).toBe(0);
        // By id: a successor container of the same name is never drained by its predecessor's step.
        expect(r.log[0]).toContain(`exec c0ffee touch ${EDGE_PATHS.drainFlag}`);
        expect(r.stdout).toContain("VIP 203.0.113.7 not on this host");
    });

    test("an edge that is not running has nothing to drain, and its removal goes on", () => {
        fake.write("stopped", "");
        for (const script of [scripts.edgeDrain, scripts.edgeDrainNoVip]) {
            const r = runScript(script);
            expect(r.code).toBe(0);
            expect(r.stdout).toContain("not running, nothing to drain");
        }
    });
});

describe("a node's removal from the swarm", () => {
    test("waits until the node that left is down, then removes every down entry of exactly that hostname", () => {
        // Ready for three listings: the script's first look (is this a manager?) and two rounds of waiting.
        fake.write("failures", "3\n");
        const r = runScript(scripts.nodeRemove);
        expect(r.code).toBe(0);
        expect(r.log.filter((l) => l === "sleep 1")).toHaveLength(2);
        expect(r.log.filter((l) => l.startsWith("argv=node rm")).map((l) => l.split(" ")[2])).toEqual(["id-old", "id-web7"]);
        expect(r.stdout).toContain("swarm: node web7: Down entries removed");
    });

    test("a host that manages no swarm any more removes nothing and does not fail", () => {
        fake.write("no-swarm", "");
        const r = runScript(scripts.nodeRemove);
        expect(r.code).toBe(0);
        expect(r.stdout).toContain("not removed here");
        expect(r.log.some((l) => l.includes("node rm"))).toBe(false);
    });
});

describe("a member leaving the swarm", () => {
    const leaveSteps = (log: string[]) =>
        log
            .filter((l) => /node demote|swarm leave|^sleep/.test(l))
            .map((l) =>
                l.startsWith("sleep")
                    ? "sleep"
                    : l
                          .replace(/^argv=/, "")
                          .split(" ")
                          .slice(0, 2)
                          .join(" "),
            );

    test("a manager whose demotion reports a deadline waits until it is a worker, then leaves", () => {
        fake.write("state", "active\n");
        fake.write("control", "true\n");
        fake.write("demote-deadline", "");
        // One read to decide to demote, then two more as a manager while it turns.
        fake.write("turning", "3\n");
        const r = runScript(renderSwarmLeave());
        expect(r.code).toBe(0);
        expect(leaveSteps(r.log)).toEqual(["node demote", "sleep", "sleep", "swarm leave"]);
        expect(r.stdout).toContain("swarm: left");
    });

    test("a manager still reporting itself one after 30 s leaves anyway (--force), so up does not hang", () => {
        fake.write("state", "active\n");
        fake.write("control", "true\n");
        fake.write("turning", "1000\n");
        const r = runScript(renderSwarmLeave());
        expect(r.code).toBe(0);
        const steps = leaveSteps(r.log);
        expect(steps.filter((x) => x === "sleep")).toHaveLength(30);
        expect(steps[steps.length - 1]).toBe("swarm leave");
    });
});

describe("a removed Consul server's pruning", () => {
    test("waits until the server is no longer alive, then prunes it with the token from stdin", () => {
        // Alive for three listings: the first look (does an agent answer here?) and two rounds of waiting.
        fake.write("failures", "3\n");
        const r = runScript(scripts.serverPrune, "mgmt-token");
        expect(r.code).toBe(0);
        expect(r.log.filter((l) => l === "sleep 1")).toHaveLength(2);
        expect(r.log.some((l) => l.includes("force-leave -prune rig-h3") && l.endsWith("token=mgmt-token"))).toBe(true);
        expect(r.stdout).toContain("consul: server rig-h3 pruned");
    });

    test("a host whose agent is gone prunes nothing and does not fail", () => {
        fake.write("no-agent", "");
        const r = runScript(scripts.serverPrune, "mgmt-token");
        expect(r.code).toBe(0);
        expect(r.stdout).toContain("not pruned here");
        expect(r.log.some((l) => l.includes("force-leave"))).toBe(false);
    });
});

describe("a docker_gwbridge rebuild on a running node", () => {
    const calls = (log: string[]) => log.map((l) => l.replace(/^argv=/, "").replace(/ token=.*$/, ""));
    const runningNode = (manager: boolean) => {
        fake.write("bridge", "172.21.0.0/20 172.21.0.1\n");
        fake.write("state", "active\n");
        fake.write("control", `${manager}\n`);
    };

    test("a manager demotes itself, leaves, has its bridge rebuilt and joins again through the other manager with the token from stdin", () => {
        runningNode(true);
        const r = runScript(renderGwBridgeRebuild(NEW_BRIDGE, web7(["manager"]), "10.0.0.1"), "SWMTKN-1-secret");
        expect(r.code).toBe(0);
        const steps = calls(r.log)
            .filter((l) => /^(node demote|swarm leave|network rm|network create|swarm join)/.test(l))
            .map((l) => l.split(" ").slice(0, 2).join(" "));
        expect(steps).toEqual(["node demote", "swarm leave", "network rm", "network create", "swarm join"]);
        expect(calls(r.log).find((l) => l.startsWith("swarm join"))).toBe(
            "swarm join --token SWMTKN-1-secret --advertise-addr 10.0.0.7 10.0.0.1:2377",
        );
        expect(fake.read("bridge").trim()).toBe("172.24.0.0/20 172.24.0.1");
        expect(r.stdout).toContain("docker_gwbridge on web7: rebuilt with 172.24.0.0/20 172.24.0.1, back in the swarm");
    });

    test("a manager whose demotion reports a deadline while it turns into a worker still leaves, and counts as back once reachable", () => {
        runningNode(true);
        fake.write("demote-deadline", "");
        const r = runScript(renderGwBridgeRebuild(NEW_BRIDGE, web7(["manager"]), "10.0.0.1"), "SWMTKN-1-secret");
        expect(r.code).toBe(0);
        expect(
            calls(r.log)
                .filter((l) => /^(swarm leave|swarm join|node inspect self)/.test(l))
                .map((l) => l.split(" ").slice(0, 2).join(" ")),
        ).toEqual(["swarm leave", "swarm join", "node inspect"]);
    });

    test("a worker has nothing to demote; a bridge that already has the subnet is left alone, the node in its swarm", () => {
        runningNode(false);
        expect(calls(runScript(scripts.gwbridgeRebuild, "SWMTKN-1-secret").log).some((l) => l.startsWith("node demote"))).toBe(false);
        fake.write("log", "");
        const again = runScript(scripts.gwbridgeRebuild, "SWMTKN-1-secret");
        expect(again.stdout).toContain("docker_gwbridge: already 172.24.0.0/20 172.24.0.1");
        expect(calls(again.log).some((l) => l.startsWith("swarm leave"))).toBe(false);
    });

    test("before the join, a node already in a swarm leaves its bridge to the rebuild; one out of any swarm has it rebuilt at once", () => {
        runningNode(true);
        const member = runScript(renderGwBridgeCreate(NEW_BRIDGE, "web7"));
        expect(member.stdout).toContain("web7 is in a swarm, so it is rebuilt after its join, one node at a time");
        expect(calls(member.log).some((l) => /^(swarm leave|network rm)/.test(l))).toBe(false);
        fake.write("state", "inactive\n");
        const outside = runScript(renderGwBridgeCreate(NEW_BRIDGE, "web7"));
        expect(outside.code).toBe(0);
        expect(fake.read("bridge").trim()).toBe("172.24.0.0/20 172.24.0.1");
    });
});
