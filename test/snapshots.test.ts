import { Platform } from "../components/Platform";
import { RecordedResource, runUnderMocks } from "../support/mockEngine";
import { stackModel } from "../support/stacks";

/**
 * Everything the multihost stack puts onto its hosts, as generated text: each script a command runs
 * (create, delete, stdin) and each container's command, environment and uploaded files. A change to
 * any of them shows in review as a snapshot diff (`npx jest -u` after reading it); the real checkers
 * (nginx -t, keepalived --config-test, haproxy -c, sh -n) test the same text in the render tests.
 */
const GENERATED: Record<string, string[]> = {
    "command:remote:Command": ["create", "delete", "stdin"],
    "docker:index/container:Container": ["entrypoints", "command", "envs", "uploads", "user", "capabilities"],
};

/** The generated inputs of one resource, files' contents as plain text so a diff reads line by line. */
function generated(r: RecordedResource): Record<string, unknown> {
    const picked = GENERATED[r.type].filter((k) => r.inputs[k] !== undefined).map((k) => [k, r.inputs[k]] as const);
    return Object.fromEntries(
        picked.map(([k, v]) =>
            k === "uploads" ? [k, Object.fromEntries((v as { file: string; content: string }[]).map((u) => [u.file, u.content]))] : [k, v],
        ),
    );
}

let resources: RecordedResource[];
beforeAll(async () => {
    const model = stackModel("multihost");
    const run = await runUnderMocks(() => new Platform("platform", { model }));
    resources = run.resources.filter((r) => r.type in GENERATED).sort((a, b) => (a.name < b.name ? -1 : 1));
});

test("the multihost stack generates something for every host", () => {
    expect(resources.length).toBeGreaterThan(40);
});

test("what the multihost stack puts onto its hosts", () => {
    for (const r of resources) expect(generated(r)).toMatchSnapshot(r.name);
});
