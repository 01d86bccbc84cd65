/** The stack's config as a user changes it, through the CLI: `pulumi config` and the hosts list. */
import { RIG_KEY, RIG_STATE, hostAddress, publicKeyOf } from "../lib";
import { RIG_HOST_KEY, StackCli } from "../pulumi";

/** `pulumi config <args>` on the stack, as a user changes it; a refusal fails the check. */
export async function configure(stack: StackCli, args: string[]): Promise<void> {
    const r = await stack.cli("config", args);
    if (r.code !== 0) throw new Error(`pulumi config ${args.join(" ")}: exit ${r.code}: ${r.output.slice(-300)}`);
}

/** The config keys of rig-h<h> with `roles` at position `index` of the hosts list, as a user sets them. */
export const hostConfig = (index: number, h: number, roles: readonly string[]): [string, string][] => {
    const p = `hosts[${index}]`;
    return [
        [`${p}.name`, `rig-h${h}`],
        [`${p}.address`, hostAddress(h)],
        [`${p}.ssh.user`, "root"],
        [`${p}.ssh.privateKeyPath`, RIG_KEY],
        [`${p}.ssh.hostKey`, publicKeyOf(RIG_HOST_KEY)],
        [`${p}.dockerSocket`, `${RIG_STATE}/h${h}.sock`],
        ...roles.map((role, i): [string, string] => [`${p}.roles[${i}]`, role]),
    ];
};

/** The stack's hosts list as its config holds it now. */
export async function configuredHosts(stack: StackCli): Promise<{ name: string; roles: string[] }[]> {
    const r = await stack.cli("config", ["get", "swarm-platform:hosts"]);
    if (r.code !== 0) throw new Error(`pulumi config get swarm-platform:hosts: exit ${r.code}`);
    return JSON.parse(r.output.trim()) as { name: string; roles: string[] }[];
}

/** Where rig-h<h> is in the stack's hosts list; the list moves when a host before it goes. */
export async function hostIndex(stack: StackCli, h: number): Promise<number> {
    const i = (await configuredHosts(stack)).findIndex((host) => host.name === `rig-h${h}`);
    if (i < 0) throw new Error(`rig-h${h} is not in the stack's hosts`);
    return i;
}
