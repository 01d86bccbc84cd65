import { loadPlatformConfig } from "./lib/config";
import { Platform } from "./components/Platform";

const { model, sshPrivateKey } = loadPlatformConfig();
const platform = new Platform("platform", { model, sshPrivateKey });

export const managerAddress = platform.managerAddress;
export const nodes = platform.nodes;
export const overlayNetwork = platform.overlay;
export const gwbridgeSubnet = model.gwbridge.subnet;
export const tierNetworks = platform.tierNetworks;
export const edgeUrls = platform.edgeUrls;
// null, not undefined: the engine warns on every run about an undefined stack output.
export const vipUrl = platform.vipUrl ?? null;
export const consulUiUrl = platform.consulUiUrl;
export const consulUiTunnel = platform.consulUiTunnel;
