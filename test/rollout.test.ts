import { batchSize, consulRolloutWaves, placeReplicas } from "../lib/topology";
import { Platform } from "../components/Platform";
import { PlatformModel } from "../lib/model";
import { RecordedResource, runUnderMocks } from "../support/mockEngine";
import { modelWithHosts } from "../support/stacks";

// A last deployment whose Consul cluster ran: changes to the agents roll.
const clusterRan = { consulAgents: ["node001"], backendPlacement: {}, swarmInit: "node001" };
const before = (a: RecordedResource, b: RecordedResource) => expect(a.finished).toBeLessThanOrEqual(b.started);
const connectionOf = (r: RecordedResource) => (r.inputs.connection as { host: string }).host;

describe("rolling changes", () => {
    const slowRollouts = (_type: string, name: string): number => (/-rollout-/.test(name) ? 150 : 0);
    // Listed backwards: the order of a rollout follows names and roles, not the list.
    const model = (): PlatformModel => {
        const m = modelWithHosts(5);
        m.hosts.reverse();
        return m;
    };

    test("with a cluster running, each Consul agent starts after the one before is back: servers, then clients, each by name", async () => {
        const run = await runUnderMocks(() => new Platform("platform", { model: model(), last: clusterRan }), slowRollouts);
        const order = ["node001", "node002", "node003", "node004", "node005"];
        for (let i = 1; i < order.length; i++)
            before(run.byName(`platform-consul-rollout-${order[i - 1]}`), run.byName(`platform-consul-agent-${order[i]}`));
    });

    test("on a first deployment the agents start together: servers elect a leader only once bootstrap-expect of them run", async () => {
        const run = await runUnderMocks(() => new Platform("platform", { model: model() }), slowRollouts);
        for (const host of ["node002", "node003", "node004"])
            expect(run.byName(`platform-consul-agent-${host}`).started).toBeLessThan(
                run.byName("platform-consul-rollout-node001").finished,
            );
    });

    test("a rollout step is replaced with what it guards: an agent; an edge and its keepalived", async () => {
        const run = await runUnderMocks(() => new Platform("platform", { model: model(), last: clusterRan }));
        expect(run.byName("platform-consul-rollout-node001").inputs.triggers).toEqual(["platform-consul-agent-node001-id"]);
        expect(run.byName("platform-edge-rollout-node002").inputs.triggers).toEqual([
            "platform-edge-node002-id",
            "platform-edge-vip-node002-id",
        ]);
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

describe("Consul client agents roll in batches", () => {
    const hosts = (servers: number, clients: number) =>
        [
            ...Array.from({ length: servers }, (_, i) => ({ name: `s${i + 1}`, roles: ["consul-server"] })),
            ...Array.from({ length: clients }, (_, i) => ({ name: `c${i + 1}`, roles: ["consul-client"] })),
        ]
            .reverse()
            .map((h) => ({ spec: { ...modelWithHosts(3).hosts[0], ...h } as PlatformModel["hosts"][number] }));
    const names = (waves: { spec: { name: string } }[][]) => waves.map((w) => w.map((h) => h.spec.name));

    test("servers one at a time, then clients by name in batches of the configured size", () => {
        expect(names(consulRolloutWaves(hosts(3, 8), { percent: 25 }))).toEqual([
            ["s1"],
            ["s2"],
            ["s3"],
            ["c1", "c2"],
            ["c3", "c4"],
            ["c5", "c6"],
            ["c7", "c8"],
        ]);
        expect(names(consulRolloutWaves(hosts(1, 5), { count: 3 }))).toEqual([["s1"], ["c1", "c2", "c3"], ["c4", "c5"]]);
    });

    test("a batch is at least one client and at most all of them", () => {
        expect(batchSize({ percent: 1 }, 8)).toBe(1);
        expect(batchSize({ percent: 100 }, 8)).toBe(8);
        expect(batchSize({ count: 50 }, 8)).toBe(8);
        expect(batchSize({ percent: 25 }, 0)).toBe(1);
    });

    test("with a cluster running, a batch's agents change together, and the next batch waits until every one of them is back", async () => {
        const m = modelWithHosts(9);
        m.consul.clientBatch = { percent: 50 };
        // Agents slowed too, so two that start together overlap.
        const slowAgents = (_type: string, name: string): number => (/-(rollout|agent)-/.test(name) ? 150 : 0);
        const run = await runUnderMocks(() => new Platform("platform", { model: m, last: clusterRan }), slowAgents);
        // Six clients in batches of three: node004-006, then node007-009.
        const [a, b] = [run.byName("platform-consul-agent-node004"), run.byName("platform-consul-agent-node005")];
        expect(a.started).toBeLessThan(b.finished);
        expect(b.started).toBeLessThan(a.finished);
        const barrier = run.byName("platform-consul-wave-node006");
        for (const host of ["node004", "node005", "node006"]) before(run.byName(`platform-consul-rollout-${host}`), barrier);
        for (const host of ["node007", "node008", "node009"]) before(barrier, run.byName(`platform-consul-agent-${host}`));
        before(run.byName("platform-consul-rollout-node003"), a);
    });
});

describe("hosts coming and going", () => {
    const hosts3 = ["h1", "h2", "h3"];

    test("a first deployment places replicas round-robin over the hosts in name order", () => {
        expect(placeReplicas("web", 5, ["h3", "h1", "h2"], {})).toEqual({
            "web-1": "h1",
            "web-2": "h2",
            "web-3": "h3",
            "web-4": "h1",
            "web-5": "h2",
        });
    });

    test("an added host moves no replica; the next new replicas go to it first", () => {
        const last = placeReplicas("web", 6, hosts3, {});
        expect(placeReplicas("web", 6, [...hosts3, "h4"], last)).toEqual(last);
        const scaled = placeReplicas("web", 8, [...hosts3, "h4"], last);
        expect([scaled["web-7"], scaled["web-8"]]).toEqual(["h4", "h4"]);
    });

    test("a removed host's replicas go to the hosts with the fewest; the others stay", () => {
        const last = placeReplicas("web", 6, [...hosts3, "h4"], {});
        const now = placeReplicas("web", 6, hosts3, last);
        for (const [replica, host] of Object.entries(last)) if (host !== "h4") expect(now[replica]).toBe(host);
        expect(Object.values(now).filter((h) => h === "h4")).toEqual([]);
        expect(["h1", "h2", "h3"].map((h) => Object.values(now).filter((x) => x === h).length)).toEqual([2, 2, 2]);
    });

    test("scaling down keeps the remaining replicas where they were", () => {
        const last = { "web-1": "h3", "web-2": "h1", "web-3": "h2", "web-4": "h3" };
        expect(placeReplicas("web", 2, hosts3, last)).toEqual({ "web-1": "h3", "web-2": "h1" });
    });

    test("a replica whose host goes is a new resource on the host it moves to, so the engine creates it there and deletes the old one", async () => {
        const model = modelWithHosts(4);
        const ran = placeReplicas(
            "web",
            model.backends.replicas,
            model.hosts.map((h) => h.name),
            {},
        );
        model.hosts = model.hosts.filter((h) => h.name !== "node001");
        model.edge.vip = undefined;
        const run = await runUnderMocks(() => new Platform("platform", { model, last: { ...clusterRan, backendPlacement: ran } }));
        const replicas = run.resources.filter((r) => r.name.startsWith("platform-backends-web-"));
        expect(replicas.map((r) => r.name).sort()).toEqual(
            Object.entries(
                placeReplicas(
                    "web",
                    model.backends.replicas,
                    model.hosts.map((h) => h.name),
                    ran,
                ),
            )
                .map(([replica, host]) => `platform-backends-${replica}-${host}`)
                .sort(),
        );
        for (const [replica, host] of Object.entries(ran))
            if (host !== "node001") expect(run.byName(`platform-backends-${replica}-${host}`)).toBeDefined();
        expect(replicas.some((r) => r.name.endsWith("-node001"))).toBe(false);
    });

    test("a joining node is tracked on the first manager before it joins; its removal runs there after it left", async () => {
        const run = await runUnderMocks(
            () => new Platform("platform", { model: modelWithHosts(4) }),
            (_t, name) => (/swarm-node-/.test(name) ? 150 : 0),
        );
        const tracked = run.byName("platform-swarm-node-node004");
        expect((tracked.inputs.connection as { host: string }).host).toBe(modelWithHosts(4).hosts[0].address);
        expect(tracked.inputs.delete).toContain("engine-platform-host-node004-engine-name");
        before(tracked, run.byName("platform-swarm-member-node004"));
    });
});

describe("a new docker_gwbridge subnet on a running swarm", () => {
    const slowRebuilds = (_type: string, name: string): number => (/swarm-(gwbridge|rejoined)-/.test(name) ? 150 : 0);
    const hosts = ["node001", "node002", "node003", "node004"];

    test("nodes rebuild it one at a time by name, each joining again through another manager, which then removes the entry it left", async () => {
        const model = modelWithHosts(4);
        const run = await runUnderMocks(() => new Platform("platform", { model, last: clusterRan }), slowRebuilds);
        for (let i = 1; i < hosts.length; i++)
            before(run.byName(`platform-swarm-rejoined-${hosts[i - 1]}`), run.byName(`platform-swarm-gwbridge-${hosts[i]}`));
        for (const host of hosts) {
            const rebuild = run.byName(`platform-swarm-gwbridge-${host}`);
            const through = host === "node001" ? model.hosts[1].address : model.hosts[0].address;
            expect(rebuild.inputs.create).toContain(`${through}:2377`);
            expect(rebuild.inputs.triggers).toEqual([model.gwbridge.subnet, model.gwbridge.gateway]);
            expect(connectionOf(run.byName(`platform-swarm-rejoined-${host}`))).toBe(through);
            before(run.byName(`platform-swarm-rejoined-${host}`), run.byName(`platform-consul-agent-${host}`));
        }
    });

    test("a first deployment does not wait for one node after another", async () => {
        const run = await runUnderMocks(() => new Platform("platform", { model: modelWithHosts(4) }), slowRebuilds);
        expect(run.byName("platform-swarm-gwbridge-node004").started).toBeLessThan(run.byName("platform-swarm-rejoined-node001").finished);
    });
});

describe("managers and Consul servers coming and going", () => {
    const slowTrackers = (_type: string, name: string): number => (/swarm-node-|consul-server-/.test(name) ? 150 : 0);

    test("the first manager by name inits; its own entry is tracked by the next manager, before init", async () => {
        const model = modelWithHosts(4);
        const run = await runUnderMocks(() => new Platform("platform", { model }), slowTrackers);
        expect(run.byName("platform-swarm-member-node001").inputs.create).toContain("docker swarm init");
        const tracked = run.byName("platform-swarm-node-node001");
        expect(connectionOf(tracked)).toBe(model.hosts[1].address);
        before(tracked, run.byName("platform-swarm-member-node001"));
    });

    test("without the first manager, the next by name takes over init under its own name and the others join it", async () => {
        const model = modelWithHosts(4);
        model.hosts = model.hosts.filter((h) => h.name !== "node001");
        // node001 was one of the VIP's two edges.
        model.edge.vip = undefined;
        const run = await runUnderMocks(() => new Platform("platform", { model, last: clusterRan }));
        expect(run.byName("platform-swarm-member-node002").inputs.create).toContain("docker swarm init");
        for (const host of ["node003", "node004"])
            expect(run.byName(`platform-swarm-member-${host}`).inputs.create).toContain(`${model.hosts[0].address}:2377`);
        expect(run.resources.some((r) => r.name.includes("node001"))).toBe(false);
    });

    test("a manager added under an earlier name joins the swarm that another manager initialised; init stays where it was", async () => {
        const model = modelWithHosts(4);
        const initialised = model.hosts[0];
        model.hosts = [{ ...model.hosts[3], name: "node000", address: "10.60.0.200", roles: ["manager", "consul-client"] }, ...model.hosts];
        const run = await runUnderMocks(() => new Platform("platform", { model, last: { ...clusterRan, swarmInit: initialised.name } }));
        expect(run.byName("platform-swarm-member-node001").inputs.create).toContain("docker swarm init");
        for (const host of ["node000", "node002", "node004"])
            expect(run.byName(`platform-swarm-member-${host}`).inputs.create).toContain(
                `docker swarm join --token "$token" --advertise-addr`,
            );
        expect(run.byName("platform-swarm-member-node000").inputs.create).toContain(`${initialised.address}:2377`);
        expect(connectionOf(run.byName("platform-swarm-node-node000"))).toBe(initialised.address);
    });

    test("a Consul server is tracked by the first other server, which prunes it with the management token once its agent is gone", async () => {
        const model = modelWithHosts(4);
        const run = await runUnderMocks(() => new Platform("platform", { model }), slowTrackers);
        for (const [server, by] of [
            ["node001", 1],
            ["node003", 0],
        ] as const) {
            const tracked = run.byName(`platform-consul-server-${server}`);
            expect(connectionOf(tracked)).toBe(model.hosts[by].address);
            expect(tracked.inputs.delete).toContain(`force-leave -prune '${server}'`);
            expect(tracked.secretInputs).toContain("stdin");
            before(tracked, run.byName(`platform-consul-agent-${server}`));
        }
        // A client leaves the cluster by itself when it stops.
        expect(run.resources.some((r) => r.name === "platform-consul-server-node004")).toBe(false);
    });
});
