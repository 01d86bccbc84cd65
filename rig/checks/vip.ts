/**
 * The VIP: held by exactly one edge host and reaching every backend; moved to the other edge when the
 * holder's edge stops, with at most a request caught in the hand-over failing; back on the MASTER when
 * that edge returns, and nowhere twice.
 */
import { EDGE_CONTAINER } from "../../render/edge";
import { dockerOn, httpGet, must, sleep, sshOn, waitFor } from "../lib";
import { assert, check, info, timing } from "../report";
import { namesSeen, requestLoop } from "../requests";
import { Scenario, backendName } from "../scenario";

/** Which of `hosts` (default: the edge hosts) hold the VIP. */
export async function vipHolders(s: Scenario, hosts = s.edges): Promise<number[]> {
    const has = await Promise.all(
        hosts.map(async (h) => {
            const r = await sshOn(h, `ip -4 -o addr show dev ${s.model.edge.vipInterface}`, { timeoutMs: 10_000 });
            return r.stdout.includes(` ${s.vip}/`) ? h : 0;
        }),
    );
    return has.filter((h) => h > 0);
}

/** Requests through the VIP that may fail when its holder's edge is stopped: the one VRRP's hand-over catches, and one more. */
const MAX_FAILED_IN_HANDOVER = 2;

export async function checkVip(s: Scenario): Promise<void> {
    if (!s.vip) return;
    const url = `http://${s.vip}:${s.edgePort}/`;
    await check(`vip[${s.stack}]`, async () => {
        const settled = await waitFor(
            async () => {
                const holders = await vipHolders(s);
                const r = await httpGet(url);
                return holders.length === 1 && r.status === 200 ? holders[0] : undefined;
            },
            30_000,
            1000,
            30,
        );
        assert(
            settled.value,
            `VIP ${s.vip} not held by exactly one edge host with service (holders: ${(await vipHolders(s)).join(",") || "none"})`,
        );
        const { names, statuses } = await namesSeen(
            url,
            Array.from({ length: s.replicas }, (_, i) => backendName(s, i + 1)),
            s.replicas * 20,
            30_000,
        );
        assert(names.size === s.replicas, `via ${url} saw only ${[...names].join(", ")} (${JSON.stringify(statuses)})`);
        return `${s.vip} on rig-h${settled.value}; ${url} reached all ${names.size} backends`;
    });

    await check(`vip-failover[${s.stack}]`, async () => {
        const [master] = await vipHolders(s);
        assert(master, "no VIP holder");
        const backup = s.edges.find((h) => h !== master) as number;
        let stopAt = 0;
        let movedAt = 0;
        let done = false;
        const t0 = Date.now();
        const loop = requestLoop(url, 400, 45_000, 100, () => done);
        await sleep(2000);
        stopAt = Date.now();
        await must(dockerOn(master, ["stop", EDGE_CONTAINER]), `stop edge on rig-h${master}`);
        try {
            const moved = await waitFor(
                async () => {
                    const holders = await vipHolders(s);
                    return holders.length === 1 && holders[0] === backup ? true : undefined;
                },
                30_000,
                200,
                150,
            );
            movedAt = Date.now();
            assert(moved.value, `VIP still on rig-h${(await vipHolders(s)).join(",")} 30s after stopping the edge on rig-h${master}`);
            await sleep(4000);
            done = true;
            const samples = await loop;
            const afterStop = samples.filter((x) => t0 + x.t >= stopAt);
            const failedReqs = afterStop.filter((x) => x.status !== 200);
            const lastFail = failedReqs.at(-1);
            const restoredAt = lastFail ? t0 + lastFail.t : stopAt;
            const tail = samples.filter((x) => t0 + x.t > movedAt + 1000);
            assert(
                tail.length > 0 && tail.every((x) => x.status === 200),
                `requests via the VIP still failing after it moved: ${tail.filter((x) => x.status !== 200).length} of ${tail.length}`,
            );
            // A stopping edge drains first, so at most a request caught in VRRP's hand-over fails; an
            // edge that stops serving before the VIP leaves fails every request until keepalived notices.
            assert(
                failedReqs.length <= MAX_FAILED_IN_HANDOVER,
                `${failedReqs.length} requests failed after the stop: the edge stopped serving before its VIP left`,
            );
            const failover = (movedAt - stopAt) / 1000;
            timing(`vip failover[${s.stack}] (edge stopped -> VIP on backup)`, failover);
            timing(`vip service gap[${s.stack}] (edge stopped -> last failed request)`, (restoredAt - stopAt) / 1000);
            return `edge on rig-h${master} stopped -> VIP on rig-h${backup} in ${failover.toFixed(1)}s; ${afterStop.length} requests after the stop, ${failedReqs.length} failed (gap ${((restoredAt - stopAt) / 1000).toFixed(1)}s), all OK after the move`;
        } finally {
            done = true;
            await loop;
        }
    });
    await must(dockerOn(s.edges[0], ["start", EDGE_CONTAINER]), `start edge on rig-h${s.edges[0]}`).catch((e) => info(String(e)));

    await check(`vip-restore[${s.stack}]`, async () => {
        const master = s.edges[0];
        const t0 = Date.now();
        let done = false;
        const loop = requestLoop(url, 400, 40_000, 100, () => done);
        try {
            // The hosts are asked one ssh call each, so one sample can straddle the takeover (the new MASTER
            // has added the VIP, the old one has not yet seen its advert); two samples in a row cannot.
            let bothBefore = false;
            const back = await waitFor(
                async () => {
                    const holders = await vipHolders(s);
                    assert(
                        !(bothBefore && holders.length > 1),
                        `VIP on several hosts at once, in two samples in a row: ${holders.join(", ")}`,
                    );
                    bothBefore = holders.length > 1;
                    return holders.length === 1 && holders[0] === master ? true : undefined;
                },
                30_000,
                200,
                150,
            );
            assert(
                back.value,
                `VIP still on rig-h${(await vipHolders(s)).join(",") || "none"} 30s after the edge on rig-h${master} came back`,
            );
            const failback = (Date.now() - t0) / 1000;
            // Stable: the MASTER keeps it, and requests are served, for a few more seconds.
            for (let i = 0; i < 5; i++) {
                await sleep(1000);
                const holders = await vipHolders(s);
                assert(
                    holders.length === 1 && holders[0] === master,
                    `VIP moved again after failback: holders ${holders.join(",") || "none"}`,
                );
            }
            done = true;
            const samples = await loop;
            const bad = samples.filter((x) => x.status !== 200);
            const tail = samples.slice(-10);
            assert(
                tail.every((x) => x.status === 200),
                `requests via the VIP failing after failback: ${tail.map((x) => x.status).join(",")}`,
            );
            timing(`vip failback[${s.stack}] (edge restarted -> VIP back on the MASTER)`, failback);
            return `edge restarted on rig-h${master}: VIP back on rig-h${master} (MASTER, preempt) in ${failback.toFixed(1)}s and stable for 5s; ${samples.length} requests across the failback, ${bad.length} failed`;
        } finally {
            done = true;
            await loop;
        }
    });
}
