/**
 * Hardening: unprivileged Consul agents, the platform weighing more on the CPUs than the backends,
 * Consul's API closed to other hosts and to token-less writes, and the secrets the platform put on the
 * hosts (read back from them) kept out of the state and the disk.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { CONSUL_CONFIG_DIR, CONSUL_USER } from "../../render/consul";
import { EDGE_CONTAINER, EDGE_PATHS } from "../../render/edge";
import { filesHolding } from "../../support/files";
import { cpuCgroupOfPid, cpuWeightOf } from "../bench/cgroup";
import { RIG_KEY, curlFromHost, dockerOn, hostAddress, must } from "../lib";
import { CliStack } from "../pulumi";
import { assert, check } from "../report";
import { Scenario } from "../scenario";
import { CatalogEntry, agentAclTokens, consulJson, consulPut, managementToken } from "../clients/consul";

const CONSUL_UID = CONSUL_USER.split(":")[0];

/** Every Consul agent's process runs as the consul user (uid 100) with no effective capability. */
export async function checkConsulUnprivileged(s: Scenario): Promise<void> {
    await check(`consul-unprivileged[${s.stack}]`, async () => {
        const seen: string[] = [];
        for (const h of s.hosts) {
            const pid = (await must(dockerOn(h, ["inspect", "consul", "-f", "{{.State.Pid}}"]), `inspect consul on rig-h${h}`)).trim();
            const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
            const uid = /^Uid:\s+(\d+)/m.exec(status)?.[1];
            const caps = /^CapEff:\s+([0-9a-f]+)/m.exec(status)?.[1];
            assert(
                uid === CONSUL_UID && caps && /^0+$/.test(caps),
                `rig-h${h}'s consul (pid ${pid}) runs as uid ${uid} with CapEff ${caps}`,
            );
            seen.push(`rig-h${h}`);
        }
        return `the agents on ${seen.join(", ")} run as uid ${CONSUL_UID} with no effective capability; DNS reaches them through the host's redirect (service-dns)`;
    });
}

/** As the kernel sees it, on every host: each platform container weighs more on the CPUs than any backend. */
export async function checkCpuWeights(s: Scenario): Promise<void> {
    const backend = new RegExp(`^${s.model.backends.service}-\\d+$`);
    await check(`cpu-weight[${s.stack}]`, async () => {
        const seen: string[] = [];
        for (const h of s.hosts) {
            const names = (await must(dockerOn(h, ["ps", "--format", "{{.Names}}"]), `docker ps on rig-h${h}`)).split("\n").filter(Boolean);
            const weights = new Map<string, number>();
            for (const name of names) {
                const pid = Number(await must(dockerOn(h, ["inspect", name, "-f", "{{.State.Pid}}"]), `inspect ${name} on rig-h${h}`));
                weights.set(name, cpuWeightOf(cpuCgroupOfPid(pid)));
            }
            const backends = names.filter((n) => backend.test(n));
            const platform = names.filter((n) => !backend.test(n));
            if (!backends.length) continue;
            const heaviestBackend = Math.max(...backends.map((n) => weights.get(n) as number));
            const light = platform.filter((n) => (weights.get(n) as number) <= heaviestBackend);
            assert(
                platform.length && !light.length,
                `rig-h${h}: ${light.map((n) => `${n} ${weights.get(n)}`).join(", ") || "no platform container"} against backends at ${heaviestBackend}`,
            );
            seen.push(
                `rig-h${h} ${platform.length} platform containers at ${[...new Set(platform.map((n) => weights.get(n)))].join("/")}, ${backends.length} backends at ${heaviestBackend}`,
            );
        }
        assert(seen.length, "no host runs a backend");
        return seen.join("; ");
    });
}

/**
 * Consul's HTTP API listens on each host's loopback only: another rig host trying to register a `web`
 * instance at a server's address gets no connection; on the host itself ACLs refuse it without a token.
 */
export async function checkConsulApiClosed(s: Scenario): Promise<void> {
    await check(`consul-api-closed[${s.stack}]`, async () => {
        const target = s.consulServers[0];
        const from = [1, 2, 3].find((h) => h !== target) as number;
        const forged = JSON.stringify({ Name: s.model.backends.service, ID: "forged", Address: "10.77.0.99", Port: 80 });
        const r = await curlFromHost(from, `http://${hostAddress(target)}:${s.model.consul.httpPort}/v1/agent/service/register`, {
            method: "PUT",
            data: forged,
        });
        assert(r.error && r.status === 0, `rig-h${from} reached rig-h${target}'s Consul API: HTTP ${r.status}`);
        // On the host itself, ACLs (default deny) refuse a registration without a token; the management token may.
        const anonymous = await consulPut(target, "/v1/agent/service/register", forged);
        assert(anonymous === 403, `a token-less registration on rig-h${target}'s loopback: HTTP ${anonymous}, want 403`);
        const tokens = await consulPut(target, "/v1/acl/token", "{}");
        assert(tokens === 403, `a token-less ACL token creation: HTTP ${tokens}, want 403`);
        const management = await managementToken(s);
        const managed = await consulPut(target, "/v1/agent/service/register", forged, management);
        await consulPut(target, "/v1/agent/service/deregister/forged", "", management);
        assert(managed === 200, `the management token's registration: HTTP ${managed}`);
        const entries = (await consulJson<CatalogEntry[]>(`/v1/catalog/service/${s.model.backends.service}`, target)) ?? [];
        assert(!entries.some((e) => e.ServiceAddress === "10.77.0.99"), "the forged instance is still in the catalog");
        return `a registration PUT from rig-h${from} to ${hostAddress(target)}:${s.model.consul.httpPort} gets no connection (${r.error}); on rig-h${target}'s loopback without a token: HTTP ${anonymous} (and ${tokens} for an ACL token), with the management token: ${managed}`;
    });
}

/**
 * The secrets the platform put on the hosts, read back from the hosts themselves: the swarm's join
 * tokens, the Consul gossip key, the Consul tokens and the SSH key the program logged in with.
 */
export async function secretsOnHosts(s: Scenario, sshKeyFile?: string): Promise<Record<string, string[]>> {
    const manager = s.managers[0];
    const token = async (role: string) => (await dockerOn(manager, ["swarm", "join-token", "-q", role])).stdout.trim();
    const fileIn = async (h: number, container: string, file: string) => (await dockerOn(h, ["exec", container, "cat", file])).stdout;
    const gossip = /"encrypt"\s*:\s*"([^"]+)"/.exec(await fileIn(manager, "consul", `${CONSUL_CONFIG_DIR}/agent.json`))?.[1];
    const registratorEnv = (await dockerOn(s.hosts[0], ["inspect", "registrator", "-f", "{{range .Config.Env}}{{println .}}{{end}}"]))
        .stdout;
    const templateToken = /token\s*=\s*"([^"]+)"/.exec(await fileIn(s.edges[0], EDGE_CONTAINER, EDGE_PATHS.consulTemplateConfig))?.[1];
    const secrets: Record<string, string[]> = {
        "swarm join tokens": (await Promise.all(["manager", "worker"].map(token))).filter(Boolean),
        "Consul gossip key": gossip ? [gossip] : [],
        "Consul ACL tokens": Object.values(await agentAclTokens(s.consulServers[0])),
        "registrator's Consul token": [/^CONSUL_HTTP_TOKEN=(.+)$/m.exec(registratorEnv)?.[1]].filter((t): t is string => Boolean(t)),
        "consul-template's Consul token": templateToken ? [templateToken] : [],
    };
    if (sshKeyFile) {
        // The key's base64 body lines: any of them in the state would be the key in plain text.
        secrets["SSH private key"] = fs
            .readFileSync(sshKeyFile, "utf8")
            .split("\n")
            .filter((l) => /^[A-Za-z0-9+/=]{40,}$/.test(l));
    }
    return secrets;
}

/** The secret sshPrivateKey reached the hosts (rig-multi's rig-h3 has no key file) without being written to a file. */
export async function checkNoKeyOnDisk(stack: CliStack): Promise<void> {
    await check(`no-key-on-disk[${stack.label}]`, async () => {
        // The second line of every unencrypted OpenSSH ed25519 key is the same header; the third is this key's own.
        const keyLine = fs.readFileSync(RIG_KEY, "utf8").split("\n")[2];
        const found = [os.tmpdir(), stack.projectDir, path.join(os.homedir(), ".ssh")].flatMap((d) =>
            fs.existsSync(d) ? filesHolding(d, keyLine) : [],
        );
        assert(found.length === 0, `the private key is in ${found.join(", ")}`);
        return `no file in ${os.tmpdir()}, the project or ~/.ssh holds the private key`;
    });
}
