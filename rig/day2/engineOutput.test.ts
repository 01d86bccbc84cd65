import { PulumiRun } from "../pulumi";
import { overlappingHosts, replacedIn, touchedIn } from "./engineOutput";

const CONSUL = /^platform-consul-(agent|rollout)-/;
const EDGE = /^platform-edge-(rig|vip|rollout)-/;

const run = (lines: string[]): PulumiRun => ({ code: 0, seconds: 1, output: lines.join("\n") });

// init-manager-retired's `up` on the rig (rig-h1 retired): the end of the Consul rollout (rig-h2 and
// rig-h3 went before) and the start of the edge's on rig-h2, as the engine printed them. The ACL step
// starts once rig-h4's agent container exists, beside rig-h4's rollout step (which waits for the agent
// to rejoin); the edge on rig-h2 waits for the ACL step only. Lines the engine printed in between
// (progress, other resources) are left out.
const ROLLOUT_H4_CREATED =
    " ++ command:remote:Command platform-consul-rollout-rig-h4 created replacement (4s) [diff: ~delete,triggers]; consul agent rig-h4: in the cluster";
const ACL_UPDATED =
    " ~  command:remote:Command platform-consul-acl updated (5s) [diff: ~connection]; consul acl: 4 policies and tokens in place";
const EDGE_H2_DELETING = " -- command:remote:Command platform-edge-rollout-rig-h2 deleting original (0s) ";
const RETIREMENT = [
    " -- command:remote:Command platform-consul-rollout-rig-h4 deleting original (0s) ",
    " -- command:remote:Command platform-consul-rollout-rig-h4 deleting original (2s) consul agent rig-h4: not the leader, nothing to hand over",
    " -- command:remote:Command platform-consul-rollout-rig-h4 deleted original (2s) consul agent rig-h4: not the leader, nothing to hand over",
    " -- docker:index:Container platform-consul-agent-rig-h4 deleting original (0s) ",
    " -- docker:index:Container platform-consul-agent-rig-h4 deleted original (3s) ",
    " +- docker:index:Container platform-consul-agent-rig-h4 replacing (0s) [diff: ~uploads]",
    " +- docker:index:Container platform-consul-agent-rig-h4 replaced (0.00s) [diff: ~uploads]",
    " ++ docker:index:Container platform-consul-agent-rig-h4 creating replacement (0s) [diff: ~uploads]",
    " ++ docker:index:Container platform-consul-agent-rig-h4 created replacement (2s) [diff: ~uploads]",
    " ~  command:remote:Command platform-consul-acl updating (0s) [diff: ~connection]",
    " ++ command:remote:Command platform-consul-rollout-rig-h4 creating replacement (0s) [diff: ~delete,triggers]; consul agent rig-h4: not the leader, nothing to hand over",
    ROLLOUT_H4_CREATED,
    ACL_UPDATED,
    EDGE_H2_DELETING,
    " -- command:remote:Command platform-edge-rollout-rig-h2 deleted original (2s) edge: draining, VIP 10.77.0.100 not on this host",
    " -- docker:index:Container platform-edge-vip-rig-h2 deleting original (0s) ",
    " ++ docker:index:Container platform-edge-vip-rig-h2 created replacement (1s) [diff: ~uploads]",
    " ++ command:remote:Command platform-edge-rollout-rig-h2 created replacement (5s) [diff: ~triggers]; edge: healthy",
];
// The same steps when the ACL step ends first: the edge on rig-h2 starts while rig-h4's agent is still rejoining.
const ACL_FIRST = RETIREMENT.filter((l) => l !== ROLLOUT_H4_CREATED).flatMap((l) =>
    l === EDGE_H2_DELETING ? [l, ROLLOUT_H4_CREATED] : [l],
);

describe("what up did, from the engine's step lines", () => {
    test("an edge replaced on rig-h2 while rig-h4's Consul agent rejoins is no overlap: they are two rollouts", () => {
        expect(overlappingHosts(run(ACL_FIRST), [CONSUL, EDGE])).toEqual([]);
        // Read as one rollout, as the check did, the ACL step ending first is "hosts changed at the same time: rig-h2 + rig-h4".
        const asOne = [new RegExp(`${CONSUL.source}|${EDGE.source}`)];
        expect(overlappingHosts(run(ACL_FIRST), asOne)).toEqual(["rig-h2 + rig-h4"]);
        expect(overlappingHosts(run(RETIREMENT), asOne)).toEqual([]);
    });

    test("two hosts of one rollout replaced at once are an overlap", () => {
        const together = run([
            " -- docker:index:Container platform-consul-agent-rig-h1 deleting original (0s) ",
            " -- docker:index:Container platform-consul-agent-rig-h2 deleting original (0s) ",
            " ++ docker:index:Container platform-consul-agent-rig-h1 created replacement (1s) [diff: ~image]",
            " ++ docker:index:Container platform-consul-agent-rig-h2 created replacement (1s) [diff: ~image]",
        ]);
        expect(overlappingHosts(together, [CONSUL, EDGE])).toEqual(["rig-h1 + rig-h2"]);
    });

    test("replaced in the order the replacements were created; touched names every resource once", () => {
        expect(replacedIn(run(RETIREMENT))).toEqual([
            "platform-consul-agent-rig-h4",
            "platform-consul-rollout-rig-h4",
            "platform-edge-vip-rig-h2",
            "platform-edge-rollout-rig-h2",
        ]);
        expect(touchedIn(run(RETIREMENT))).toEqual([
            "platform-consul-rollout-rig-h4",
            "platform-consul-agent-rig-h4",
            "platform-consul-acl",
            "platform-edge-rollout-rig-h2",
            "platform-edge-vip-rig-h2",
        ]);
    });
});
