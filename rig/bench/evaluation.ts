/**
 * The program's evaluation cost under mocks (rig/bench/evaluate.ts, compiled, with the program's node
 * flags), each measurement in a fresh process: at 100 and 1000 hosts, and at 100 hosts against the
 * SDK's floor (the same resources registered as constants), alternating program and floor, since in
 * one process the order alone moved such a ratio between 0.8 and 1.6.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { programNodeArgs } from "../../lib/project";
import { ROOT, must, run } from "../lib";
import { EvaluationResult } from "./evaluate";
import { median } from "./figures";

const EVALUATOR = path.join(ROOT, ".bench-bin", "rig", "bench", "evaluate.js");

export interface EvaluationFigures {
    /** Median CPU seconds of the program at 100 hosts over the alternating runs. */
    eval100: number;
    eval1000: EvaluationResult;
    /** CPU seconds at 1000 hosts over ten times those at 100: 1.0 is exactly linear. */
    linearity: number;
    /** Median CPU of the program over median CPU of the floor, both at 100 hosts. */
    floorRatio: number;
    detail: string;
}

async function evaluate(args: string[]): Promise<EvaluationResult> {
    const r = await run("node", [...programNodeArgs(), EVALUATOR, ...args], { cwd: ROOT, timeoutMs: 1_200_000 });
    if (r.code !== 0) throw new Error(`evaluate.js ${args.join(" ")}: exit ${r.code}: ${r.stderr.slice(-300)}`);
    return JSON.parse(r.stdout) as EvaluationResult;
}

export async function measureEvaluation(pairs: number): Promise<EvaluationFigures> {
    await must(
        run("npx", ["tsc", "-p", path.join("rig", "bench", "tsconfig.json")], { cwd: ROOT, timeoutMs: 300_000 }),
        "compile the evaluator",
    );
    const record = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "swarm-platform-eval-")), "registrations.json");
    try {
        await evaluate(["program", "100", record]);
        const program: number[] = [];
        const floor: number[] = [];
        for (let i = 0; i < pairs; i++) {
            // Every other pair floor first, so a drift of the machine's speed favours neither.
            const order = i % 2 === 0 ? ["program", "floor"] : ["floor", "program"];
            for (const kind of order) {
                const r = await evaluate(kind === "program" ? ["program", "100"] : ["floor", record]);
                (kind === "program" ? program : floor).push(r.cpuSeconds);
            }
        }
        const eval1000 = await evaluate(["program", "1000"]);
        const eval100 = median(program);
        const fmt = (xs: number[]) => xs.map((x) => x.toFixed(2)).join(" ");
        return {
            eval100,
            eval1000,
            linearity: eval1000.cpuSeconds / (10 * eval100),
            floorRatio: eval100 / median(floor),
            detail: `100 hosts, program: ${fmt(program)} s CPU; floor: ${fmt(floor)} s CPU; 1000 hosts: ${eval1000.cpuSeconds.toFixed(1)} s CPU, ${eval1000.wallSeconds.toFixed(1)} s wall, ${eval1000.resources} resources, peak ${eval1000.maxRssMb.toFixed(0)} MB`,
        };
    } finally {
        fs.rmSync(path.dirname(record), { recursive: true, force: true });
    }
}
