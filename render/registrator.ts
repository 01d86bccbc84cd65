/** Registrator's command line. */

/** Registrator's flags: host address, local agent, deregistration on death, cleanup and periodic resync. */
export function registratorArgs(hostAddress: string, consulAddress: string, internalAddresses: boolean): string[] {
    return [
        "-ip",
        hostAddress,
        ...(internalAddresses ? ["-internal"] : []),
        "-cleanup",
        "-deregister",
        "always",
        "-resync",
        "15",
        "-retry-attempts",
        "-1",
        "-retry-interval",
        "2000",
        `consul://${consulAddress}`,
    ];
}
