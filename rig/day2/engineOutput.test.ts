import { PulumiRun } from "../pulumi";
import { overlappingHosts, replacedIn, touchedIn } from "./engineOutput";

const CONSUL = /^platform-consul-(agent|rollout)-/;
const EDGE = /^platform-edge-(rig|vip|rollout)-/;
const COMMAND = "command:remote:Command";
const CONTAINER = "docker:index/container:Container";

/** `pulumi up`'s output made of step lines as the engine prints them in a non-interactive run. */
const upOutput = (...steps: [string, string, string][]): PulumiRun => ({
    code: 0,
    seconds: 1,
    output: ["Updating (rig-multi):", ...steps.map(([op, type, rest]) => ` ${op}  ${type} ${rest} (1s) [diff: ~triggers]`)].join("\n"),
});

/** The replacement of one Consul agent: its rollout step (the leader hand-off) and container go, then come back. */
const consulOn = (host: string): [string, string, string][] => [
    ["--", COMMAND, `platform-consul-rollout-${host} deleting original`],
    ["--", CONTAINER, `platform-consul-agent-${host} deleting original`],
    ["++", CONTAINER, `platform-consul-agent-${host} created replacement`],
    ["++", COMMAND, `platform-consul-rollout-${host} created replacement`],
];

describe("what up did, from the engine's step lines", () => {
    // The init manager retired: Consul's agents roll rig-h2, rig-h3, rig-h4; the edge on rig-h2 waits only for
    // its own agent and the ACL step (which waits for the servers' containers), so it can start while
    // rig-h4's rollout step still waits for its new agent to rejoin.
    const retirement = upOutput(
        ...consulOn("rig-h2"),
        ...consulOn("rig-h3"),
        ["--", COMMAND, "platform-consul-rollout-rig-h4 deleting original"],
        ["--", CONTAINER, "platform-consul-agent-rig-h4 deleting original"],
        ["++", CONTAINER, "platform-consul-agent-rig-h4 created replacement"],
        ["~ ", COMMAND, "platform-consul-acl updated"],
        ["--", COMMAND, "platform-edge-rollout-rig-h2 deleting original"],
        ["--", CONTAINER, "platform-edge-rig-h2 deleting original"],
        ["++", COMMAND, "platform-consul-rollout-rig-h4 created replacement"],
        ["++", CONTAINER, "platform-edge-rig-h2 created replacement"],
        ["++", COMMAND, "platform-edge-rollout-rig-h2 created replacement"],
    );

    test("an edge replaced on one host while a Consul agent rejoins on another is no overlap: they are two rollouts", () => {
        expect(overlappingHosts(retirement, [CONSUL, EDGE])).toEqual([]);
        // Read as one rollout, the same output is the "hosts changed at the same time: rig-h2 + rig-h4" it is not.
        expect(overlappingHosts(retirement, [new RegExp(`${CONSUL.source}|${EDGE.source}`)])).toEqual(["rig-h2 + rig-h4"]);
    });

    test("two hosts of one rollout replaced at once are an overlap", () => {
        const together = upOutput(
            ["--", CONTAINER, "platform-consul-agent-rig-h1 deleting original"],
            ["--", CONTAINER, "platform-consul-agent-rig-h2 deleting original"],
            ["++", CONTAINER, "platform-consul-agent-rig-h1 created replacement"],
            ["++", CONTAINER, "platform-consul-agent-rig-h2 created replacement"],
        );
        expect(overlappingHosts(together, [CONSUL, EDGE])).toEqual(["rig-h1 + rig-h2"]);
        expect(overlappingHosts(upOutput(...consulOn("rig-h1"), ...consulOn("rig-h2")), [CONSUL])).toEqual([]);
    });

    test("replaced in the order the replacements were created; touched names every resource once", () => {
        expect(replacedIn(retirement).filter((n) => CONSUL.test(n))).toEqual([
            "platform-consul-agent-rig-h2",
            "platform-consul-rollout-rig-h2",
            "platform-consul-agent-rig-h3",
            "platform-consul-rollout-rig-h3",
            "platform-consul-agent-rig-h4",
            "platform-consul-rollout-rig-h4",
        ]);
        expect(touchedIn(retirement)).toContain("platform-consul-acl");
        expect(touchedIn(retirement).filter((n) => n === "platform-edge-rig-h2")).toHaveLength(1);
    });
});
