import js from "@eslint/js";
import tseslint from "typescript-eslint";

/**
 * Layers point one way: index -> components -> render -> lib. The deployed program (those four) never
 * reaches into the rig or the tests; the rig and the tests share helpers through support/ only.
 */
const layer = (files, forbidden, why) => ({
  files,
  rules: {
    "no-restricted-imports": ["error", { patterns: [{ regex: `^(\\.\\.?/)+(${forbidden.join("|")})(/|$)`, message: why }] }],
  },
});

export default tseslint.config(
  { ignores: ["node_modules/", "bin/", "**/*.js", "**/*.mjs"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      "@typescript-eslint/no-explicit-any": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_" }],
    },
  },
  layer(["lib/**/*.ts"], ["index", "components", "render", "rig", "test", "support"], "lib/ is the bottom layer: it imports only lib/."),
  layer(["render/**/*.ts"], ["index", "components", "rig", "test", "support"], "render/ imports only render/ and lib/."),
  layer(["components/**/*.ts"], ["index", "rig", "test", "support"], "components/ import components/, render/ and lib/ only."),
  layer(["index.ts"], ["rig", "test", "support"], "the program never imports the rig or the tests."),
  layer(["support/**/*.ts"], ["rig", "test"], "support/ is shared by rig/ and test/ and imports neither."),
  layer(["rig/**/*.ts"], ["test"], "the rig shares helpers with the tests through support/, not test/."),
  layer(
    ["test/**/*.ts"],
    ["rig"],
    "the tests share helpers with the rig through support/; tests of the rig's own code live beside it in rig/.",
  ),
);
