/** The address plan: overlay, docker_gwbridge, the swarm's pool and the tiers, none overlapping another or a host. */
import { Cidr, cidrContains, cidrsOverlap, formatIpv4, isPrivateCidr, parseCidr, parseIpv4 } from "../net";
import { FlowProtocol, FlowSpec, GwBridgeSpec, HostSpec, OverlaySpec, SwarmSpec, TierSpec } from "../model";
import { Collector, RawConfig, bool, int, list, name, port, str } from "./fields";

/** A labelled subnet, collected so every pair can be checked for overlap. */
export interface NamedRange {
    key: string;
    cidr: Cidr;
}

export function subnetWithGateway(c: Collector, subnetKey: string, subnet: string, gatewayKey: string, gateway: string): Cidr | undefined {
    const cidr = parseCidr(subnet);
    if (!cidr) {
        c.error(subnetKey, `"${subnet}" is not a valid IPv4 CIDR`, "write it as a.b.c.d/n with no host bits set, e.g. 10.10.0.0/16");
        return undefined;
    }
    if (!isPrivateCidr(cidr)) {
        c.warn(
            subnetKey,
            `${subnet} is not in private address space, so it shadows public addresses`,
            "pick a subnet inside 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16",
        );
    }
    const gw = parseIpv4(gateway);
    if (gw === undefined) {
        c.error(gatewayKey, `"${gateway}" is not a valid IPv4 address`, `set ${gatewayKey} to an address inside ${subnet}`);
    } else if (!cidrContains(cidr, gw)) {
        c.error(gatewayKey, `${gateway} is outside ${subnet}`, `set ${gatewayKey} to an address inside ${subnet}`);
    } else if (cidr.prefix < 31 && (gw === cidr.network || gw === cidr.broadcast)) {
        c.error(
            gatewayKey,
            `${gateway} is the ${gw === cidr.network ? "network" : "broadcast"} address of ${subnet}`,
            `use a usable address such as ${formatIpv4(cidr.network + 1)}`,
        );
    }
    return cidr;
}

export function parseTiers(c: Collector, raw: RawConfig, ranges: NamedRange[]): TierSpec[] {
    return list(c, raw, "tiers").map((t, i) => {
        const key = `tiers[${i}]`;
        const tier = {
            name: name(c, t, "name", `${key}.name`),
            subnet: str(c, t, "subnet", `${key}.subnet`),
            gateway: str(c, t, "gateway", `${key}.gateway`),
        };
        if (tier.name.length > 12)
            c.error(
                `${key}.name`,
                `"${tier.name}" is longer than 12 characters`,
                "shorten it: the bridge is named br-<tier> and Linux allows 15 characters",
            );
        const cidr =
            tier.subnet && tier.gateway ? subnetWithGateway(c, `${key}.subnet`, tier.subnet, `${key}.gateway`, tier.gateway) : undefined;
        if (cidr) ranges.push({ key: `${key}.subnet`, cidr });
        return tier;
    });
}

export function parseFlows(c: Collector, raw: RawConfig, tiers: TierSpec[]): FlowSpec[] {
    const tierNames = new Set(tiers.map((t) => t.name));
    return list(c, raw, "flows").map((f, i) => {
        const key = `flows[${i}]`;
        const flow: FlowSpec = {
            from: str(c, f, "from", `${key}.from`),
            to: str(c, f, "to", `${key}.to`),
            port: port(c, f, "port", `${key}.port`),
            protocol: (f.protocol ?? "tcp") as FlowProtocol,
        };
        for (const end of ["from", "to"] as const) {
            if (flow[end] && !tierNames.has(flow[end])) {
                c.error(
                    `${key}.${end}`,
                    `names tier "${flow[end]}", which is not defined`,
                    `define it under tiers or use one of ${[...tierNames].join(", ") || "(no tiers defined)"}`,
                );
            }
        }
        if (flow.from && flow.from === flow.to)
            c.error(key, "goes from a tier to itself", "containers on one bridge already reach each other; remove the flow");
        if (flow.protocol !== "tcp" && flow.protocol !== "udp")
            c.error(`${key}.protocol`, `unknown protocol ${JSON.stringify(f.protocol)}`, "use tcp or udp");
        return flow;
    });
}

export function checkOverlaps(c: Collector, ranges: NamedRange[], hosts: HostSpec[]): void {
    for (let i = 0; i < ranges.length; i++) {
        for (let j = i + 1; j < ranges.length; j++) {
            if (cidrsOverlap(ranges[i].cidr, ranges[j].cidr)) {
                c.error(
                    ranges[j].key,
                    `${ranges[j].cidr.text} overlaps ${ranges[i].key} (${ranges[i].cidr.text})`,
                    "pick subnets that do not overlap",
                );
            }
        }
    }
    hosts.forEach((h, i) => {
        const address = parseIpv4(h.address);
        if (address === undefined) return;
        for (const r of ranges) {
            if (cidrContains(r.cidr, address)) {
                c.error(
                    r.key,
                    `${r.cidr.text} contains hosts[${i}].address ${h.address}`,
                    "pick a subnet that does not contain the hosts' own addresses",
                );
            }
        }
    });
}

/** The overlay (seed 001): a fixed subnet and gateway; its range joins `ranges`. */
export function parseOverlay(c: Collector, raw: RawConfig, ranges: NamedRange[]): OverlaySpec {
    const overlay = {
        name: name(c, raw, "overlayName", "overlayName"),
        subnet: str(c, raw, "overlaySubnet"),
        gateway: str(c, raw, "overlayGateway"),
        attachable: bool(c, raw, "overlayAttachable"),
        encrypted: bool(c, raw, "overlayEncrypted"),
    };
    addRange(ranges, "overlaySubnet", subnetWithGateway(c, "overlaySubnet", overlay.subnet, "overlayGateway", overlay.gateway));
    return overlay;
}

/** docker_gwbridge, the same subnet on every node; its range joins `ranges`. */
export function parseGwBridge(c: Collector, raw: RawConfig, ranges: NamedRange[]): GwBridgeSpec {
    const gwbridge = {
        subnet: str(c, raw, "gwbridgeSubnet"),
        gateway: str(c, raw, "gwbridgeGateway"),
        allowRebuild: bool(c, raw, "gwbridgeAllowRebuild"),
    };
    addRange(ranges, "gwbridgeSubnet", subnetWithGateway(c, "gwbridgeSubnet", gwbridge.subnet, "gwbridgeGateway", gwbridge.gateway));
    return gwbridge;
}

/** What `swarm init` fixes: the pool swarm networks come from and the VXLAN port; the pool joins `ranges`. */
export function parseSwarm(c: Collector, raw: RawConfig, ranges: NamedRange[]): SwarmSpec {
    const swarm = {
        defaultAddressPool: str(c, raw, "swarmAddressPool"),
        defaultAddressPoolMaskLength: int(c, raw, "swarmAddressPoolMaskLength", 8, 29),
        dataPathPort: int(c, raw, "swarmDataPathPort", 1024, 49151),
    };
    const pool = parseCidr(swarm.defaultAddressPool);
    if (!pool)
        c.error("swarmAddressPool", `"${swarm.defaultAddressPool}" is not a valid IPv4 CIDR`, "write it as a.b.c.d/n, e.g. 10.20.0.0/16");
    else if (pool.prefix > swarm.defaultAddressPoolMaskLength) {
        c.error(
            "swarmAddressPoolMaskLength",
            `/${swarm.defaultAddressPoolMaskLength} is wider than the pool ${pool.text}`,
            `use a mask length of at least ${pool.prefix}`,
        );
    }
    addRange(ranges, "swarmAddressPool", pool);
    return swarm;
}

const addRange = (ranges: NamedRange[], key: string, cidr: Cidr | undefined): void => {
    if (cidr) ranges.push({ key, cidr });
};
