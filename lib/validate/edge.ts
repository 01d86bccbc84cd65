/** The edge: its port, the services it routes, and the VIP two edge hosts share. */
import { cidrContains, parseIpv4 } from "../net";
import { EdgeSpec, HostSpec } from "../model";
import { Collector, RawConfig, checkDistinct, int, list, name, optStr, port, str, urlPath } from "./fields";
import { NamedRange } from "./networks";

const INTERFACE_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$/;

/** The VIP: a free LAN address, neither a host's nor inside a range where Docker hands out addresses. */
function parseVip(c: Collector, raw: RawConfig, hosts: HostSpec[], ranges: NamedRange[]): string | undefined {
    const vip = optStr(c, raw, "edgeVip");
    const vipAddress = vip === undefined ? undefined : parseIpv4(vip);
    if (vip && vipAddress === undefined)
        c.error("edgeVip", `"${vip}" is not an IPv4 address`, "set a free address on the edge hosts' LAN, or leave it empty");
    if (vip && hosts.some((h) => h.address === vip))
        c.error("edgeVip", `${vip} is a host's own address`, "pick a free address for the VIP");
    for (const r of vipAddress === undefined ? [] : ranges.filter((r) => cidrContains(r.cidr, vipAddress))) {
        c.error(
            "edgeVip",
            `${vip} lies inside ${r.key} (${r.cidr.text}), where Docker hands out container addresses`,
            "pick a free address on the edge hosts' LAN",
        );
    }
    return vip;
}

export function parseEdge(c: Collector, raw: RawConfig, hosts: HostSpec[], ranges: NamedRange[]): EdgeSpec {
    const edge = {
        port: port(c, raw, "edgePort"),
        services: list(c, raw, "edgeServices").map((s, i) => ({
            service: name(c, s, "service", `edgeServices[${i}].service`),
            path: urlPath(c, s, "path", `edgeServices[${i}].path`),
        })),
        vip: parseVip(c, raw, hosts, ranges),
        vipInterface: str(c, raw, "edgeVipInterface"),
        vipPrefixLength: int(c, raw, "edgeVipPrefixLength", 1, 32),
        virtualRouterId: int(c, raw, "edgeVirtualRouterId", 1, 255),
    };
    if (edge.vipInterface && !INTERFACE_PATTERN.test(edge.vipInterface)) {
        c.error(
            "edgeVipInterface",
            `"${edge.vipInterface}" is not a network interface name`,
            "give the interface the VIP lives on as `ip -br link` lists it, e.g. eth0 (at most 15 characters)",
        );
    }
    checkDistinct(
        c,
        edge.services.map((s) => s.path),
        "path",
        (i) => `edgeServices[${i}].path`,
        "edge service",
    );
    if (edge.services.length === 0) c.error("edgeServices", "is empty", "route at least one service, e.g. [{service: web, path: /}]");
    return edge;
}
