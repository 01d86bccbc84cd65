import * as fs from "fs";
import * as path from "path";

/** The file's content, or "" for one another process removed since it was listed. */
function contentOf(file: string): string {
    try {
        return fs.readFileSync(file, "latin1");
    } catch (e) {
        if ((e as NodeJS.ErrnoException).code === "ENOENT") return "";
        throw e;
    }
}

/** Regular files directly in `dir`, modified at or after `modifiedSinceMs`, whose content includes `text`. */
export const filesHolding = (dir: string, text: string, modifiedSinceMs = 0): string[] =>
    fs
        .readdirSync(dir, { withFileTypes: true })
        .filter((e) => e.isFile() && (fs.statSync(path.join(dir, e.name), { throwIfNoEntry: false })?.mtimeMs ?? -1) >= modifiedSinceMs)
        .map((e) => path.join(dir, e.name))
        .filter((file) => contentOf(file).includes(text));
