/**
 * The product's layers, lowest first. A module may import from its own layer and the layers
 * below it, never from a layer above: config -> planning -> rendering -> components -> index.ts
 * read as "is used by". `addressing` (IPv4/CIDR math) sits under config because validation
 * needs it. `cloud-init/` (user-data renderers) and `rendering/` (operator bundles and the
 * deploy-verification scripts, which build on the user-data renderers) form the rendering layer.
 * Test kits, the labs, benchmarks and tests are not product code: the product never imports
 * them. Checked by `npm run lint` (depcruise) and scripts/layers.test.ts.
 */
const LAYERS = ["addressing", "config", "planning", "cloud-init", "rendering", "components"];
const NOT_PRODUCT = "^(testkit|lab|bench|tests|scripts|policy|examples)/";
const TESTS = "\\.test\\.ts$";

const upward = LAYERS.map((layer, i) => ({
  name: `no-upward-from-${layer}`,
  comment: `${layer}/ may import only from ${LAYERS.slice(0, i + 1).join(", ")}`,
  severity: "error",
  from: { path: `^${layer}/`, pathNot: TESTS },
  to: { path: [...LAYERS.slice(i + 1).map((l) => `^${l}/`), "^index\\.ts$", "^plugin\\.ts$"] },
}));

module.exports = {
  forbidden: [
    {
      name: "no-circular",
      comment: "import cycles hide the real direction of a dependency",
      severity: "error",
      from: { pathNot: TESTS },
      to: { circular: true },
    },
    ...upward,
    {
      name: "product-never-imports-test-code",
      comment: "test kits, labs and benchmarks sit beside the product, not under it",
      severity: "error",
      from: { path: `^(${LAYERS.join("|")})/|^(index|plugin)\\.ts$`, pathNot: TESTS },
      to: { path: NOT_PRODUCT },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    exclude: { path: "(^|/)node_modules/" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    moduleSystems: ["cjs", "es6"],
  },
};
