/** IPv4 address and CIDR arithmetic for config validation. */

export interface Cidr {
    text: string;
    network: number;
    prefix: number;
    broadcast: number;
}

export function parseIpv4(text: string): number | undefined {
    const parts = text.split(".");
    if (parts.length !== 4) return undefined;
    let value = 0;
    for (const part of parts) {
        if (!/^\d{1,3}$/.test(part)) return undefined;
        const octet = Number(part);
        if (octet > 255) return undefined;
        value = value * 256 + octet;
    }
    return value;
}

export function formatIpv4(value: number): string {
    return [24, 16, 8, 0].map((shift) => Math.floor(value / 2 ** shift) % 256).join(".");
}

/** Parses `a.b.c.d/n`; a CIDR with host bits set is rejected so that typos do not pass silently. */
export function parseCidr(text: string): Cidr | undefined {
    const match = /^([^/]+)\/(\d{1,2})$/.exec(text);
    if (!match) return undefined;
    const address = parseIpv4(match[1]);
    const prefix = Number(match[2]);
    if (address === undefined || prefix > 32) return undefined;
    const size = 2 ** (32 - prefix);
    if (address % size !== 0) return undefined;
    return { text, network: address, prefix, broadcast: address + size - 1 };
}

export const cidrContains = (cidr: Cidr, address: number): boolean => address >= cidr.network && address <= cidr.broadcast;

export const cidrsOverlap = (a: Cidr, b: Cidr): boolean => a.network <= b.broadcast && b.network <= a.broadcast;

const PRIVATE_RANGES = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10"].map((c) => parseCidr(c) as Cidr);

export const isPrivateCidr = (cidr: Cidr): boolean =>
    PRIVATE_RANGES.some((range) => cidrContains(range, cidr.network) && cidrContains(range, cidr.broadcast));
