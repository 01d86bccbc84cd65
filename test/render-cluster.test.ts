import { execFileSync } from "child_process";
import { FakeBin } from "./fakeBin";
import { renderGwBridgeCreate, renderGwBridgeDelete } from "../render/gwbridge";
import { renderEngineName, renderJoinToken, renderSwarmInit, renderSwarmJoin, renderSwarmLeave } from "../render/swarm";
import { renderImageBuild, renderImageRemove } from "../render/image";
import { renderOverlayCreate, renderOverlayDelete } from "../render/overlay";
import { flowRules, renderFlowRulesApply, renderFlowRulesRemove } from "../render/tiers";
import { shq } from "../render/shell";
import { stackModel } from "../support/stacks";

const model = stackModel("multihost");
const [node1, node2] = model.hosts;
const gw = { subnet: "172.21.0.0/20", gateway: "172.21.0.1", allowRebuild: false };

const scripts: Record<string, string> = {
    gwbridgeCreate: renderGwBridgeCreate(gw, "node1"),
    gwbridgeRebuild: renderGwBridgeCreate({ ...gw, allowRebuild: true }, "node1"),
    gwbridgeDelete: renderGwBridgeDelete(),
    swarmInit: renderSwarmInit(node1, model.swarm),
    swarmJoin: renderSwarmJoin(node2, node1.address),
    swarmLeave: renderSwarmLeave(),
    joinToken: renderJoinToken("manager"),
    engineName: renderEngineName(),
    flowsApply: renderFlowRulesApply(model.flows, model.tiers, "multihost"),
    flowsRemove: renderFlowRulesRemove(model.flows, model.tiers, "multihost"),
    imageBuild: renderImageBuild("swarm-platform-edge:abc", {
        BASE_IMAGE: "nginx:1.27.5-bookworm",
        CONSUL_TEMPLATE_IMAGE: "hashicorp/consul-template:0.41.1",
    }),
    imageRemove: renderImageRemove("swarm-platform-edge:abc"),
    overlayCreate: renderOverlayCreate(model.overlay),
    overlayCreateEncrypted: renderOverlayCreate({ ...model.overlay, encrypted: true, attachable: false }),
    overlayDelete: renderOverlayDelete(model.overlay),
};

describe("rendered host scripts", () => {
    test.each(Object.keys(scripts))("%s parses under sh -n and bash -n", (key) => {
        for (const shell of ["sh", "bash"]) execFileSync(shell, ["-n"], { input: scripts[key] });
    });

    test.each(Object.keys(scripts))("%s stops at the first error", (key) => {
        expect(scripts[key].startsWith("set -eu\n")).toBe(true);
    });

    test("shq survives quotes", () => {
        const out = execFileSync("sh", ["-c", `printf %s ${shq("it's $HOME `x`")}`]).toString();
        expect(out).toBe("it's $HOME `x`");
    });

    test("gwbridge: icc off, masquerade on, bridge name, managed label, configured subnet", () => {
        const s = scripts.gwbridgeCreate;
        expect(s).toContain("--subnet '172.21.0.0/20' --gateway '172.21.0.1'");
        expect(s).toContain("com.docker.network.bridge.enable_icc=false");
        expect(s).toContain("com.docker.network.bridge.enable_ip_masquerade=true");
        expect(s).toContain("com.docker.network.bridge.name=docker_gwbridge");
        expect(s).toContain("--label io.swarm-platform.managed=true docker_gwbridge");
    });

    test("gwbridge: without the opt-in a wrong subnet fails with the way out; before a join nothing leaves a swarm", () => {
        expect(scripts.gwbridgeCreate).toContain("set gwbridgeAllowRebuild=true");
        for (const script of [scripts.gwbridgeCreate, scripts.gwbridgeRebuild]) expect(script).not.toContain("swarm leave");
    });

    test("gwbridge delete removes only a labelled bridge", () => {
        expect(scripts.gwbridgeDelete).toMatch(/if \[ "\$managed" != true \]; then .*exit 0; fi/);
    });

    test("swarm init advertises the host address with the pool and data-path port", () => {
        expect(scripts.swarmInit).toContain(
            "docker swarm init --advertise-addr '192.0.2.11' --default-addr-pool '10.20.0.0/16' --default-addr-pool-mask-length 24 --data-path-port 4789",
        );
    });

    test("swarm join reads the token from stdin, never from its command line", () => {
        expect(scripts.swarmJoin).toContain("IFS= read -r token");
        expect(scripts.swarmJoin).toContain(`docker swarm join --token "$token" --advertise-addr '192.0.2.12' '192.0.2.11:2377'`);
        expect(scripts.swarmJoin).not.toMatch(/SWMTKN/);
    });

    test.each(["swarmInit", "swarmJoin"])("%s marks membership before the change and unmarks it if the change fails", (key) => {
        const lines = scripts[key].split("\n");
        const mark = lines.findIndex((l) => l.startsWith("docker volume create") && l.includes("swarm-platform-swarm-member"));
        const change = lines.findIndex((l) => /^docker swarm (init|join) /.test(l));
        expect(mark).toBeGreaterThan(-1);
        expect(mark).toBeLessThan(change);
        expect(lines[change]).toMatch(/\|\| \{ docker volume rm swarm-platform-swarm-member >\/dev\/null; exit 1; \}$/);
    });

    test("leave acts only where the stack's marker volume exists", () => {
        expect(scripts.swarmLeave.split("\n")[1]).toContain("if ! docker volume inspect swarm-platform-swarm-member");
    });

    test("each flow opens its port one way and lets only replies back", () => {
        const [forward, back, rawForward, rawBack] = flowRules(
            { from: "app", to: "mongo", port: 27017, protocol: "tcp" },
            { app: "172.30.12.0/24", mongo: "172.30.10.0/24" },
            "s",
        );
        expect(forward).toMatchObject({ table: "filter", chain: "DOCKER-USER" });
        expect(forward.spec).toMatch(/^-i br-app -o br-mongo -p tcp --dport 27017 .* -j ACCEPT$/);
        expect(back.spec).toMatch(/^-i br-mongo -o br-app -p tcp --sport 27017 -m conntrack --ctstate ESTABLISHED,RELATED .* -j ACCEPT$/);
        // Docker 28 drops packets for a container's address arriving from another bridge in raw/PREROUTING.
        expect(rawForward).toMatchObject({ table: "raw", chain: "PREROUTING" });
        expect(rawForward.spec).toMatch(/^-i br-app -d 172\.30\.10\.0\/24 -p tcp --dport 27017 .* -j ACCEPT$/);
        expect(rawBack.spec).toMatch(/^-i br-mongo -s 172\.30\.10\.0\/24 -d 172\.30\.12\.0\/24 -p tcp --sport 27017 .* -j ACCEPT$/);
    });

    test("flow rules are checked before insert and deleted while present", () => {
        const subnets = Object.fromEntries(model.tiers.map((t) => [t.name, t.subnet]));
        const rules = model.flows.flatMap((f) => flowRules(f, subnets, "multihost"));
        expect(rules).toHaveLength(model.flows.length * 4);
        for (const r of rules) {
            const t = `iptables -t ${r.table}`;
            expect(scripts.flowsApply).toContain(`${t} -C ${r.chain} ${r.spec} 2>/dev/null || ${t} -I ${r.chain} 1 ${r.spec}`);
            expect(scripts.flowsRemove).toContain(`while ${t} -C ${r.chain} ${r.spec} 2>/dev/null; do ${t} -D ${r.chain} ${r.spec}; done`);
            // The keeper would put a removed rule back within a pass: it stops first.
            expect(scripts.flowsRemove.indexOf("docker stop firewall-keeper")).toBeLessThan(
                scripts.flowsRemove.indexOf(`${t} -D ${r.chain} ${r.spec}`),
            );
        }
    });
});

describe("overlay network", () => {
    test("created with the fixed subnet and gateway, labelled; an equal one is kept, another one refused", () => {
        const s = scripts.overlayCreate;
        expect(s).toContain(
            "docker network create --driver overlay --subnet '10.10.0.0/16' --gateway '10.10.0.254' --attachable --label io.swarm-platform.managed=true 'my-network-overlay'",
        );
        expect(s).toContain(`if [ "$current" = 'overlay 10.10.0.0/16 10.10.0.254 attachable=true' ]; then`);
        expect(s).toMatch(/exists as .*set overlayName to a free name" >&2; exit 1/);
        expect(scripts.overlayCreateEncrypted).toContain("--opt encrypted --label");
        expect(scripts.overlayCreateEncrypted).not.toContain("--attachable");
    });

    test("delete removes only a labelled overlay", () => {
        expect(scripts.overlayDelete).toMatch(/if \[ "\$managed" != true \]; then .*exit 0; fi\ndocker network rm 'my-network-overlay'/);
    });
});

describe("edge image build on the host", () => {
    /** Runs a script against a stand-in `docker` that logs its arguments and knows the images listed in `present`. */
    function withFakeDocker(
        script: string,
        opts: { present: string[]; buildx: boolean; stdin?: string },
    ): { calls: string[]; stdout: string; dockerfile?: string } {
        const fake = new FakeBin({
            docker: [
                "#!/bin/sh",
                'echo "BUILDKIT=${DOCKER_BUILDKIT:-unset} $*" >> "$FAKE/calls"',
                `case "$1 $2" in`,
                `  "buildx version") ${opts.buildx ? "exit 0" : "exit 1"} ;;`,
                `  "image inspect") for a; do last=$a; done; case " ${opts.present.join(" ")} " in *" $last "*) echo sha256:feed ;; *) exit 1 ;; esac ;;`,
                '  "build --label") cat > "$FAKE/dockerfile" ;;',
                "esac",
            ].join("\n"),
        });
        try {
            const r = fake.run(script, { stdin: opts.stdin });
            const dockerfile = fake.read("dockerfile");
            return {
                calls: fake.lines("calls"),
                stdout: r.code === 0 ? r.stdout : `FAILED ${r.code}`,
                dockerfile: dockerfile || undefined,
            };
        } finally {
            fake.remove();
        }
    }

    test("an image already tagged is not rebuilt; its id is printed", () => {
        const r = withFakeDocker(scripts.imageBuild, { present: ["swarm-platform-edge:abc"], buildx: true });
        expect(r.calls.some((c) => c.includes(" build "))).toBe(false);
        expect(r.stdout.trim()).toBe("sha256:feed");
    });

    test("a missing image is built from the Dockerfile on stdin with the pinned build args, classic builder without buildx", () => {
        const r = withFakeDocker(scripts.imageBuild, { present: [], buildx: false, stdin: "FROM scratch\n" });
        const build = r.calls.find((c) => c.includes(" build "));
        expect(build).toBe(
            "BUILDKIT=0 build --label io.swarm-platform.managed=true -t swarm-platform-edge:abc --build-arg BASE_IMAGE=nginx:1.27.5-bookworm --build-arg CONSUL_TEMPLATE_IMAGE=hashicorp/consul-template:0.41.1 -",
        );
        expect(r.dockerfile).toBe("FROM scratch\n");
    });

    test("with buildx the default builder is kept", () => {
        const r = withFakeDocker(scripts.imageBuild, { present: [], buildx: true });
        expect(r.calls.find((c) => c.includes(" build "))).toMatch(/^BUILDKIT=unset build /);
    });

    test("remove deletes only an existing tag", () => {
        expect(withFakeDocker(scripts.imageRemove, { present: [], buildx: true }).calls.some((c) => c.includes("image rm"))).toBe(false);
        expect(withFakeDocker(scripts.imageRemove, { present: ["swarm-platform-edge:abc"], buildx: true }).calls).toContain(
            "BUILDKIT=unset image rm swarm-platform-edge:abc",
        );
    });
});
