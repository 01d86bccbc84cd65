/** What the Docker CLI's ssh (which @pulumi/docker runs for `ssh://` hosts) is told, beyond user@host:port. */
export interface SshClientSpec {
    /** As the stack writes it: ssh expands `~/` itself, so no home directory enters provider inputs. */
    privateKeyPath?: string;
    /** `TYPE BASE64`: the only key the host may present. */
    hostKey?: string;
}

/**
 * ssh options for the Docker provider. They are provider inputs, stored in state and compared on
 * every run, so they hold nothing that differs between the machines that run Pulumi.
 * - Identity: the stack's key file, else ssh's own (the agent, ~/.ssh/id_*): a key given only as the
 *   secret `sshPrivateKey` is never written to a file, since `pulumi destroy` and `refresh` would need
 *   that file after the program that wrote it has gone.
 * - Host key: with `hostKey`, only that key is accepted: no known_hosts file is read or written, and
 *   KnownHostsCommand (OpenSSH ≥ 8.5) supplies the key for whatever name ssh looks up (%H). Without
 *   it, the first key seen is trusted and kept in ~/.ssh/known_hosts.
 */
export function renderDockerSshOptions(spec: SshClientSpec): string[] {
    const identity = spec.privateKeyPath ? ["-i", spec.privateKeyPath, "-o", "IdentitiesOnly=yes"] : [];
    const hostKey = spec.hostKey
        ? [
              "-o",
              "StrictHostKeyChecking=yes",
              "-o",
              "UserKnownHostsFile=/dev/null",
              "-o",
              "GlobalKnownHostsFile=/dev/null",
              "-o",
              `KnownHostsCommand=/bin/echo %H ${spec.hostKey}`,
          ]
        : ["-o", "StrictHostKeyChecking=accept-new"];
    return ["-o", "BatchMode=yes", "-o", "ConnectTimeout=10", ...identity, ...hostKey];
}
