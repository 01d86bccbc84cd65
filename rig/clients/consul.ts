/**
 * The rig's client of Consul's HTTP API. Every request is made from inside a rig host's network
 * namespace to the agent on its loopback, the only address the API listens on by default. Reads need no
 * token (the agents' default token reads); writes carry the token a check gives, or none.
 */
import { projectConfigDefaults } from "../../lib/defaults";
import { CONSUL_CONFIG_DIR } from "../../render/consul";
import { HttpResult, curlFromHost, dockerOn, waitFor } from "../lib";
import { assert } from "../report";
import { Scenario } from "../scenario";

const API = `http://127.0.0.1:${Number(projectConfigDefaults().consulHttpPort)}`;

/** A GET on rig-h<host>'s agent. */
export const consulGet = (p: string, host = 1): Promise<HttpResult> => curlFromHost(host, `${API}${p}`);

/** A GET's JSON body; undefined unless the agent answered 200 with JSON. */
export async function consulJson<T>(p: string, host = 1): Promise<T | undefined> {
    const r = await consulGet(p, host);
    if (r.status !== 200) return undefined;
    try {
        return JSON.parse(r.body) as T;
    } catch {
        return undefined;
    }
}

/** A PUT to rig-h<host>'s agent, with a token or none; the HTTP status, 0 when nothing answered. */
export const consulPut = async (host: number, p: string, body: string, token?: string): Promise<number> =>
    (
        await curlFromHost(host, `${API}${p}`, {
            method: "PUT",
            data: body,
            headers: token ? [`X-Consul-Token: ${token}`] : [],
        })
    ).status;

/** The ACL tokens in the config of rig-h<h>'s agent (initial_management on servers only). */
export async function agentAclTokens(h: number): Promise<Record<string, string>> {
    const config = (await dockerOn(h, ["exec", "consul", "cat", `${CONSUL_CONFIG_DIR}/agent.json`])).stdout;
    try {
        return (JSON.parse(config) as { acl?: { tokens?: Record<string, string> } }).acl?.tokens ?? {};
    } catch {
        return {};
    }
}

/** The management token, from the first Consul server's config. */
export async function managementToken(s: Scenario): Promise<string> {
    const token = (await agentAclTokens(s.consulServers[0])).initial_management;
    assert(token, `no management token in rig-h${s.consulServers[0]}'s Consul config`);
    return token;
}

export interface Member {
    Name: string;
    /** Serf's member status: see MEMBER_STATUS. */
    Status: number;
}
/** Serf's member states, as /v1/agent/members numbers them. */
const MEMBER_STATUS: Record<number, string> = { 0: "none", 1: "alive", 2: "leaving", 3: "left", 4: "failed" };

/** rig-h<h>'s state in rig-h<from>'s member list: "gone" when it is not listed, "unknown" when the list cannot be read. */
export async function memberStatus(h: number, from: number): Promise<string> {
    const members = await consulJson<Member[]>("/v1/agent/members", from);
    if (!members) return "unknown";
    const m = members.find((x) => x.Name === `rig-h${h}`);
    return m ? (MEMBER_STATUS[m.Status] ?? String(m.Status)) : "gone";
}

/** rig-h<from>'s member list; throws when the answer is not JSON. */
export const members = async (from: number): Promise<Member[]> =>
    JSON.parse((await consulGet("/v1/agent/members", from)).body || "[]") as Member[];

/** The Raft peers (address:port) a Consul server knows; throws when the answer is not JSON. */
export const raftPeers = async (from: number): Promise<string[]> =>
    JSON.parse((await consulGet("/v1/status/peers", from)).body || "[]") as string[];

/**
 * The leader rig-h<h>'s agent names within a second: `leader` is "" when it names none or does not
 * answer; `answer` says which, for a report.
 */
export const leaderOf = async (h: number): Promise<{ leader: string; answer: string }> => {
    const r = await curlFromHost(h, `${API}/v1/status/leader`, { timeoutMs: 1000 });
    if (r.status !== 200) return { leader: "", answer: `rig-h${h} ${r.status ? `HTTP ${r.status}` : `no answer (${r.error})`}` };
    const leader = JSON.parse(r.body) as string;
    return { leader, answer: `rig-h${h} ${leader ? `names ${leader}` : "names no leader"}` };
};

/** A line saying so when a leader is named and every host of the scenario is an alive member, as rig-h<from> sees it. */
export async function consulHealthy(s: Scenario, from = s.consulServers[0]): Promise<string | undefined> {
    const leader = await consulJson<string>("/v1/status/leader", from);
    const listed = await consulJson<Member[]>("/v1/agent/members", from);
    if (!leader || !listed) return undefined;
    const alive = listed
        .filter((m) => m.Status === 1)
        .map((m) => m.Name)
        .sort();
    const want = s.hosts.map((h) => `rig-h${h}`);
    return want.every((w) => alive.includes(w)) && listed.length === want.length
        ? `leader ${leader}, members alive: ${alive.join(", ")}`
        : undefined;
}

export interface CatalogEntry {
    ServiceAddress: string;
    ServicePort: number;
    ServiceID: string;
}

/** The backend service's catalog entries, as the first Consul server lists them. */
export const catalogEntries = async (s: Scenario): Promise<CatalogEntry[] | undefined> =>
    consulJson<CatalogEntry[]>(`/v1/catalog/service/${s.model.backends.service}`, s.consulServers[0]);

export const catalogCount = async (s: Scenario): Promise<number | undefined> => (await catalogEntries(s))?.length;

/** How many backend instances rig-h<from>'s health view lists (`query`: passing, or passing&stale for the agent's own view). */
export const passingCount = async (s: Scenario, from = s.consulServers[0], query = "passing"): Promise<number | undefined> =>
    (await consulJson<unknown[]>(`/v1/health/service/${s.model.backends.service}?${query}`, from))?.length;

/** The backend instances whose checks pass, as Consul hands them to the edge. */
export async function passingInstances(s: Scenario): Promise<{ address: string; port: number }[]> {
    const entries = await consulJson<{ Service: { Address: string; Port: number } }[]>(
        `/v1/health/service/${s.model.backends.service}?passing`,
        s.consulServers[0],
    );
    return (entries ?? []).map((e) => ({ address: e.Service.Address, port: e.Service.Port }));
}

/** Waits until the catalog and the passing health view both hold `n` backend instances; the milliseconds it took. */
export async function waitBackends(s: Scenario, n: number, timeoutMs = 60_000): Promise<number> {
    const r = await waitFor(
        async () => ((await catalogCount(s)) === n && (await passingCount(s)) === n ? true : undefined),
        timeoutMs,
        1000,
        120,
    );
    assert(
        r.value,
        `${s.model.backends.service} did not reach ${n} registered and passing instances within ${timeoutMs / 1000}s (catalog ${await catalogCount(s)}, passing ${await passingCount(s)})`,
    );
    return r.ms;
}
