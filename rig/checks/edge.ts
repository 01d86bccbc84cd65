/**
 * The edge: every backend in rotation through each edge host, malformed catalog entries harmless, and
 * (on the dev stack) a new backend picked up, a stopped one drained, 502 with none and recovery.
 */
import { backendEnvs } from "../../render/backends";
import { EDGE_CONTAINER, EDGE_PATHS } from "../../render/edge";
import { dockerOn, httpGet, must, sleep, waitFor } from "../lib";
import { assert, check, timing } from "../report";
import { nameOf, namesSeen, requestLoop } from "../requests";
import { Scenario, backendHost, backendName, edgeUrl } from "../scenario";
import { consulPut, managementToken, waitBackends } from "../clients/consul";

/** A backend instance started by hand on rig-h<h>, with the demo backends' image and registration metadata. */
export const runExtraBackend = (s: Scenario, h: number, name: string): Promise<string> => {
    const port = String(s.model.backends.containerPort);
    return must(
        dockerOn(h, [
            "run",
            "-d",
            "-p",
            port,
            "--name",
            name,
            ...backendEnvs(s.model.backends).flatMap((e) => ["-e", e]),
            s.model.images.backend,
            "--port",
            port,
            "--name",
            name,
        ]),
        `docker run ${name} on rig-h${h}`,
    );
};

export async function checkEdgeReach(s: Scenario): Promise<void> {
    const want = Array.from({ length: s.replicas }, (_, i) => backendName(s, i + 1));
    for (const e of s.edges) {
        await check(`edge-reach[${s.stack}@rig-h${e}]`, async () => {
            await waitBackends(s, s.replicas);
            // Converged: nginx has every instance from Consul's DNS (it asks every second).
            const warm = await namesSeen(edgeUrl(s, e), want, s.replicas * 40, 60_000);
            const missing = want.filter((w) => !warm.names.has(w));
            assert(
                missing.length === 0,
                `via ${edgeUrl(s, e)} never reached ${missing.join(", ")} within 60s (statuses ${JSON.stringify(warm.statuses)})`,
            );
            // Then a plain round of requests: every one answered, every backend in rotation.
            const samples = await requestLoop(edgeUrl(s, e), s.replicas * 4, 30_000, 20);
            const names = new Set(samples.map((x) => x.name).filter(Boolean));
            const bad = samples.filter((x) => x.status !== 200);
            assert(
                bad.length === 0 && names.size === want.length,
                `after convergence: ${bad.length} of ${samples.length} requests failed, ${names.size} of ${want.length} backends answered`,
            );
            return `${edgeUrl(s, e)}: all ${want.length} backends in rotation (${[...names].sort().join(", ")}); ${samples.length} of ${samples.length} requests 200 (convergence round: ${JSON.stringify(warm.statuses)})`;
        });
    }
}

/**
 * Whoever can write to the catalog must not be able to write nginx's config, nor stop the edge serving:
 * the edge's files hold no catalog data at all (nginx takes instances from Consul's DNS), so they stay
 * as they are while instances with an address holding "; server ..." and with port 0 are registered,
 * and every request is still answered.
 */
export async function checkEdgeMalformedEntry(s: Scenario): Promise<void> {
    await check(`edge-malformed-entry[${s.stack}]`, async () => {
        const h = s.edges[0];
        const service = s.model.backends.service;
        const entries = [
            { ID: "rig-malformed-address", Name: service, Address: "10.77.0.99;\n    server 10.77.0.98:80", Port: 80 },
            { ID: "rig-malformed-port", Name: service, Address: "10.77.0.97", Port: 0 },
        ];
        const upstreams = async () => (await dockerOn(h, ["exec", EDGE_CONTAINER, "cat", EDGE_PATHS.upstreamsConf])).stdout;
        const management = await managementToken(s);
        const before = await upstreams();
        try {
            for (const e of entries) {
                const status = await consulPut(h, "/v1/agent/service/register", JSON.stringify(e), management);
                assert(status === 200, `registering ${e.ID} on rig-h${h}'s agent: HTTP ${status}`);
            }
            // Three of nginx's once-a-second questions to Consul's DNS, each answered with the entries.
            await sleep(3000);
            const conf = await upstreams();
            assert(conf === before, `nginx's upstreams changed with the malformed entries registered:\n${conf}`);
            const samples = await requestLoop(edgeUrl(s, h), s.replicas * 4, 30_000, 20);
            const failed = samples.filter((x) => x.status !== 200).length;
            assert(failed === 0, `${failed} of ${samples.length} requests failed with the malformed entries in the catalog`);
            return `an address holding "; server ..." and a port 0 registered: nginx's upstreams unchanged; ${samples.length} of ${samples.length} requests 200`;
        } finally {
            for (const e of entries) await consulPut(h, `/v1/agent/service/deregister/${e.ID}`, "", management);
        }
    });
}

/** A backend started by hand served through the edge with no request failing meanwhile. */
async function checkEdgeNewBackend(s: Scenario): Promise<void> {
    const url = edgeUrl(s);
    const h = s.edges[0];
    await check(`edge-new-backend[${s.stack}]`, async () => {
        await dockerOn(h, ["rm", "-f", "web-extra"]);
        const t0 = Date.now();
        try {
            await runExtraBackend(s, h, "web-extra");
            const started = Date.now();
            const samples = await requestLoop(url, 600, 60_000, 100, (x) => x.name === "web-extra");
            const hit = samples.find((x) => x.name === "web-extra");
            assert(hit, `web-extra never answered through ${url} within 60s (${samples.length} requests)`);
            const failures = samples.filter((x) => x.status !== 200).length;
            const convergence = (started - t0 + hit.t) / 1000;
            timing(`convergence[${s.stack}] (backend started -> first request served via the edge)`, convergence);
            assert(failures === 0, `${failures} failed request(s) while web-extra joined`);
            return `web-extra served through the edge ${convergence.toFixed(1)}s after docker run (${samples.length} requests, none failed)`;
        } finally {
            await dockerOn(h, ["rm", "-f", "web-extra"]);
            await waitBackends(s, s.replicas).catch(() => undefined);
        }
    });
}

/** A backend stopped while requests run through the edge: none of them fails. */
async function checkEdgeStopNoFailure(s: Scenario): Promise<void> {
    const url = edgeUrl(s);
    await check(`edge-stop-no-failure[${s.stack}]`, async () => {
        await waitBackends(s, s.replicas);
        const victim = 2;
        const vh = backendHost(s, victim);
        let stoppedAt = 0;
        const stopper = (async () => {
            await sleep(2000);
            stoppedAt = Date.now();
            await must(dockerOn(vh, ["stop", backendName(s, victim)]), `stop ${backendName(s, victim)}`);
        })();
        const t0 = Date.now();
        const samples = await requestLoop(url, 200, 20_000, 50);
        await stopper;
        await dockerOn(vh, ["start", backendName(s, victim)]);
        const after = samples.filter((x) => t0 + x.t >= stoppedAt);
        const bad = samples.filter((x) => x.status !== 200);
        const victimAfter = after.filter((x) => x.name === backendName(s, victim) && t0 + x.t > stoppedAt + 1000).length;
        await waitBackends(s, s.replicas);
        assert(
            bad.length === 0,
            `${bad.length} of ${samples.length} requests failed around stopping ${backendName(s, victim)}: ${bad
                .slice(0, 3)
                .map((b) => `${b.status} ${b.error ?? ""}`)
                .join(", ")}`,
        );
        return `${samples.length} requests in ${((samples.at(-1)?.t ?? 0) / 1000).toFixed(1)}s, ${after.length} after stopping ${backendName(s, victim)}, none failed (${victimAfter} served by it >1s after its stop)`;
    });
}

/** Every backend stopped: the edge answers 502; the first one back is served again. */
async function checkEdge502AndRecovery(s: Scenario): Promise<void> {
    const url = edgeUrl(s);
    await check(`edge-502-and-recovery[${s.stack}]`, async () => {
        const all = Array.from({ length: s.replicas }, (_, i) => i + 1);
        await Promise.all(all.map((k) => must(dockerOn(backendHost(s, k), ["stop", backendName(s, k)]), `stop ${backendName(s, k)}`)));
        try {
            const down = await waitFor(
                async () => {
                    const rs = [await httpGet(url), await httpGet(url), await httpGet(url)];
                    return rs.every((r) => r.status === 502) ? true : undefined;
                },
                30_000,
                500,
                60,
            );
            assert(down.value, `with every backend stopped the edge did not answer 502 (got ${(await httpGet(url)).status})`);
            const t0 = Date.now();
            await must(dockerOn(backendHost(s, 1), ["start", backendName(s, 1)]), `start ${backendName(s, 1)}`);
            const up = await waitFor(
                async () => {
                    const r = await httpGet(url);
                    return r.status === 200 && nameOf(r.body) === backendName(s, 1) ? true : undefined;
                },
                60_000,
                100,
                600,
            );
            assert(up.value, `the edge did not recover within 60s of ${backendName(s, 1)} starting (got ${(await httpGet(url)).status})`);
            const recovery = (Date.now() - t0) / 1000;
            timing(`recovery[${s.stack}] (first backend back -> served via the edge)`, recovery);
            return `502 with all ${s.replicas} backends stopped (after ${(down.ms / 1000).toFixed(1)}s); ${backendName(s, 1)} started -> 200 again after ${recovery.toFixed(1)}s`;
        } finally {
            await Promise.all(all.map((k) => dockerOn(backendHost(s, k), ["start", backendName(s, k)])));
            await waitBackends(s, s.replicas).catch(() => undefined);
        }
    });
}

/** How the edge follows backends coming and going (the dev stack's edge failure; rig-multi takes the VIP's). */
export async function checkEdgeDynamics(s: Scenario): Promise<void> {
    await checkEdgeNewBackend(s);
    await checkEdgeStopNoFailure(s);
    await checkEdge502AndRecovery(s);
}
