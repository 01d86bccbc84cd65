import * as fs from "fs";
import * as path from "path";

/**
 * The directory of Pulumi.yaml, found upwards: this module runs as lib/project.ts under ts-node and
 * jest, and as bin/lib/project.js when compiled.
 */
export const PROJECT_DIR = ((): string => {
    for (let dir = __dirname; ; dir = path.dirname(dir)) {
        if (fs.existsSync(path.join(dir, "Pulumi.yaml"))) return dir;
        if (path.dirname(dir) === dir) throw new Error(`no Pulumi.yaml in ${__dirname} or above`);
    }
})();

export const PROJECT_FILE = path.join(PROJECT_DIR, "Pulumi.yaml");
