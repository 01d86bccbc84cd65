import * as pulumi from "@pulumi/pulumi";
import { Platform } from "../components/Platform";
import { runUnderMocks } from "../support/mockEngine";
import { modelWithHosts } from "../support/stacks";

interface RegisterRequest {
    getDependenciesList(): string[];
}

/** Resources registered and dependency edges between them (explicit dependsOn and those carried by inputs), as the engine receives them. */
async function dependencyGraph(n: number): Promise<{ resources: number; edges: number }> {
    const model = modelWithHosts(n);
    let edges = 0;
    const run = await runUnderMocks(() => {
        const monitor = pulumi.runtime.getMonitor() as unknown as { registerResource: (req: RegisterRequest, callback: unknown) => void };
        const register = monitor.registerResource.bind(monitor);
        monitor.registerResource = (req, callback) => {
            edges += new Set(req.getDependenciesList()).size;
            register(req, callback);
        };
        return new Platform("platform", { model });
    });
    return { resources: run.resources.length, edges };
}

test("the dependency graph grows linearly with the hosts: 10, 50 and 100 hosts", async () => {
    const [g10, g50, g100] = [await dependencyGraph(10), await dependencyGraph(50), await dependencyGraph(100)];
    console.log(
        `dependency edges: 10 hosts ${g10.edges} (${g10.resources} resources), 50 hosts ${g50.edges} (${g50.resources}), 100 hosts ${g100.edges} (${g100.resources})`,
    );
    // Linear: each added host adds the same number of edges, so the increments per host agree.
    const perHost = [(g50.edges - g10.edges) / 40, (g100.edges - g50.edges) / 50];
    expect(Math.abs(perHost[1] - perHost[0])).toBeLessThanOrEqual(0.05 * perHost[0]);
    expect(g100.edges / g100.resources).toBeLessThan(4);
}, 180_000);
