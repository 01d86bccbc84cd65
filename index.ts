import {
    BACKEND_PLACEMENT_OUTPUT,
    CONSUL_AGENTS_OUTPUT,
    MANAGER_ADDRESS_OUTPUT,
    SWARM_FIXED_OUTPUT,
    checkAgainstLastDeployment,
    loadPlatformConfig,
} from "./lib/config";
import { assertCompiledCurrent } from "./lib/project";
import { swarmFixedSettings } from "./lib/validate";
import { Platform } from "./components/Platform";

export = async () => {
    assertCompiledCurrent();
    const { model, sshPrivateKey } = loadPlatformConfig();
    const last = await checkAgainstLastDeployment(model);
    const platform = new Platform("platform", { model, sshPrivateKey, last });
    return {
        [MANAGER_ADDRESS_OUTPUT]: platform.managerAddress,
        nodes: platform.nodes,
        overlayNetwork: platform.overlay,
        gwbridgeSubnet: model.gwbridge.subnet,
        tierNetworks: platform.tierNetworks,
        edgeUrls: platform.edgeUrls,
        // null, not undefined: the engine warns on every run about an undefined stack output.
        vipUrl: platform.vipUrl ?? null,
        consulUiUrl: platform.consulUiUrl,
        consulUiTunnel: platform.consulUiTunnel,
        consulManagementToken: platform.consulManagementToken,
        [SWARM_FIXED_OUTPUT]: swarmFixedSettings(model),
        [CONSUL_AGENTS_OUTPUT]: platform.consulAgents,
        [BACKEND_PLACEMENT_OUTPUT]: platform.backendPlacement,
    };
};
