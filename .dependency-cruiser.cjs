// The architecture's boundaries (README, "Architecture"), checked by `npm run lint`.
// Each top-level folder is one layer; a layer may import only layers below it:
//
//   core  <  submission  <  bus  <  store  <  functions/context.ts
//         <  worker, client, functions/<step>
//         <  local-bridge, slurm-bridge, gui, functions (registry, main)  <  supervisor
//         <  cli  <  bin, scripts
//
// functions/context.ts is what every function is written against (the bus context plus
// `sql`, and defineFunction), with functions/owners.ts (publishing for a workflow's
// owner): below the functions, above the bus and the store.
// store/ may use the bus's message types (the contracts); the bus never uses the store.
//
// Folders of one rank never import each other, so the folders form no cycle. test/,
// bench/ and clients/ are harnesses: they may import anything, nothing imports them.
// scripts/boundaries.test.ts adds a forbidden import for each rule and checks it fails.

/** The product's source folders, by rank: lower ranks never import higher ones. */
const RANKS = [
  ["core"],
  ["submission"],
  ["bus"],
  ["store"],
  ["functions/(context|owners)\\.ts$"],
  ["worker", "client", "functions/[^/]+/"],
  ["local-bridge", "slurm-bridge", "gui", "functions/(?!(context|owners)\\.ts$)[^/]+\\.ts$"],
  ["supervisor"],
  ["cli"],
  ["bin", "scripts"],
];

/** Tests live beside their modules and may import anything, test helpers included. */
const TESTS = "\\.test\\.ts$";

const folder = (name) => (name.endsWith("/") || name.endsWith("$") ? `^${name}` : `^${name}/`);
const anyOf = (names) => names.map(folder).join("|");

/** A layer may import only layers of a lower rank (and its own folder). */
const layerRules = RANKS.flatMap((names, rank) => {
  const higher = RANKS.slice(rank + 1).flat();
  const peers = names.length > 1 ? names : [];
  return names.map((name) => ({
    name: "no-folder-cycles",
    comment: `${name} is below ${[...higher, ...peers.filter((p) => p !== name)].join(", ")}: importing them could close a cycle between folders`,
    severity: "error",
    from: { path: folder(name), pathNot: TESTS },
    to: {
      path: anyOf([...higher, ...peers.filter((p) => p !== name)]),
      pathNot: folder(name),
    },
  }));
});

module.exports = {
  forbidden: [
    {
      name: "functions-stay-apart",
      comment: "functions talk over the bus, never by importing each other (DESIGN.md §1)",
      severity: "error",
      from: { path: "^functions/([^/]+)/", pathNot: TESTS },
      to: { path: "^functions/[^/]+/", pathNot: "^functions/$1/" },
    },
    {
      name: "lower-layers-stay-below",
      comment: "bus/, store/ and core/ serve everything above them and import none of it",
      severity: "error",
      from: { path: "^(bus|store|core)/", pathNot: TESTS },
      to: { path: "^(functions|cli|gui|local-bridge|slurm-bridge|supervisor|client|worker)/" },
    },
    {
      name: "bus-without-store",
      comment: "the bus carries messages; the SQL layer is the functions' business",
      severity: "error",
      from: { path: "^bus/", pathNot: TESTS },
      to: { path: "^store/" },
    },
    {
      name: "store-without-nats",
      comment:
        "the SQL layer reads and writes Postgres only: it may name the bus's message types, never publish",
      severity: "error",
      from: { path: "^store/", pathNot: TESTS },
      to: {
        path: "^bus/|(^|/)node_modules/@nats-io/",
        dependencyTypesNot: ["type-only"],
      },
    },
    {
      name: "nats-only",
      comment:
        "clients, workers, bridges and the supervisor need only NATS: login and compute nodes often cannot reach the database (DESIGN.md §1)",
      severity: "error",
      from: { path: "^(client|worker|local-bridge|slurm-bridge|supervisor)/", pathNot: TESTS },
      to: { path: "^store/|(^|/)node_modules/postgres/", reachable: true },
    },
    {
      name: "no-test-helpers-in-source",
      comment: "test helpers start private services; the product never imports them",
      severity: "error",
      from: {
        path: "^(bin|bus|cli|client|core|functions|gui|local-bridge|slurm-bridge|store|submission|supervisor|worker|scripts)/",
        pathNot: TESTS,
      },
      to: { path: "^test/|\\.test\\.ts$" },
    },
    ...layerRules,
  ],
  options: {
    tsPreCompilationDeps: true,
    doNotFollow: { path: "node_modules" },
    exclude: { path: "^dist/|^test-output/" },
    includeOnly: {
      path: "^(bin|bus|cli|client|core|functions|gui|local-bridge|slurm-bridge|store|submission|supervisor|worker|scripts|test|node_modules/postgres|node_modules/@nats-io)/",
    },
  },
};
