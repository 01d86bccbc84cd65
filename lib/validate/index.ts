/**
 * Stack config into the typed model (lib/model.ts), or into every problem at once: each says which
 * key, what is wrong and how to fix it, so a person fixes the config in one pass, before any host is
 * touched. One module per topic; this one composes them and checks what spans topics.
 */
import { dnsListenPort } from "../consul";
import { PlatformModel, byHostName } from "../model";
import { Collector, RawConfig, ValidationResult, bool, checkDistinct } from "./fields";
import { parseEdge } from "./edge";
import { parseHosts, validateRoles } from "./hosts";
import { NamedRange, checkOverlaps, parseFlows, parseGwBridge, parseOverlay, parseSwarm, parseTiers } from "./networks";
import { checkHostPorts, parseBackends, parseConsul, parseImages } from "./services";

export { Problem, RawConfig, ValidationResult, formatProblem } from "./fields";
export { localPath, parseHostKey } from "./hosts";
export { SwarmFixedSettings, swarmFixedSettings, unchangeableProblems } from "./unchangeable";

export function validateConfig(raw: RawConfig, stack: string): ValidationResult {
    const c = new Collector();
    const hosts = parseHosts(c, raw);
    const ranges: NamedRange[] = [];
    const overlay = parseOverlay(c, raw, ranges);
    const gwbridge = parseGwBridge(c, raw, ranges);
    const swarm = parseSwarm(c, raw, ranges);
    const tiers = parseTiers(c, raw, ranges);
    checkDistinct(
        c,
        tiers.map((t) => t.name),
        "name",
        (i) => `tiers[${i}].name`,
        "tier",
    );
    const flows = parseFlows(c, raw, tiers);
    checkOverlaps(c, ranges, hosts);
    const images = parseImages(c, raw);
    const consul = parseConsul(c, raw, hosts);
    const edge = parseEdge(c, raw, hosts, ranges);
    const backends = parseBackends(c, raw);
    validateRoles(c, hosts, edge.vip);
    checkHostPorts(c, [
        // Below 1024 the unprivileged agent listens on 8600 and the host redirects: that port is taken too.
        ...(dnsListenPort(consul.dnsPort) !== consul.dnsPort
            ? [["Consul's DNS listener (consulDnsPort is below 1024)", dnsListenPort(consul.dnsPort)] as [string, number]]
            : []),
        ["edgePort", edge.port],
        ["consulHttpPort", consul.httpPort],
        ["consulDnsPort", consul.dnsPort],
        ["swarmDataPathPort", swarm.dataPathPort],
    ]);
    const registrator = { internalAddresses: bool(c, raw, "registratorInternalAddresses") };
    const protectData = bool(c, raw, "protectData");
    if (c.errors.length > 0) return { errors: c.errors, warnings: c.warnings };
    // Ordered by name, not by their place in the list: which manager initialises the swarm, which edge is
    // MASTER and where backends go then follow the hosts themselves, so reordering the list changes nothing.
    const model: PlatformModel = {
        stack,
        protectData,
        hosts: [...hosts].sort(byHostName),
        overlay,
        gwbridge,
        swarm,
        tiers,
        flows,
        images,
        consul,
        registrator,
        edge,
        backends,
    };
    return { model, errors: [], warnings: c.warnings };
}
