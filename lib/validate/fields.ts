/** The building blocks every topic's validation uses: problems, their collector, and typed readers of raw values. */
import { PlatformModel } from "../model";

/** One thing wrong with the config: which key, what is wrong, and how to fix it. */
export interface Problem {
    key: string;
    message: string;
    fix: string;
}

export const formatProblem = (p: Problem): string => `${p.key}: ${p.message}. Fix: ${p.fix}.`;

export interface ValidationResult {
    model?: PlatformModel;
    errors: Problem[];
    warnings: Problem[];
}

/** Config values as Pulumi hands them over: defaults from Pulumi.yaml merged with the stack's own. */
export type RawConfig = Record<string, unknown>;

export const NAME_PATTERN = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

// Values that land in nginx, keepalived, Consul or a shell on a host take no characters those could read as syntax.
const URL_PATH_PATTERN = /^\/(?:[A-Za-z0-9._~-]+\/?)*$/;

export class Collector {
    readonly errors: Problem[] = [];
    readonly warnings: Problem[] = [];
    error(key: string, message: string, fix: string): void {
        this.errors.push({ key, message, fix });
    }
    warn(key: string, message: string, fix: string): void {
        this.warnings.push({ key, message, fix });
    }
}

export type Obj = Record<string, unknown>;

export const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

export function str(c: Collector, raw: Obj, key: string, label = key): string {
    const v = raw[key];
    if (typeof v === "string" && v.length > 0) return v;
    c.error(
        label,
        v === undefined ? "is missing" : `must be a non-empty string, got ${JSON.stringify(v)}`,
        `set ${label} to a string value`,
    );
    return "";
}

export function optStr(c: Collector, raw: Obj, key: string, label = key): string | undefined {
    const v = raw[key];
    if (v === undefined || v === null || v === "") return undefined;
    if (typeof v === "string") return v;
    c.error(label, `must be a string, got ${JSON.stringify(v)}`, `set ${label} to a string value or remove it`);
    return undefined;
}

export function int(c: Collector, raw: Obj, key: string, min: number, max: number, label = key): number {
    const v = typeof raw[key] === "string" && /^\d+$/.test(raw[key] as string) ? Number(raw[key]) : raw[key];
    if (typeof v === "number" && Number.isInteger(v) && v >= min && v <= max) return v;
    c.error(
        label,
        `must be an integer from ${min} to ${max}, got ${JSON.stringify(raw[key])}`,
        `set ${label} to a value in ${min}..${max}`,
    );
    return min;
}

export const port = (c: Collector, raw: Obj, key: string, label = key): number => int(c, raw, key, 1, 65535, label);

export function bool(c: Collector, raw: Obj, key: string): boolean {
    const v = raw[key];
    if (typeof v === "boolean") return v;
    if (v === "true" || v === "false") return v === "true";
    c.error(key, `must be true or false, got ${JSON.stringify(v)}`, `set ${key} to true or false`);
    return false;
}

export function list(c: Collector, raw: Obj, key: string): Obj[] {
    const v = raw[key] ?? [];
    if (!Array.isArray(v)) {
        c.error(key, "must be a list", `write ${key} as a YAML list of objects`);
        return [];
    }
    return v.map((item, i) => {
        if (isObj(item)) return item;
        c.error(`${key}[${i}]`, "must be an object", `write ${key}[${i}] as a mapping`);
        return {};
    });
}

export function name(c: Collector, raw: Obj, key: string, label: string): string {
    const v = str(c, raw, key, label);
    if (v && !NAME_PATTERN.test(v)) {
        c.error(
            label,
            `"${v}" is not a valid name`,
            "use lowercase letters, digits and dashes, starting and ending with a letter or digit",
        );
    }
    return v;
}

export function urlPath(c: Collector, raw: Obj, key: string, label: string): string {
    const v = str(c, raw, key, label);
    if (v && !URL_PATH_PATTERN.test(v)) {
        c.error(label, `"${v}" is not a plain URL path`, "write it as /segment/segment/ with letters, digits and . _ ~ - only");
    }
    return v;
}

export function checkDistinct(c: Collector, values: string[], what: string, keyOf: (i: number) => string, owner = "host"): void {
    const seen = new Map<string, number>();
    values.forEach((v, i) => {
        if (!v) return;
        const first = seen.get(v);
        if (first === undefined) seen.set(v, i);
        else c.error(keyOf(i), `${what} "${v}" is already used by ${keyOf(first)}`, `give every ${owner} its own ${what}`);
    });
}
