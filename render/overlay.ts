import { OverlaySpec } from "../lib/model";
import { MANAGED_LABEL, posixScript, shq } from "./shell";

/** What `docker network inspect` shows for the overlay the stack wants, in the script's format below. */
const described = (spec: OverlaySpec): string => `overlay ${spec.subnet} ${spec.gateway} attachable=${spec.attachable}`;
const INSPECT_FORMAT = "{{.Driver}} {{range .IPAM.Config}}{{.Subnet}} {{.Gateway}}{{end}} attachable={{.Attachable}}";

/**
 * Creates the swarm-scoped overlay through a manager (seed 001), labelled as the stack's. One that
 * already exists with the same driver, subnet, gateway and attachability is kept as it is; one that
 * differs is an error, because replacing a network cuts every container attached to it.
 */
export function renderOverlayCreate(spec: OverlaySpec): string {
    const want = described(spec);
    return posixScript(
        `current=$(docker network inspect ${shq(spec.name)} --format '${INSPECT_FORMAT}' 2>/dev/null || true)`,
        `if [ "$current" = ${shq(want)} ]; then echo "overlay: ${spec.name} already ${want}"; exit 0; fi`,
        `if [ -n "$current" ]; then echo "overlay: network ${spec.name} exists as \\"$current\\", the stack wants \\"${want}\\"; remove it, or set overlayName to a free name" >&2; exit 1; fi`,
        [
            `docker network create --driver overlay --subnet ${shq(spec.subnet)} --gateway ${shq(spec.gateway)}`,
            ...(spec.attachable ? ["--attachable"] : []),
            ...(spec.encrypted ? ["--opt encrypted"] : []),
            `--label ${MANAGED_LABEL}=true ${shq(spec.name)} >/dev/null`,
        ].join(" "),
        `echo "overlay: created ${spec.name} ${want}"`,
    );
}

/** Removes the overlay only if this stack created it. */
export function renderOverlayDelete(spec: OverlaySpec): string {
    return posixScript(
        `managed=$(docker network inspect ${shq(spec.name)} --format '{{index .Labels "${MANAGED_LABEL}"}}' 2>/dev/null || true)`,
        `if [ "$managed" != true ]; then echo "overlay: ${spec.name} not created by this stack, kept"; exit 0; fi`,
        `docker network rm ${shq(spec.name)} >/dev/null`,
        `echo "overlay: removed ${spec.name}"`,
    );
}
