/**
 * docs/configuration.md's table of config keys, generated from Pulumi.yaml's `config:` so the two cannot
 * disagree: Pulumi.yaml holds every key's type, default and description (the engine and the program
 * read it too), the doc shows them. Everything outside the table's markers is the doc's own text.
 *
 *   npm run docs:config        rewrites the table in docs/configuration.md
 */
import * as fs from "fs";
import * as path from "path";
import * as yaml from "js-yaml";
import { PROJECT_DIR } from "../lib/project";

/** The doc the table lives in, relative to the project directory. */
export const CONFIG_DOC = "docs/configuration.md";

export const TABLE_BEGIN =
    "<!-- BEGIN config table: generated from Pulumi.yaml by `npm run docs:config`; edit Pulumi.yaml, not this table -->";
export const TABLE_END = "<!-- END config table -->";

/** A key of Pulumi.yaml's `config:`, as Pulumi's project schema declares one. */
interface ConfigKey {
    type?: string;
    items?: { type: string };
    description?: string;
    default?: unknown;
    secret?: boolean;
}

/** Angle brackets outside code spans, escaped: markdown would take `<name>` for an HTML tag and hide it. */
const escapeTags = (text: string): string =>
    text
        .split("`")
        .map((part, i) => (i % 2 === 0 ? part.replace(/</g, "&lt;").replace(/>/g, "&gt;") : part))
        .join("`");

/** Text for one table cell: pipes and tags escaped, line breaks kept as <br>. */
const cell = (text: string): string => escapeTags(text).replace(/\|/g, "\\|").replace(/\n/g, "<br>");

const code = (text: string): string => `\`${text}\``;

function typeOf(key: ConfigKey): string {
    if (key.type === undefined) return "—";
    const type = key.type === "array" && key.items ? `list of ${key.items.type}` : key.type;
    return key.secret ? `${type}, secret` : type;
}

/** One YAML line per value (flow style), so a list of objects reads as it is written in a stack file. */
const flow = (value: unknown): string => yaml.dump(value, { flowLevel: 0, lineWidth: -1 }).trim();

function defaultOf(key: ConfigKey): string {
    if (key.default === undefined) return "(required)";
    if (key.default === "") return code('""');
    if (Array.isArray(key.default)) return key.default.map((item) => code(flow(item))).join("\n");
    return code(flow(key.default));
}

/** The markdown table of Pulumi.yaml's config keys, in the file's order; a key without a description is an error. */
export function configTable(pulumiYaml: string): string {
    const project = yaml.load(pulumiYaml) as { config?: Record<string, ConfigKey> };
    const rows = Object.entries(project.config ?? {}).map(([name, key]) => {
        if (!key.description?.trim()) throw new Error(`Pulumi.yaml: config key ${name} has no description; give it one`);
        return `| ${code(name)} | ${typeOf(key)} | ${cell(defaultOf(key))} | ${cell(key.description.trim())} |`;
    });
    return ["| key | type | default | description |", "| --- | --- | --- | --- |", ...rows].join("\n");
}

/** `doc` with the text between its table markers replaced by `table`. */
export function withConfigTable(doc: string, table: string): string {
    const begin = doc.indexOf(TABLE_BEGIN);
    const end = doc.indexOf(TABLE_END);
    if (begin < 0 || end < begin)
        throw new Error(`the doc has no config table markers: put ${TABLE_BEGIN} and ${TABLE_END} where the table goes`);
    return `${doc.slice(0, begin)}${TABLE_BEGIN}\n${table}\n${doc.slice(end)}`;
}

if (require.main === module) {
    const docPath = path.join(PROJECT_DIR, CONFIG_DOC);
    const doc = fs.readFileSync(docPath, "utf8");
    fs.writeFileSync(docPath, withConfigTable(doc, configTable(fs.readFileSync(path.join(PROJECT_DIR, "Pulumi.yaml"), "utf8"))));
    console.log(`${CONFIG_DOC}: config table written from Pulumi.yaml`);
}
