/**
 * CPU cgroups of rig processes. The rig's hosts share the machine's CPUs, each host's containers under
 * its own cgroup parent (hosts.sh's `--cgroup-parent`), so a process started beside a container in the
 * host's namespace but left in the root cgroup would get more CPU than one on that host: the peer proxy
 * joins the edge's host cgroup with the edge's CPU weight, and both proxies' CPU time is read from
 * their cgroups alike.
 * cgroup v1 (the rig machine's: cpu and cpuacct hierarchies) and v2.
 */
import * as fs from "fs";
import * as path from "path";

const CGROUP_ROOT = "/sys/fs/cgroup";

export interface CpuCgroup {
    /** Every hierarchy directory the group has a CPU controller in (v1: cpu and cpuacct; v2: one). */
    dirs: string[];
    /** The file holding the group's CPU time, and its unit. */
    usageFile: string;
    unit: "ns" | "us";
}

/** The CPU cgroup a /proc/<pid>/cgroup text names, or undefined when it names none. */
export function cpuCgroupOf(procCgroup: string): CpuCgroup | undefined {
    const entries = procCgroup
        .trim()
        .split("\n")
        .map((line) => /^\d+:([^:]*):(.*)$/.exec(line))
        .filter((m): m is RegExpExecArray => m !== null)
        .map(([, controllers, group]) => ({ controllers: controllers.split(","), group }));
    const v1 = entries.filter((e) => e.controllers.includes("cpu") || e.controllers.includes("cpuacct"));
    if (v1.length) {
        const accounting = v1.find((e) => e.controllers.includes("cpuacct"));
        if (!accounting) return undefined;
        const dir = (e: { controllers: string[]; group: string }) => path.join(CGROUP_ROOT, e.controllers.join(","), e.group);
        return { dirs: [...new Set(v1.map(dir))], usageFile: path.join(dir(accounting), "cpuacct.usage"), unit: "ns" };
    }
    const unified = entries.find((e) => e.controllers.length === 1 && e.controllers[0] === "");
    if (!unified) return undefined;
    const dir = path.join(CGROUP_ROOT, unified.group);
    return { dirs: [dir], usageFile: path.join(dir, "cpu.stat"), unit: "us" };
}

/** CPU seconds a group has used, from the text of its usage file (`unit` says which file it is). */
export function cpuSecondsFrom(unit: CpuCgroup["unit"], text: string): number {
    if (unit === "ns") return Number(text.trim()) / 1e9;
    const m = /^usage_usec (\d+)$/m.exec(text);
    if (!m) throw new Error(`no usage_usec in: ${text.slice(0, 100)}`);
    return Number(m[1]) / 1e6;
}

export function cpuCgroupOfPid(pid: number): CpuCgroup {
    const g = cpuCgroupOf(fs.readFileSync(`/proc/${pid}/cgroup`, "utf8"));
    if (!g) throw new Error(`process ${pid} is in no CPU cgroup`);
    return g;
}

export const cpuSeconds = (g: CpuCgroup): number => cpuSecondsFrom(g.unit, fs.readFileSync(g.usageFile, "utf8"));

/** The group `name` beside `g` (under the same parent), as docker makes one per container. */
export function siblingCgroup(g: CpuCgroup, name: string): CpuCgroup {
    const beside = (p: string) => path.join(path.dirname(p), name);
    return { dirs: g.dirs.map(beside), usageFile: path.join(beside(path.dirname(g.usageFile)), path.basename(g.usageFile)), unit: g.unit };
}

export function createCgroup(g: CpuCgroup): void {
    for (const d of g.dirs) fs.mkdirSync(d);
}

/** The file holding the CPU weight in one of a group's directories (v1's shares, v2's weight), if it has one. */
const weightFileIn = (dir: string): string | undefined =>
    ["cpu.shares", "cpu.weight"].map((f) => path.join(dir, f)).find((f) => fs.existsSync(f));

/** Gives `to` the CPU weight `from` has, so processes in the two compete for the CPUs alike. */
export function copyCpuWeight(from: CpuCgroup, to: CpuCgroup): void {
    from.dirs.forEach((dir, i) => {
        const source = weightFileIn(dir);
        if (source) fs.writeFileSync(path.join(to.dirs[i], path.basename(source)), fs.readFileSync(source, "utf8").trim());
    });
}

/** The group's CPU weight, as v1's shares or v2's weight, whichever it has. */
export function cpuWeightOf(g: CpuCgroup): number {
    const source = g.dirs.map(weightFileIn).find((f) => f !== undefined);
    if (!source) throw new Error(`no CPU weight in ${g.dirs.join(", ")}`);
    return Number(fs.readFileSync(source, "utf8").trim());
}

/** Moves the process `pid` (with all its threads) into `g`. */
export function enterCgroup(g: CpuCgroup, pid: number): void {
    for (const d of g.dirs) fs.writeFileSync(path.join(d, "cgroup.procs"), String(pid));
}

/** Removes `g`'s directories; they must be empty of processes. */
export function removeCgroup(g: CpuCgroup): void {
    for (const d of g.dirs) if (fs.existsSync(d)) fs.rmdirSync(d);
}
