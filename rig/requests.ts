/**
 * Request loops through the edge or the VIP, each bounded in count and time, with the backend that
 * answered each request (whoami's `Name:` line).
 */
import { httpGet, sleep } from "./lib";

/** The backend that served a response, from whoami's `Name:` line. */
export const nameOf = (body: string): string | undefined => /^Name: (.+)$/m.exec(body)?.[1]?.trim();

export interface LoopSample {
    /** Milliseconds since the loop started. */
    t: number;
    status: number;
    name?: string;
    error?: string;
}

/** A bounded request loop: at most `count` requests, at most `durationMs`, `intervalMs` apart; `stop` ends it early. */
export async function requestLoop(
    url: string,
    count: number,
    durationMs: number,
    intervalMs: number,
    stop?: (last: LoopSample) => boolean,
): Promise<LoopSample[]> {
    const out: LoopSample[] = [];
    const t0 = Date.now();
    for (let i = 0; i < count && Date.now() - t0 < durationMs; i++) {
        const r = await httpGet(url, 3000);
        const sample = { t: Date.now() - t0, status: r.status, name: nameOf(r.body), error: r.error };
        out.push(sample);
        if (stop?.(sample)) break;
        await sleep(intervalMs);
    }
    return out;
}

/** Distinct backend names seen over at most `max` requests (stops early once `want` are all seen). */
export async function namesSeen(
    url: string,
    want: string[],
    max: number,
    timeoutMs: number,
): Promise<{ names: Set<string>; statuses: Record<number, number> }> {
    const names = new Set<string>();
    const statuses: Record<number, number> = {};
    const t0 = Date.now();
    for (let i = 0; i < max && Date.now() - t0 < timeoutMs; i++) {
        const r = await httpGet(url, 3000);
        statuses[r.status] = (statuses[r.status] ?? 0) + 1;
        const n = nameOf(r.body);
        if (r.status === 200 && n) names.add(n);
        if (want.every((w) => names.has(w))) break;
        await sleep(50);
    }
    return { names, statuses };
}
