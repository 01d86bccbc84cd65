/**
 * keepalived moves the edge VIP between the edge hosts over VRRP, following the health of the local
 * nginx. Advertisements go to VRRP's multicast group on the VIP's segment (which a floating VIP needs
 * anyway), so every edge hears every other one whatever its configuration: with unicast peer lists,
 * an edge added or removed is unknown to the others until they are reconfigured, and for that time
 * both can hold the VIP.
 */

export interface KeepalivedSettings {
    routerId: string;
    state: "MASTER" | "BACKUP";
    priority: number;
    interfaceName: string;
    virtualRouterId: number;
    vip: string;
    prefixLength: number;
    /** The host's own address on the interface, the source of its advertisements (never the VIP). */
    sourceAddress: string;
    /** e.g. http://127.0.0.1:80/healthz */
    healthUrl: string;
}

/*
 * A BACKUP takes the VIP after three adverts are missed, so a host cut off loses it for about three
 * intervals. VRRPv3 (RFC 5798) allows intervals below a second; it has no authentication, which VRRPv2
 * only had as a password sent in clear text in every advert, so nothing is lost with it.
 */
const ADVERT_INTERVAL_SECONDS = 0.5;

// The edge health check's cadence (see renderKeepalivedConf).
const CHECK_INTERVAL_SECONDS = 1;
const CHECK_RISE = 2;

/*
 * Each check asks twice, half a second apart: keepalived runs a script at most once a second (the
 * interval is whole seconds), so an edge that died just after a single ask would keep the VIP for up to
 * a second more. The first failing ask ends the run and fails the check at once. The shell is named by
 * its own path, not /bin/sh: script security refuses a script reached through a symlink (/bin is one
 * on merged-/usr systems, and sh is one to dash) and then disables the check, VIP failover with it.
 */
const CHECK_SHELL = "/usr/bin/dash";
const CHECK_GAP_SECONDS = 0.5;

/** keepalived's `script` value: the health URL asked twice, `CHECK_GAP_SECONDS` apart. */
function healthCheckScript(healthUrl: string): string {
    const ask = `/usr/bin/curl -fsS --max-time 1 -o /dev/null ${healthUrl}`;
    return `${CHECK_SHELL} -c '${ask} && /usr/bin/sleep ${CHECK_GAP_SECONDS} && exec ${ask}'`;
}

/** How long after its edge answers again keepalived may still hold back (FAULT until `rise` passes), plus a second. */
export const VIP_SETTLE_SECONDS = CHECK_INTERVAL_SECONDS * CHECK_RISE + 1;

export const KEEPALIVED_CONF_PATH = "/etc/keepalived/keepalived.conf";

function check(ok: boolean, message: string): void {
    if (!ok) throw new Error(`keepalived: ${message}`);
}

/*
 * One failed check moves the VIP (`fall 1`): it asks the edge on loopback for a page nginx serves
 * itself, so a failure means this edge is not serving, and each extra required failure would add a
 * second without service. Coming back takes two passes, so a flapping edge does not pull the VIP back.
 * The health check has no `weight`, so a failing check puts the instance in FAULT: it drops the VIP and
 * advertises priority 0 on its way out; the peer takes over after its skew time (kept short by the
 * priorities the Edge component sets), whatever the priority gap. With a
 * weight the hand-over would hinge on priority arithmetic staying right as priorities change.
 */
export function renderKeepalivedConf(s: KeepalivedSettings): string {
    // 255 is reserved for the owner of the address, which a floating VIP has none of.
    check(Number.isInteger(s.priority) && s.priority >= 1 && s.priority <= 254, `priority must be 1..254, got ${s.priority}`);
    check(
        Number.isInteger(s.virtualRouterId) && s.virtualRouterId >= 1 && s.virtualRouterId <= 255,
        `virtualRouterId must be 1..255, got ${s.virtualRouterId}`,
    );
    check(s.sourceAddress !== s.vip, "the advertisements' source address must be the host's own, not the VIP");

    return `global_defs {
    router_id ${s.routerId}
    enable_script_security
    script_user root
    vrrp_version 3
}

vrrp_script chk_edge {
    script "${healthCheckScript(s.healthUrl)}"
    interval ${CHECK_INTERVAL_SECONDS}
    timeout 2
    fall 1
    rise ${CHECK_RISE}
}

vrrp_instance edge_vip {
    state ${s.state}
    interface ${s.interfaceName}
    virtual_router_id ${s.virtualRouterId}
    priority ${s.priority}
    advert_int ${ADVERT_INTERVAL_SECONDS}
    mcast_src_ip ${s.sourceAddress}
    virtual_ipaddress {
        ${s.vip}/${s.prefixLength} dev ${s.interfaceName}
    }
    track_script {
        chk_edge
    }
}
`;
}

const PID_FILES = { main: "/run/keepalived.pid", vrrp: "/run/keepalived-vrrp.pid" } as const;

/**
 * The keepalived container's command. A restarted container keeps its filesystem, and keepalived
 * refuses to start ("daemon is already running", exit 0) when a leftover pid file names a live process,
 * which in a fresh pid namespace is likely itself; so the pid files go before keepalived starts. `--vrrp`
 * skips the IPVS checker, which would need kernel modules.
 */
export function keepalivedArgs(): string[] {
    const keepalived = [
        "keepalived",
        "--dont-fork",
        "--log-console",
        "--log-detail",
        "--vrrp",
        `--pid=${PID_FILES.main}`,
        `--vrrp_pid=${PID_FILES.vrrp}`,
        `--use-file=${KEEPALIVED_CONF_PATH}`,
    ];
    return ["/bin/sh", "-c", `rm -f ${PID_FILES.main} ${PID_FILES.vrrp} && exec ${keepalived.join(" ")}`];
}
