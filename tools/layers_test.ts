import assert from "node:assert/strict";
import { checkLayers, type LayersConfig } from "./layers.ts";

const config: LayersConfig = { pure: [{ path: "src/boot/" }], allowed: [] };

/** One violation of each rule, and look-alikes that must pass. */
const tree = new Map<string, string>([
  // a -> b -> a: one cycle; x.ts also reaches past b's mod.ts.
  ["src/a/mod.ts", `export * from "./x.ts";\nimport { b } from "../b/mod.ts";\n`],
  ["src/a/x.ts", `import {\n  y,\n} from "../b/y.ts";\nexport const x = y;\n`],
  ["src/b/mod.ts", `export { a } from "../a/mod.ts";\nexport * from "./y.ts";\n`],
  ["src/b/y.ts", `import { DecodeError } from "../errors.ts";\nexport const y = 1;\n`],
  ["src/errors.ts", `export class DecodeError extends Error {}\n`],
  // A pure file: Deno.* in code, not in comments or strings.
  [
    "src/boot/p.ts",
    `// Deno.exit() would be wrong here\nconst s = "Deno.readFile";\n` +
    "const t = `${s}`;\nexport const f = () => Deno.readFile(t);\n",
  ],
  ["src/boot/p_test.ts", `Deno.test("p", () => {});\nimport { m } from "../testing/m.ts";\n`],
  ["src/testing/m.ts", `export const m = 1;\n`],
  // SQL: only outside src/store, and not in tests.
  ["src/c/q.ts", `export const q = "SELECT mac FROM leases";\nconst n = "select a file";\n`],
  ["src/c/q_test.ts", `const q = "DELETE FROM leases";\n`],
  ["src/store/s.ts", `export const s = "INSERT INTO leases VALUES (1)";\n`],
]);

Deno.test("checkLayers() finds one deep import, one cycle, one impure call and one SQL string", () => {
  const found = checkLayers(tree, config).map((v) => `${v.file}:${v.line}: ${v.rule}`);
  assert.deepEqual(found, [
    "src/a/mod.ts:2: cycle",
    "src/a/x.ts:1: deep-import",
    "src/boot/p.ts:4: impure",
    "src/c/q.ts:1: sql",
  ]);
  const cycle = checkLayers(tree, config).find((v) => v.rule === "cycle")!;
  assert.match(cycle.message, /src\/a -> src\/b -> src\/a$/);
});

Deno.test("checkLayers() keeps src/testing for tests and src/net out of pure files", () => {
  const found = checkLayers(
    new Map([
      ["src/boot/q.ts", `import { m } from "../testing/m.ts";\nimport("../net/mod.ts");\n`],
      ["src/testing/m.ts", `export const m = 1;\n`],
      ["src/net/mod.ts", `export const n = 1;\n`],
    ]),
    config,
  ).map((v) => `${v.file}:${v.line}: ${v.rule}`);
  assert.deepEqual(found, ["src/boot/q.ts:1: deep-import", "src/boot/q.ts:2: impure"]);
});

Deno.test("checkLayers() honours the allow-list and reports entries that match nothing", () => {
  const found = checkLayers(tree, {
    ...config,
    allowed: [
      { file: "src/c/q.ts", rule: "sql", detail: "SELECT", reason: "test" },
      { file: "src/c/gone.ts", rule: "sql", detail: "SELECT", reason: "test" },
    ],
  }).map((v) => `${v.file}: ${v.rule}`);
  assert.ok(!found.includes("src/c/q.ts: sql"));
  assert.ok(found.includes("src/c/gone.ts: allow-list"));
});
