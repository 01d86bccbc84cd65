/** Every check of a stack that is up, in order: the running platform, then the engine finding nothing to change. */
import { RIG_KEY } from "../lib";
import { checkNoChanges, checkProtect, checkStateSecrets, checkUnchangeableRefused } from "../lifecycle";
import { CliStack } from "../pulumi";
import { Scenario } from "../scenario";
import { checkConsul } from "../checks/consul";
import { checkServiceDns } from "../checks/dns";
import { checkEdgeMalformedEntry, checkEdgeReach } from "../checks/edge";
import { checkConsulApiClosed, checkConsulUnprivileged, checkCpuWeights, checkNoKeyOnDisk, secretsOnHosts } from "../checks/hardening";
import { checkGwbridge, checkOverlay } from "../checks/networks";
import { checkDockerProxy, checkRegistrator } from "../checks/registrator";
import { checkSwarm } from "../checks/swarm";
import { checkIsolation } from "../checks/tiers";
import { checkVersions } from "../checks/versions";

/** Every check of a stack that is up; `edgeFailure` is how the scenario takes an edge path away, `isolationHost` where tiers are probed. */
export async function checkRunningStack(s: Scenario, edgeFailure: (s: Scenario) => Promise<void>, isolationHost: number): Promise<void> {
    await checkVersions(s);
    await checkSwarm(s);
    await checkOverlay(s);
    await checkGwbridge(s);
    await checkConsul(s);
    await checkConsulUnprivileged(s);
    await checkCpuWeights(s);
    await checkConsulApiClosed(s);
    await checkRegistrator(s);
    await checkDockerProxy(s);
    await checkServiceDns(s);
    await checkEdgeReach(s);
    await checkEdgeMalformedEntry(s);
    await edgeFailure(s);
    await checkIsolation(s, isolationHost);
}

/** After a first `up`: the system checks, then nothing to change for the engine, then no secret in the state or on disk. */
export async function checkDayOne(
    stack: CliStack,
    s: Scenario,
    edgeFailure: (s: Scenario) => Promise<void>,
    isolationHost: number,
): Promise<void> {
    await checkRunningStack(s, edgeFailure, isolationHost);
    await checkNoKeyOnDisk(stack);
    await checkNoChanges(stack, s.hosts);
    await checkUnchangeableRefused(stack, s.hosts);
    await checkStateSecrets(stack, await secretsOnHosts(s, RIG_KEY));
    await checkProtect(stack, s.hosts);
}
