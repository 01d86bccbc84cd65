import { renderDockerSshOptions } from "../render/ssh";

describe("the Docker CLI's ssh options", () => {
    test("a key file is the only identity offered, under the path the stack wrote", () => {
        const opts = renderDockerSshOptions({ privateKeyPath: "~/.ssh/id_ed25519" });
        expect(opts.slice(opts.indexOf("-i"), opts.indexOf("-i") + 4)).toEqual(["-i", "~/.ssh/id_ed25519", "-o", "IdentitiesOnly=yes"]);
    });

    test("without a key file ssh's own identities (agent, ~/.ssh/id_*) are used: no -i at all", () => {
        expect(renderDockerSshOptions({})).not.toContain("-i");
    });

    test("never prompts: batch mode and a connect timeout whatever else is set", () => {
        for (const spec of [{}, { privateKeyPath: "/k" }, { hostKey: "ssh-ed25519 AAAA" }]) {
            expect(renderDockerSshOptions(spec)).toEqual(expect.arrayContaining(["BatchMode=yes", "ConnectTimeout=10"]));
        }
    });

    test("a pinned host key replaces every known_hosts file and trust on first use", () => {
        const opts = renderDockerSshOptions({ hostKey: "ssh-ed25519 AAAAkey" });
        expect(opts).toEqual(
            expect.arrayContaining([
                "StrictHostKeyChecking=yes",
                "UserKnownHostsFile=/dev/null",
                "GlobalKnownHostsFile=/dev/null",
                "KnownHostsCommand=/bin/echo %H ssh-ed25519 AAAAkey",
            ]),
        );
        expect(opts).not.toContain("StrictHostKeyChecking=accept-new");
        expect(renderDockerSshOptions({})).toContain("StrictHostKeyChecking=accept-new");
    });
});
