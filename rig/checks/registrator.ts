/**
 * registrator: every backend registered and passing, a stopped one deregistered and back; and the
 * Docker API proxy it reads the engine through, the only engine access it has.
 */
import { DOCKER_PROXY_DIR } from "../../render/dockerProxy";
import { BASE_IMAGE, dockerOn, must, waitFor } from "../lib";
import { assert, check } from "../report";
import { Scenario, backendHost, backendName } from "../scenario";
import { catalogCount, catalogEntries, waitBackends } from "../clients/consul";

export async function checkRegistrator(s: Scenario): Promise<void> {
    await check(`registrator[${s.stack}]`, async () => {
        const ms = await waitBackends(s, s.replicas);
        const entries = (await catalogEntries(s)) ?? [];
        const where = entries.map((e) => `${e.ServiceAddress}:${e.ServicePort}`).sort();
        const victim = 2;
        const vh = backendHost(s, victim);
        await must(dockerOn(vh, ["stop", backendName(s, victim)]), `stop ${backendName(s, victim)}`);
        let gone;
        try {
            gone = await waitFor(async () => ((await catalogCount(s)) === s.replicas - 1 ? true : undefined), 30_000, 500, 60);
        } finally {
            await dockerOn(vh, ["start", backendName(s, victim)]);
        }
        assert(
            gone.value,
            `${backendName(s, victim)} stopped on rig-h${vh} but the catalog still has ${await catalogCount(s)} web instances after 30s`,
        );
        const back = await waitBackends(s, s.replicas);
        return `${s.replicas} web instances registered and passing after ${(ms / 1000).toFixed(1)}s (${where.join(" ")}); ${backendName(s, victim)} stopped -> deregistered in ${(gone.ms / 1000).toFixed(1)}s, started -> back in ${(back / 1000).toFixed(1)}s`;
    });
}

/**
 * registrator holds no engine socket, only the proxy's: through that socket, from a container given
 * nothing else, the reads registrator makes pass and every write, exec, copy and other read is 403.
 */
export async function checkDockerProxy(s: Scenario): Promise<void> {
    await check(`docker-proxy[${s.stack}]`, async () => {
        const h = s.hosts[s.hosts.length - 1];
        const mounts = (
            await must(
                dockerOn(h, ["inspect", "registrator", "-f", "{{range .Mounts}}{{.Type}} {{.Name}} {{.Destination}};{{end}}"]),
                "inspect registrator",
            )
        ).trim();
        const volume = new RegExp(`^volume (registrator-docker-proxy-\\S+) ${DOCKER_PROXY_DIR};$`).exec(mounts)?.[1];
        assert(volume, `registrator's mounts are "${mounts}", want only the proxy's volume at ${DOCKER_PROXY_DIR}`);
        const status = async (method: string, p: string) =>
            (
                await dockerOn(h, [
                    "run",
                    "--rm",
                    "--network",
                    "none",
                    "-v",
                    `${volume}:/p:ro`,
                    BASE_IMAGE,
                    "curl",
                    "-s",
                    "-m",
                    "5",
                    "-o",
                    "/dev/null",
                    "-w",
                    "%{http_code}",
                    "-X",
                    method,
                    "--unix-socket",
                    "/p/docker.sock",
                    `http://engine${p}`,
                ])
            ).stdout.trim();
        const passed: [string, string][] = [
            ["GET", "/_ping"],
            ["GET", "/v1.41/containers/json"],
            ["GET", "/containers/registrator/json"],
            ["GET", "/info"],
            ["GET", "/events?since=0&until=1"],
        ];
        const refused: [string, string][] = [
            ["POST", "/containers/create"],
            ["POST", "/containers/registrator/exec"],
            ["GET", "/containers/registrator/archive?path=/etc"],
            ["DELETE", `/containers/${backendName(s, 1)}`],
            ["POST", `/containers/${backendName(s, 1)}/stop`],
            ["GET", "/images/json"],
            ["GET", "/containers/registrator/logs"],
        ];
        const wrong: string[] = [];
        for (const [want, requests] of [
            ["200", passed],
            ["403", refused],
        ] as const) {
            for (const [method, p] of requests) {
                const code = await status(method, p);
                if (code !== want) wrong.push(`${method} ${p} -> ${code}, want ${want}`);
            }
        }
        assert(wrong.length === 0, wrong.join("; "));
        return `rig-h${h}: registrator mounts only ${volume}; through its socket ${passed.length} reads pass (200) and ${refused.length} other requests (create, exec, archive, delete, stop, images, logs) get 403`;
    });
}
