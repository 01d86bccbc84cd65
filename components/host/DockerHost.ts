import * as fs from "fs";
import * as pulumi from "@pulumi/pulumi";
import * as docker from "@pulumi/docker";
import { local, remote, types } from "@pulumi/command";
import { HostSpec } from "../../lib/model";
import { parseNameservers, renderNameservers } from "../../render/consul";
import { renderDockerSshOptions } from "../../render/ssh";
import { renderEngineName } from "../../render/swarm";
import { localPath } from "../../lib/validate";

export interface DockerHostArgs {
    host: HostSpec;
    /** Shared SSH key for hosts that name no key file. */
    sshPrivateKey?: pulumi.Output<string>;
}

/** A script run on a host as a command resource: create on `up`, delete on destroy. */
export interface HostScript {
    create: pulumi.Input<string>;
    delete?: pulumi.Input<string>;
    /** Fed to the script's standard input: the way secrets reach a host without a command line. */
    stdin?: pulumi.Input<string>;
    /** The script prints a secret: stdout is stored as a secret and never logged. */
    secretOutput?: boolean;
    /** A change in any of these replaces the command: its delete runs, then its create again. */
    triggers?: pulumi.Input<unknown>[];
}

export type HostCommand = local.Command | remote.Command;

/**
 * One Docker host: the explicit docker provider every docker resource on it uses, the SSH (or local)
 * connection its scripts run through, and the engine's node name. Both SSH paths pin the same host
 * key when one is configured; scripts authenticate with the key held in memory, the Docker CLI's ssh
 * with the key file or the ssh-agent (see render/ssh.ts), so no key is ever written to disk and no
 * Docker TCP socket is opened.
 */
export class DockerHost extends pulumi.ComponentResource {
    readonly spec: HostSpec;
    readonly provider: docker.Provider;
    /** The engine's name (`docker info .Name`): swarm and Consul identify nodes by it. */
    readonly engineName: pulumi.Output<string>;
    /** The host's nameservers (its /etc/resolv.conf), where Consul's DNS sends names it does not own. */
    readonly nameservers: pulumi.Output<string[]>;
    private readonly connection?: pulumi.Output<types.input.remote.ConnectionArgs>;
    private readonly dockerHost?: string;

    constructor(name: string, args: DockerHostArgs, opts?: pulumi.ComponentResourceOptions) {
        super("swarm-platform:host:DockerHost", name, {}, opts);
        this.spec = args.host;
        const conn = args.host.connection;
        if (conn.kind === "local") {
            this.dockerHost = conn.dockerHost;
            this.provider = new docker.Provider(`${name}-docker`, { host: conn.dockerHost }, { parent: this });
        } else {
            const keyPath = conn.privateKeyPath;
            if (!keyPath && !args.sshPrivateKey) {
                throw new pulumi.ResourceError(
                    `host ${args.host.name} has no SSH identity (set ssh.privateKeyPath or sshPrivateKey)`,
                    this,
                );
            }
            if (keyPath && !fs.existsSync(localPath(keyPath))) {
                throw new pulumi.ResourceError(
                    `host ${args.host.name}: ssh.privateKeyPath ${keyPath} does not exist on this machine; point it at the key that logs in to ${args.host.address}`,
                    this,
                );
            }
            const privateKey = keyPath
                ? pulumi.secret(fs.readFileSync(localPath(keyPath), "utf8"))
                : (args.sshPrivateKey as pulumi.Output<string>);
            this.connection = pulumi.output({
                host: args.host.address,
                port: conn.port,
                user: conn.user,
                privateKey,
                hostKey: conn.hostKey,
                dialErrorLimit: 20,
            });
            this.provider = new docker.Provider(
                `${name}-docker`,
                { host: `ssh://${conn.user}@${args.host.address}:${conn.port}`, sshOpts: renderDockerSshOptions(conn) },
                { parent: this },
            );
        }
        this.engineName = this.run(`${name}-engine-name`, { create: renderEngineName() }, { parent: this }).stdout.apply((s) => s.trim());
        this.nameservers = this.run(`${name}-nameservers`, { create: renderNameservers() }, { parent: this }).stdout.apply(
            parseNameservers,
        );
        this.registerOutputs({ engineName: this.engineName, nameservers: this.nameservers });
    }

    /** Runs a script on this host; the command resource belongs to `opts.parent`. */
    run(name: string, script: HostScript, opts: pulumi.CustomResourceOptions): HostCommand {
        const common = {
            create: script.create,
            delete: script.delete,
            stdin: script.stdin,
            triggers: script.triggers,
            addPreviousOutputInEnv: false,
            logging: script.secretOutput ? "none" : "stdoutAndStderr",
        } as const;
        const commandOpts: pulumi.CustomResourceOptions = script.secretOutput ? { ...opts, additionalSecretOutputs: ["stdout"] } : opts;
        if (this.connection) {
            return new remote.Command(name, { ...common, connection: this.connection }, commandOpts);
        }
        return new local.Command(name, { ...common, environment: { DOCKER_HOST: this.dockerHost as string } }, commandOpts);
    }
}
