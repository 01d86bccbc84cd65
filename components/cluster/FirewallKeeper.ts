import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { hostBuiltImage, serviceContainer } from "../host/containers";
import { PROJECT_DIR } from "../../lib/project";
import { FIREWALL_KEEPER_CONTAINER, FIREWALL_KEEPER_SCRIPT, renderFirewallKeeper } from "../../render/firewallKeeper";
import { IptablesRule } from "../../render/shell";
import { DockerHost, HostCommand } from "../host/DockerHost";

const FIREWALL_KEEPER_DOCKERFILE = path.join(PROJECT_DIR, "images", "firewall-keeper", "Dockerfile");
const FIREWALL_KEEPER_REPOSITORY = "swarm-platform-firewall-keeper";

/** Rules a step on the host put in place, and that step (whose delete takes them out again). */
export interface AppliedRules {
    rules: IptablesRule[];
    appliedBy: HostCommand;
}

export interface FirewallKeeperArgs {
    host: DockerHost;
    applied: AppliedRules[];
    /** Debian-based image the keeper's image is built on (iptables comes from apt when it lacks it). */
    baseImage: string;
}

/**
 * Keeps the stack's iptables rules (tier flows, Consul's DNS redirect) on one host. The steps that
 * apply them run once; the rules live in the kernel and go with a reboot, a firewall reload or
 * `iptables -F`, which no refresh can see. This container, restarted by Docker, puts back every
 * missing rule within a few seconds, with NET_ADMIN and NET_RAW only, on the host's network.
 *
 * A step's removal stops the keeper before it takes its rules out (removeKeptRules). The steps' ids
 * are among the keeper's inputs, so a replaced step (new rules, or `up --replace`) replaces the
 * keeper too, which starts it again with the rules as they are now.
 */
export class FirewallKeeper extends pulumi.ComponentResource {
    constructor(name: string, args: FirewallKeeperArgs, opts?: pulumi.ComponentResourceOptions) {
        super("swarm-platform:cluster:FirewallKeeper", name, {}, opts);
        const dockerfile = fs.readFileSync(FIREWALL_KEEPER_DOCKERFILE, "utf8");
        const image = hostBuiltImage(
            `${name}-image`,
            args.host,
            FIREWALL_KEEPER_REPOSITORY,
            dockerfile,
            { BASE_IMAGE: args.baseImage },
            this,
        );
        const rules = args.applied.flatMap((a) => a.rules);
        serviceContainer(
            `${name}-keeper`,
            args.host,
            {
                containerName: FIREWALL_KEEPER_CONTAINER,
                image,
                command: ["sh", FIREWALL_KEEPER_SCRIPT],
                uploads: [{ file: FIREWALL_KEEPER_SCRIPT, content: renderFirewallKeeper(rules) }],
                envs: [pulumi.interpolate`APPLIED_BY=${pulumi.all(args.applied.map((a) => a.appliedBy.id)).apply((ids) => ids.join(","))}`],
                network: "host",
                capabilities: ["CAP_NET_ADMIN", "CAP_NET_RAW"],
                dropAllCapabilities: true,
                init: true,
            },
            { parent: this },
        );
        this.registerOutputs({});
    }
}
