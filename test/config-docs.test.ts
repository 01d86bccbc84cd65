import * as fs from "fs";
import * as path from "path";
import { PROJECT_DIR } from "../lib/project";
import { CONFIG_DOC, TABLE_BEGIN, TABLE_END, configTable, withConfigTable } from "../scripts/config-docs";

const read = (file: string): string => fs.readFileSync(path.join(PROJECT_DIR, file), "utf8");

test("docs/configuration.md's table is the one Pulumi.yaml generates", () => {
    const doc = read(CONFIG_DOC);
    if (withConfigTable(doc, configTable(read("Pulumi.yaml"))) !== doc) {
        throw new Error(
            `${CONFIG_DOC} differs from what Pulumi.yaml's config generates: run \`npm run docs:config\` and commit the result`,
        );
    }
});

describe("configTable", () => {
    const pulumiYaml = `name: p
runtime: nodejs
config:
  port:
    type: integer
    description: Port the edge listens on.
    default: 80
  hosts:
    description: |-
      The hosts. Each host:
      - name: its name
  names:
    type: array
    items: { type: string }
    description: "Either a | b."
    default: [a, b]
  tiers:
    description: Bridges net_<name>, named \`br-<name>\`.
    default:
      - { name: app, subnet: 172.30.12.0/24 }
      - { name: db, subnet: 172.30.10.0/24 }
  key:
    type: string
    secret: true
    description: A key.
    default: ""
`;

    test("a row per key, in the file's order, with its type, default and description, escaped for a table cell", () => {
        expect(configTable(pulumiYaml).split("\n")).toEqual([
            "| key | type | default | description |",
            "| --- | --- | --- | --- |",
            "| `port` | integer | `80` | Port the edge listens on. |",
            "| `hosts` | — | (required) | The hosts. Each host:<br>- name: its name |",
            "| `names` | list of string | `a`<br>`b` | Either a \\| b. |",
            "| `tiers` | — | `{name: app, subnet: 172.30.12.0/24}`<br>`{name: db, subnet: 172.30.10.0/24}` | Bridges net_&lt;name&gt;, named `br-<name>`. |",
            '| `key` | string, secret | `""` | A key. |',
        ]);
    });

    test("a key without a description is an error naming the key", () => {
        expect(() => configTable("config:\n  edgePort:\n    type: integer\n    default: 80\n")).toThrow(
            "config key edgePort has no description",
        );
    });
});

describe("withConfigTable", () => {
    test("replaces only what stands between the markers", () => {
        const doc = `# Config\n\nIntro.\n\n${TABLE_BEGIN}\nold table\n${TABLE_END}\n\n## Validation\n`;
        expect(withConfigTable(doc, "| new |")).toBe(`# Config\n\nIntro.\n\n${TABLE_BEGIN}\n| new |\n${TABLE_END}\n\n## Validation\n`);
    });

    test("a doc without the markers is an error", () => {
        expect(() => withConfigTable("# Config\n", "| new |")).toThrow("no config table markers");
    });
});
