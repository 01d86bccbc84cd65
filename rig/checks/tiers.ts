/** Tier isolation: per-tier bridge networks whose DOCKER-USER rules let only the configured flows through. */
import { BASE_IMAGE, dockerOn, must, waitFor } from "../lib";
import { assert, check } from "../report";
import { Scenario } from "../scenario";

// One nginx answering on the ports the probes try: the flows' ports and one no flow opens.
const LISTENER = [
    "printf '%s\\n' 'pid /tmp/n.pid;' 'error_log stderr;' 'events {}'",
    "'http { access_log off; server { listen 27017; listen 2181; listen 8081; location / { return 200 \"ok\\n\"; } } }' >/tmp/n.conf",
    "&& exec nginx -c /tmp/n.conf -g 'daemon off;'",
].join(" ");

/**
 * The tiers' bridge networks on rig-h<h>: a listener in each tier, probed from the others; only the
 * default flows (app to mongo on 27017, app to zookeeper on 2181) get through.
 */
export async function checkIsolation(s: Scenario, h: number): Promise<void> {
    await check(`isolation[${s.stack}@rig-h${h}]`, async () => {
        const tiers = s.model.tiers.map((t) => t.name);
        try {
            await Promise.all(
                tiers.map((t) =>
                    must(
                        dockerOn(h, ["run", "-d", "--name", `iso-${t}`, "--network", `net_${t}`, BASE_IMAGE, "sh", "-c", LISTENER]),
                        `run iso-${t}`,
                    ),
                ),
            );
            const ip: Record<string, string> = {};
            for (const t of tiers)
                ip[t] = await must(
                    dockerOn(h, ["inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", `iso-${t}`]),
                    "inspect",
                );
            // Each listener answers locally first, so a closed path below is the network's doing.
            for (const t of tiers) {
                const ok = await waitFor(
                    async () =>
                        (await dockerOn(h, ["exec", `iso-${t}`, "curl", "-s", "-m", "2", "http://127.0.0.1:8081/"])).stdout.includes("ok")
                            ? true
                            : undefined,
                    15_000,
                    500,
                    30,
                );
                assert(ok.value, `iso-${t} listener did not come up`);
            }
            const probe = async (from: string, to: string, port: number) => {
                const r = await dockerOn(
                    h,
                    ["exec", `iso-${from}`, "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-m", "3", `http://${ip[to]}:${port}/`],
                    { timeoutMs: 15_000 },
                );
                return r.stdout.trim() === "200";
            };
            const cases: [string, string, number, boolean][] = [
                ["app", "mongo", 27017, true],
                ["app", "zookeeper", 2181, true],
                ["app", "mongo", 8081, false],
                ["app", "zookeeper", 27017, false],
                ["mongo", "app", 8081, false],
                ["mongo", "zookeeper", 2181, false],
                ["zookeeper", "mongo", 27017, false],
            ];
            const results = await Promise.all(cases.map(async ([f, t, p, want]) => ({ f, t, p, want, got: await probe(f, t, p) })));
            const wrong = results.filter((r) => r.got !== r.want);
            const fmt = (r: (typeof results)[number]) => `${r.f}->${r.t}:${r.p} ${r.got ? "open" : "closed"}`;
            assert(wrong.length === 0, `unexpected: ${wrong.map(fmt).join(", ")}`);
            return results.map(fmt).join(", ");
        } finally {
            await Promise.all(tiers.map((t) => dockerOn(h, ["rm", "-f", `iso-${t}`])));
        }
    });
}
