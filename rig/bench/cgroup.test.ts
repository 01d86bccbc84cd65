import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { CpuCgroup, copyCpuWeight, cpuCgroupOf, cpuSecondsFrom, cpuWeightOf, siblingCgroup } from "./cgroup";

// /proc/<pid>/cgroup of an edge container on the rig (cgroup v1, cpu and cpuacct mounted apart), of a
// process on a systemd host with the two controllers mounted together, and on a cgroup v2 host.
const RIG_V1 = `9:name=systemd:/swarm-platform-rig-h1/f634c8
8:pids:/swarm-platform-rig-h1/f634c8
4:memory:/process_api/c50f21/swarm-platform-rig-h1/f634c8
3:cpuset:/swarm-platform-rig-h1/f634c8
2:cpuacct:/swarm-platform-rig-h1/f634c8
1:cpu:/swarm-platform-rig-h1/f634c8
0::/swarm-platform-rig-h1/f634c8
`;
const JOINED_V1 = `5:cpu,cpuacct:/docker/abc
1:name=systemd:/docker/abc
`;
const V2 = `0::/system.slice/docker-abc.scope
`;

describe("cpuCgroupOf", () => {
    it("reads v1 cpu and cpuacct hierarchies mounted apart, and takes CPU time from cpuacct", () => {
        expect(cpuCgroupOf(RIG_V1)).toEqual({
            dirs: ["/sys/fs/cgroup/cpuacct/swarm-platform-rig-h1/f634c8", "/sys/fs/cgroup/cpu/swarm-platform-rig-h1/f634c8"],
            usageFile: "/sys/fs/cgroup/cpuacct/swarm-platform-rig-h1/f634c8/cpuacct.usage",
            unit: "ns",
        });
    });

    it("reads a joined cpu,cpuacct hierarchy as one directory", () => {
        expect(cpuCgroupOf(JOINED_V1)).toEqual({
            dirs: ["/sys/fs/cgroup/cpu,cpuacct/docker/abc"],
            usageFile: "/sys/fs/cgroup/cpu,cpuacct/docker/abc/cpuacct.usage",
            unit: "ns",
        });
    });

    it("reads the unified hierarchy when no v1 CPU controller is mounted", () => {
        expect(cpuCgroupOf(V2)).toEqual({
            dirs: ["/sys/fs/cgroup/system.slice/docker-abc.scope"],
            usageFile: "/sys/fs/cgroup/system.slice/docker-abc.scope/cpu.stat",
            unit: "us",
        });
    });

    it("names no group when the process has no CPU controller", () => {
        expect(cpuCgroupOf("1:name=systemd:/x\n4:memory:/y\n")).toBeUndefined();
    });
});

describe("siblingCgroup", () => {
    it("puts the new group under the same parent in every hierarchy", () => {
        const edge = cpuCgroupOf(RIG_V1);
        expect(edge && siblingCgroup(edge, "rig-peer-8099")).toEqual({
            dirs: ["/sys/fs/cgroup/cpuacct/swarm-platform-rig-h1/rig-peer-8099", "/sys/fs/cgroup/cpu/swarm-platform-rig-h1/rig-peer-8099"],
            usageFile: "/sys/fs/cgroup/cpuacct/swarm-platform-rig-h1/rig-peer-8099/cpuacct.usage",
            unit: "ns",
        });
    });
});

describe("cpuSecondsFrom", () => {
    it("reads v1 nanoseconds and v2 usage_usec", () => {
        expect(cpuSecondsFrom("ns", "4300000000\n")).toBeCloseTo(4.3, 9);
        expect(cpuSecondsFrom("us", "usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\n")).toBeCloseTo(2.5, 9);
    });

    it("refuses a cpu.stat without usage_usec", () => {
        expect(() => cpuSecondsFrom("us", "user_usec 1\n")).toThrow(/usage_usec/);
    });
});

describe("copyCpuWeight and cpuWeightOf", () => {
    let root: string;
    beforeEach(() => (root = fs.mkdtempSync(path.join(os.tmpdir(), "cgroup-test-"))));
    afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

    /** A group laid out as the kernel shows it: `files` per hierarchy directory. */
    function group(name: string, files: Record<string, string>[]): CpuCgroup {
        const dirs = files.map((_, i) => path.join(root, `h${i}`, name));
        dirs.forEach((d, i) => {
            fs.mkdirSync(d, { recursive: true });
            for (const [f, v] of Object.entries(files[i])) fs.writeFileSync(path.join(d, f), v);
        });
        return { dirs, usageFile: path.join(dirs[0], "cpuacct.usage"), unit: "ns" };
    }
    const read = (g: CpuCgroup, i: number, f: string) => fs.readFileSync(path.join(g.dirs[i], f), "utf8");

    it("copies v1 shares from the cpu hierarchy, wherever it is in the list, and leaves cpuacct alone", () => {
        const edge = group("edge", [{ "cpuacct.usage": "1" }, { "cpu.shares": "4096\n" }]);
        const peer = group("peer", [{ "cpuacct.usage": "0" }, { "cpu.shares": "1024\n" }]);
        copyCpuWeight(edge, peer);
        expect(read(peer, 1, "cpu.shares")).toBe("4096");
        expect(fs.readdirSync(peer.dirs[0])).toEqual(["cpuacct.usage"]);
    });

    it("reads the weight from whichever hierarchy has it, and refuses a group without one", () => {
        expect(cpuWeightOf(group("v1", [{ "cpuacct.usage": "1" }, { "cpu.shares": "4096\n" }]))).toBe(4096);
        expect(cpuWeightOf(group("v2", [{ "cpu.weight": "157\n" }]))).toBe(157);
        expect(() => cpuWeightOf(group("none", [{ "cpuacct.usage": "1" }]))).toThrow(/no CPU weight/);
    });

    it("copies v2 weight", () => {
        const edge = group("edge", [{ "cpu.weight": "157\n", "cpu.stat": "usage_usec 1\n" }]);
        const peer = group("peer", [{ "cpu.weight": "100\n", "cpu.stat": "usage_usec 0\n" }]);
        copyCpuWeight(edge, peer);
        expect(read(peer, 0, "cpu.weight")).toBe("157");
    });
});
