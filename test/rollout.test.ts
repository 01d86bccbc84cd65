import { Platform } from "../components/Platform";
import { PlatformModel } from "../lib/model";
import { RecordedResource, runUnderMocks } from "./mockEngine";
import { modelWithHosts } from "./stacks";

const before = (a: RecordedResource, b: RecordedResource) => expect(a.finished).toBeLessThanOrEqual(b.started);

describe("rolling changes", () => {
    const slowRollouts = (_type: string, name: string): number => (/-rollout-/.test(name) ? 150 : 0);
    // Listed backwards: the order of a rollout follows names and roles, not the list.
    const model = (): PlatformModel => {
        const m = modelWithHosts(5);
        m.hosts.reverse();
        return m;
    };

    test("with a cluster running, each Consul agent starts after the one before is back: servers, then clients, each by name", async () => {
        const run = await runUnderMocks(() => new Platform("platform", { model: model(), rolling: true }), slowRollouts);
        const order = ["node001", "node002", "node003", "node004", "node005"];
        for (let i = 1; i < order.length; i++) before(run.byName(`platform-consul-rollout-${order[i - 1]}`), run.byName(`platform-consul-agent-${order[i]}`));
    });

    test("on a first deployment the agents start together: servers elect a leader only once bootstrap-expect of them run", async () => {
        const run = await runUnderMocks(() => new Platform("platform", { model: model() }), slowRollouts);
        for (const host of ["node002", "node003", "node004"]) expect(run.byName(`platform-consul-agent-${host}`).started).toBeLessThan(run.byName("platform-consul-rollout-node001").finished);
    });

    test("a rollout step is replaced with what it guards: an agent; an edge and its keepalived", async () => {
        const run = await runUnderMocks(() => new Platform("platform", { model: model(), rolling: true }));
        expect(run.byName("platform-consul-rollout-node001").inputs.triggers).toEqual(["platform-consul-agent-node001-id"]);
        expect(run.byName("platform-edge-rollout-node002").inputs.triggers).toEqual(["platform-edge-node002-id", "platform-edge-vip-node002-id"]);
        // Only a server can lead, so only a server's step hands leadership over (with the management token).
        expect(run.byName("platform-consul-rollout-node003").inputs.delete).toContain("transfer-leader");
        expect(run.byName("platform-consul-rollout-node004").inputs.delete).toBeUndefined();
        expect(run.byName("platform-consul-rollout-node004").inputs.stdin).toBeUndefined();
    });

    test("edge hosts change one at a time, by name, on every deployment; the first by name is the VIP's MASTER", async () => {
        const run = await runUnderMocks(() => new Platform("platform", { model: model() }), slowRollouts);
        before(run.byName("platform-edge-rollout-node001"), run.byName("platform-edge-node002"));
        expect(run.byName("platform-edge-rollout-node001").inputs.delete).toContain("10.60.9.100");
        const conf = (host: string) => JSON.stringify(run.byName(`platform-edge-vip-${host}`).inputs.uploads);
        expect(conf("node001")).toContain("state MASTER");
        expect(conf("node002")).toContain("state BACKUP");
    });
});
