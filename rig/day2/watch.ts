/**
 * The watch every day-2 change runs under: a client sends requests through the VIP the whole time
 * (retrying a failed one once, as idempotent clients do), every Consul server is asked for the leader,
 * and every host for the VIP. Each check's line says how long `up` took, the failed requests, the
 * seconds without a leader and how often the VIP was on two hosts.
 */
import { httpGet, sleep } from "../lib";
import { PulumiRun, StackCli } from "../pulumi";
import { assert } from "../report";
import { Scenario } from "../scenario";
import { leaderOf } from "../clients/consul";
import { vipHolders } from "../checks/vip";

const REQUEST_INTERVAL_MS = 50;
const LEADER_POLL_MS = 200;
const VIP_POLL_MS = 200;
// Bounds of the watch, whatever `up` does: about 5 minutes of requests and leader polls.
const MAX_REQUESTS = 6000;
const MAX_LEADER_POLLS = 1500;
const MAX_VIP_POLLS = 1500;

export interface WatchResult {
    requests: number;
    /** Requests that failed on the first try. */
    failedRaw: number;
    /** Requests that failed again when retried once. */
    failed: number;
    /** Seconds during which no server named a leader. */
    leaderlessSeconds: number;
    /** Each poll in which no server named a leader: when (seconds into the watch) and what each server answered. */
    leaderlessPolls: string[];
    /** The leaders named, in order of appearance. */
    leaders: string[];
    vipPolls: number;
    /** Polls that found the VIP on more than one host, and the longest run of them in a row. */
    splitVipPolls: number;
    splitVipRun: number;
}

/** Starts the client, the leader poll and the VIP holder poll; `stop` ends them and says what they saw. */
export function watchService(s: Scenario): { stop: () => Promise<WatchResult> } {
    const url = `http://${s.vip}:${s.edgePort}/`;
    let done = false;
    const client = (async () => {
        const seen = { requests: 0, failedRaw: 0, failed: 0 };
        for (let i = 0; i < MAX_REQUESTS && !done; i++) {
            seen.requests++;
            if ((await httpGet(url, 2000)).status !== 200) {
                seen.failedRaw++;
                if ((await httpGet(url, 2000)).status !== 200) seen.failed++;
            }
            await sleep(REQUEST_INTERVAL_MS);
        }
        return seen;
    })();
    const poll = (async () => {
        const seen = { leaderlessMs: 0, leaders: [] as string[], leaderlessPolls: [] as string[] };
        const t0 = Date.now();
        let last = t0;
        for (let i = 0; i < MAX_LEADER_POLLS && !done; i++) {
            const answers = await Promise.all(s.consulServers.map(leaderOf));
            const named = answers.map((a) => a.leader).filter(Boolean);
            const now = Date.now();
            if (named.length === 0) {
                seen.leaderlessMs += now - last;
                seen.leaderlessPolls.push(`${((now - t0) / 1000).toFixed(1)}s: ${answers.map((a) => a.answer).join(", ")}`);
            }
            for (const l of named) if (seen.leaders[seen.leaders.length - 1] !== l) seen.leaders.push(l);
            last = now;
            await sleep(LEADER_POLL_MS);
        }
        return seen;
    })();
    const vip = (async () => {
        const seen = { vipPolls: 0, splitVipPolls: 0, splitVipRun: 0 };
        let run = 0;
        for (let i = 0; i < MAX_VIP_POLLS && !done; i++) {
            const split = (await vipHolders(s, s.hosts)).length > 1;
            seen.vipPolls++;
            run = split ? run + 1 : 0;
            if (split) seen.splitVipPolls++;
            seen.splitVipRun = Math.max(seen.splitVipRun, run);
            await sleep(VIP_POLL_MS);
        }
        return seen;
    })();
    return {
        stop: async () => {
            done = true;
            const [c, p, v] = await Promise.all([client, poll, vip]);
            return {
                ...c,
                ...v,
                leaderlessSeconds: p.leaderlessMs / 1000,
                leaderlessPolls: p.leaderlessPolls,
                leaders: [...new Set(p.leaders)],
            };
        },
    };
}

export const describe = (r: PulumiRun, w: WatchResult, changed: string): string =>
    `up ${r.seconds.toFixed(1)}s; ${changed}; ${w.requests} requests, ${w.failed} failed after one retry (${w.failedRaw} raw); ${w.leaderlessSeconds.toFixed(1)}s without a Consul leader (leaders: ${w.leaders.join(" -> ")}); VIP on two hosts in ${w.splitVipPolls} of ${w.vipPolls} polls (${w.splitVipRun} in a row at most)`;

/** `pulumi up` with `args` while the service is watched; the watch goes on 2 s past the end of `up`. */
export async function watchedUp(stack: StackCli, s: Scenario, args: string[]): Promise<{ r: PulumiRun; w: WatchResult }> {
    const watch = watchService(s);
    let r: PulumiRun;
    try {
        r = await stack.cli("up", args);
    } finally {
        await sleep(2000);
    }
    return { r, w: await watch.stop() };
}

/** Fails the check unless `up` succeeded with nothing failed and a leader throughout. */
export function assertUndisturbed(r: PulumiRun, w: WatchResult, line: string): void {
    assert(
        r.code === 0,
        `up exit ${r.code}: ${r.output
            .split("\n")
            .filter((l) => /error/.test(l))
            .slice(0, 4)
            .join(" / ")}; ${line}`,
    );
    assert(w.failed === 0, `${w.failed} requests failed after a retry; ${line}`);
    assert(
        w.leaderlessSeconds === 0,
        `no leader for ${w.leaderlessSeconds.toFixed(1)}s (${w.leaderlessPolls.slice(0, 5).join("; ")}); ${line}`,
    );
    // A VRRP hand-over can leave the old MASTER holding the VIP for the moment it takes to hear the
    // new one, which one poll may catch; two in a row (about a second) are two MASTERs.
    assert(w.splitVipRun < 2, `the VIP was on two hosts in ${w.splitVipRun} polls in a row; ${line}`);
}
