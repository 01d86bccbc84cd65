import * as pulumi from "@pulumi/pulumi";

/** One resource as the mocked engine saw it, with when its registration started and ended. */
export interface RecordedResource {
    type: string;
    name: string;
    /** Inputs with secrets unwrapped, for assertions on their values. */
    inputs: Record<string, unknown>;
    /** Top-level inputs that arrived as secrets (or contained one). */
    secretInputs: string[];
    provider?: string;
    /** A custom resource (false: a component). */
    custom: boolean;
    started: number;
    finished: number;
}

export interface MockRun {
    resources: RecordedResource[];
    byName(name: string): RecordedResource;
    ofType(type: string): RecordedResource[];
}

// How the SDK marks a secret value when it serialises inputs for the engine.
const SECRET_SIG = "4dabf18193072939515e22adb298388d";
const SECRET_VALUE = "1b47061264138c4ac30d75fd1eb44270";

const isSecretEnvelope = (v: unknown): v is { value: unknown } =>
    typeof v === "object" && v !== null && (v as Record<string, unknown>)[SECRET_SIG] === SECRET_VALUE;

function reveal(v: unknown): { value: unknown; secret: boolean } {
    if (isSecretEnvelope(v)) return { value: reveal(v.value).value, secret: true };
    if (Array.isArray(v)) {
        const items = v.map(reveal);
        return { value: items.map((i) => i.value), secret: items.some((i) => i.secret) };
    }
    if (typeof v === "object" && v !== null) {
        const entries = Object.entries(v).map(([k, x]) => [k, reveal(x)] as const);
        return { value: Object.fromEntries(entries.map(([k, r]) => [k, r.value])), secret: entries.some(([, r]) => r.secret) };
    }
    return { value: v, secret: false };
}

/** Outputs a real provider would add, so dependent resources see plausible values. */
function providerOutputs(args: pulumi.runtime.MockResourceArgs): Record<string, unknown> {
    switch (args.type) {
        case "command:remote:Command":
        case "command:local:Command":
            return { stdout: args.name.includes("engine-name") ? `engine-${args.name}` : `stdout-of-${args.name}`, stderr: "" };
        case "docker:index/remoteImage:RemoteImage":
            return { imageId: `sha256:${args.name}` };
        case "random:index/randomUuid:RandomUuid":
            return { result: `00000000-0000-4000-8000-${String(args.name.length).padStart(12, "0")}` };
        case "random:index/randomPassword:RandomPassword":
            return { result: "pw123456" };
        default:
            return {};
    }
}

/**
 * Runs `program` under Pulumi's mocks and records every resource. `delayMs` lets a test slow chosen
 * resources down, so ordering is observed from when registrations start and end, as the engine
 * would order them, rather than assumed from code.
 */
export async function runUnderMocks(
    program: () => unknown,
    delayMs: (type: string, name: string) => number = () => 0,
    maxDelayMs = 300,
): Promise<MockRun> {
    const resources: RecordedResource[] = [];
    const t0 = Date.now();
    pulumi.runtime.setMocks(
        {
            newResource: async (args) => {
                const started = Date.now() - t0;
                const delay = delayMs(args.type, args.name);
                if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
                const state = { ...args.inputs, ...providerOutputs(args) };
                const revealed = Object.entries(args.inputs).map(([k, v]) => [k, reveal(v)] as const);
                resources.push({
                    type: args.type,
                    name: args.name,
                    inputs: Object.fromEntries(revealed.map(([k, r]) => [k, r.value])),
                    secretInputs: revealed.filter(([, r]) => r.secret).map(([k]) => k),
                    provider: args.provider,
                    custom: args.custom ?? true,
                    started,
                    finished: Date.now() - t0,
                });
                return { id: `${args.name}-id`, state };
            },
            call: () => ({}),
        },
        "swarm-platform",
        "test",
        false,
    );
    program();
    await waitForQuiet(resources, maxDelayMs * 2 + 200);
    return {
        resources,
        byName: (name) => {
            const found = resources.find((r) => r.name === name);
            if (!found) throw new Error(`no resource named ${name}; have ${resources.map((r) => r.name).join(", ")}`);
            return found;
        },
        ofType: (type) => resources.filter((r) => r.type === type),
    };
}

/** The mocks have no "done" signal: wait until no resource has registered for longer than any delay. */
async function waitForQuiet(resources: RecordedResource[], quietMs: number): Promise<void> {
    let seen = -1;
    for (let i = 0; i < 100 && seen !== resources.length; i++) {
        seen = resources.length;
        await new Promise((resolve) => setTimeout(resolve, quietMs));
    }
}

/** The plain value of an Output, and whether it is secret. */
export async function unwrap<T>(output: pulumi.Output<T>): Promise<{ value: T; secret: boolean }> {
    const value = await new Promise<T>((resolve) => output.apply((v) => resolve(v)));
    const secret = await pulumi.isSecret(output);
    return { value, secret };
}
