import { benchLine, cpuBusy, outageSeconds, parseWrk, percentile, wrkFailures } from "./figures";

// Printed by Debian's wrk 4.1.0 (`wrk -t1 -c2 -d1s --latency`) and by a run with failures.
const WRK_LATENCY = `Running 1s test @ http://127.0.0.1:18080/
  1 threads and 2 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    70.34us  112.29us   3.41ms   99.28%
    Req/Sec    27.17k     7.95k   50.42k    90.91%
  Latency Distribution
     50%   67.00us
     75%   80.00us
     90%   90.00us
     99%    1.44ms
  29687 requests in 1.10s, 4.25MB read
Requests/sec:  27003.01
Transfer/sec:      3.86MB
`;
const WRK_FAILURES = `Running 2s test @ http://127.0.0.1:18080/bad
  2 threads and 8 connections
  229427 requests in 2.10s, 68.70MB read
  Socket errors: connect 1, read 3, write 2, timeout 4
  Non-2xx or 3xx responses: 17
Requests/sec: 109250.22
`;

test("parseWrk reads totals, rate and latency percentiles in ms", () => {
    const r = parseWrk(WRK_LATENCY);
    expect(r).toMatchObject({ requests: 29687, seconds: 1.1, requestsPerSecond: 27003.01, socketErrors: 0, non2xx: 0 });
    expect(r.latencyMs["50"]).toBeCloseTo(0.067, 6);
    expect(r.latencyMs["99"]).toBeCloseTo(1.44, 6);
    expect(wrkFailures(r)).toBe(0);
});

test("parseWrk counts every socket error and non-2xx answer as a failure", () => {
    const r = parseWrk(WRK_FAILURES);
    expect(r.socketErrors).toBe(10);
    expect(r.non2xx).toBe(17);
    expect(wrkFailures(r)).toBe(27);
    expect(r.latencyMs).toEqual({});
});

test("parseWrk refuses output without a summary", () => {
    expect(() => parseWrk("unable to connect to 10.77.0.11:80 Connection refused")).toThrow(/no wrk summary/);
});

test("percentile is nearest-rank and ignores input order", () => {
    const sample = [5, 1, 4, 2, 3, 10, 9, 8, 7, 6];
    expect(percentile(sample, 50)).toBe(5);
    expect(percentile(sample, 95)).toBe(10);
    expect(percentile(sample, 90)).toBe(9);
    expect(percentile([3.2], 99)).toBe(3.2);
    expect(() => percentile([], 50)).toThrow();
});

test("cpuBusy is the non-idle share between two /proc/stat readings", () => {
    // user nice system idle iowait irq softirq: 300 of 400 ticks busy, 100 idle or iowait.
    expect(cpuBusy("cpu  100 0 100 1000 0 0 0", "cpu  300 0 200 1080 20 0 0")).toBeCloseTo(0.75, 6);
    expect(cpuBusy("cpu  1 1 1 1", "cpu  1 1 1 1")).toBe(0);
});

test("outageSeconds spans the first failure to the first success after the last one", () => {
    const at = (t: number, ok: boolean) => ({ t, ok });
    expect(outageSeconds([at(0, true), at(50, true)])).toBe(0);
    expect(outageSeconds([at(0, true), at(100, false), at(150, true), at(200, false), at(900, true), at(950, true)])).toBeCloseTo(0.8, 6);
    expect(outageSeconds([at(0, true), at(100, false), at(400, false)])).toBeCloseTo(0.3, 6);
});

test("benchLine prints every figure in order, counts as integers, NA for what was not measured", () => {
    const line = benchLine({
        convergence_p95_s: 0.8123,
        reload_drops: 0,
        stop_failed: 2,
        vip_failover_edge_s: 1.5,
        edge_direct_ratio: 0.5678,
        edge_added_p50_ms: 0.1234,
        eval_100_hosts_s: 12,
    });
    expect(line).toBe(
        "bench: convergence_p95_s=0.81 reload_drops=0 stop_failed=2 vip_failover_edge_s=1.50 vip_failover_host_s=NA edge_direct_ratio=0.57 edge_peer_ratio=NA edge_added_p50_ms=0.123 edge_added_p99_ms=NA eval_100_hosts_s=12.00 eval_1000_hosts_s=NA eval_1000_linearity=NA eval_1000_peak_mb=NA eval_sdk_floor_ratio=NA",
    );
});
