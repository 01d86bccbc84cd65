/**
 * How long the VIP goes unanswered when its holder fails: the edge container stopped, or the whole
 * host cut off (its link to the rig's bridge down). Measured by a 20 requests/s open-loop stream through
 * the VIP; after each run the holder comes back and takes the VIP again (preempt) before the next.
 */
import { EDGE_CONTAINER } from "../../render/edge";
import { dockerOn, must, setLink, sleep, waitFor } from "../lib";
import { info } from "../report";
import { vipHolders } from "../checks/vip";
import { waitBackends } from "../clients/consul";
import { Scenario } from "../scenario";
import { outageSeconds } from "./figures";
import { openLoop } from "./load";

/** Waits until the first edge host holds the VIP alone and has for 3 s. */
async function vipSettledOnMaster(s: Scenario): Promise<void> {
    const master = s.edges[0];
    let stableSince = 0;
    const r = await waitFor(
        async () => {
            const holders = await vipHolders(s);
            if (holders.length !== 1 || holders[0] !== master) stableSince = 0;
            else if (!stableSince) stableSince = Date.now();
            return stableSince && Date.now() - stableSince >= 3000 ? true : undefined;
        },
        60_000,
        500,
        120,
    );
    if (!r.value)
        throw new Error(`the VIP did not settle on rig-h${master} within 60s (holders: ${(await vipHolders(s)).join(",") || "none"})`);
}

export interface Failover {
    outage: number[];
    detail: string;
}

/** `runs` times: `fail` the VIP holder while requests stream through `url`, measure the outage, `heal` it. */
async function measureFailover(
    s: Scenario,
    url: string,
    runs: number,
    what: string,
    fail: (h: number) => Promise<unknown>,
    heal: (h: number) => Promise<unknown>,
): Promise<Failover> {
    const outage: number[] = [];
    const lines: string[] = [];
    for (let i = 1; i <= runs; i++) {
        await vipSettledOnMaster(s);
        const holder = s.edges[0];
        let done = false;
        let movedAfter = "";
        const stream = openLoop(url, 20, 30_000, () => done);
        try {
            await sleep(2000);
            await fail(holder);
            // Only the backup is asked: a cut-off holder would hold each probe up for its ssh timeout.
            const moved = await waitFor(async () => ((await vipHolders(s, [s.edges[1]])).length > 0 ? true : undefined), 20_000, 100, 200);
            movedAfter = moved.value
                ? `VIP on rig-h${s.edges[1]} after ${(moved.ms / 1000).toFixed(1)} s`
                : `VIP not on rig-h${s.edges[1]} within 20 s`;
            await sleep(5000);
        } finally {
            done = true;
            await heal(holder);
        }
        const samples = await stream;
        const gap = outageSeconds(samples);
        outage.push(gap);
        lines.push(`${gap.toFixed(2)} s (${samples.filter((x) => !x.ok).length} of ${samples.length} failed; ${movedAfter})`);
        info(`${what} run ${i}: no answer for ${lines.at(-1)}`);
    }
    await vipSettledOnMaster(s);
    return { outage, detail: `${what}, ${runs} runs: ${lines.join(", ")}` };
}

/**
 * The edge container on the VIP holder stopped (`docker stop`: it drains first) or killed (`docker
 * kill`, as a crash: keepalived notices at its next health check).
 */
export const measureEdgeFailover = (s: Scenario, url: string, runs: number, verb: "stop" | "kill"): Promise<Failover> =>
    measureFailover(
        s,
        url,
        runs,
        `edge container ${verb === "stop" ? "stopped" : "killed"} on the VIP holder`,
        (h) => must(dockerOn(h, [verb, EDGE_CONTAINER]), `docker ${verb} ${EDGE_CONTAINER} on rig-h${h}`),
        (h) => must(dockerOn(h, ["start", EDGE_CONTAINER]), `docker start ${EDGE_CONTAINER} on rig-h${h}`),
    );

export async function measureHostFailover(s: Scenario, url: string, runs: number): Promise<Failover> {
    const result = await measureFailover(
        s,
        url,
        runs,
        "VIP holder's link down",
        (h) => setLink(h, "down"),
        (h) => setLink(h, "up"),
    );
    // The cut-off host's Consul agent and checks catch up before anything else is measured.
    await waitBackends(s, s.replicas, 90_000);
    return result;
}
