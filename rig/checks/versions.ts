/** What a scenario runs on, read from the running containers. */
import { projectConfigDefaults } from "../../lib/defaults";
import { EDGE_CONTAINER } from "../../render/edge";
import { dockerOn } from "../lib";
import { assert, check } from "../report";
import { Scenario } from "../scenario";

const versionAtLeast = (have: string, want: string): boolean => {
    const [a, b] = [have, want].map((v) => v.split(".").map(Number));
    for (let i = 0; i < Math.max(a.length, b.length); i++) if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) > (b[i] ?? 0);
    return true;
};

/**
 * What the scenario ran on, read from the running containers: the engine, Consul (the version the
 * stack defaults to), nginx (1.27.3 or later, which re-resolves upstream servers without a reload) and
 * keepalived.
 */
export async function checkVersions(s: Scenario): Promise<void> {
    const defaultConsulImage = String(projectConfigDefaults().consulImage);
    await check(`versions[${s.stack}]`, async () => {
        const h = s.edges[0];
        const out = async (args: string[]) => {
            const r = await dockerOn(h, args);
            return r.stdout + r.stderr;
        };
        const engine = (await dockerOn(h, ["version", "--format", "{{.Server.Version}}"])).stdout.trim();
        const consul = /Consul v(\S+)/.exec(await out(["exec", "consul", "consul", "version"]))?.[1] ?? "?";
        const nginx = /nginx\/(\S+)/.exec(await out(["exec", EDGE_CONTAINER, "nginx", "-v"]))?.[1] ?? "?";
        const keepalived = /Keepalived v(\S+)/.exec(await out(["exec", EDGE_CONTAINER, "keepalived", "--version"]))?.[1] ?? "?";
        const line = `Docker Engine ${engine}, Consul ${consul}, nginx ${nginx}, keepalived ${keepalived}`;
        const wantConsul = defaultConsulImage.split(":").pop() ?? "";
        assert(consul === wantConsul, `${line}: Consul is not the stack's default ${wantConsul}`);
        assert(versionAtLeast(nginx, "1.27.3"), `${line}: nginx older than 1.27.3`);
        return line;
    });
}
