// The layout's promises, checked from the source: imports run one way (config → kube → status → restart → http → main), no cycles, short functions, small entry files.
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import ts from "typescript";

const SRC = resolve(import.meta.dir, "../../src");
const files = (function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? walk(p) : p.endsWith(".ts") && !p.endsWith(".d.ts") ? [p] : [];
  });
})(SRC);
const rel = (p: string) => relative(SRC, p);

/** Lower layers never import higher ones. Files at the top of src/ other than main.ts are leaves, commands, or startup.ts (the cluster side main.ts serves). */
const LAYER: [RegExp, number][] = [
  [/^(config\/|log\.ts$|version\.ts$|metrics\.ts$|host\.ts$)/, 0],
  [/^kube\//, 1],
  [/^status\//, 2],
  [/^restart\//, 3],
  [/^(http\/|rbac\.ts$)/, 4],
  // Listen first (issue 14): the cluster side, assembled below http and staged behind the listening server.
  [/^startup\.ts$/, 4],
  [/^main\.ts$/, 5],
];
const layer = (p: string) => LAYER.find(([re]) => re.test(rel(p)))?.[1] ?? -1;

function localImports(file: string): string[] {
  const sf = ts.createSourceFile(file, readFileSync(file, "utf8"), ts.ScriptTarget.Latest, true);
  const out: string[] = [];
  sf.forEachChild((n) => {
    if ((ts.isImportDeclaration(n) || ts.isExportDeclaration(n)) && n.moduleSpecifier && ts.isStringLiteral(n.moduleSpecifier)) {
      const spec = n.moduleSpecifier.text;
      if (spec.startsWith(".") && spec.endsWith(".ts")) out.push(resolve(dirname(file), spec));
    }
  });
  return out;
}

describe("structure of src/", () => {
  test("every file has a layer", () => {
    expect(files.filter((f) => layer(f) < 0).map(rel)).toEqual([]);
  });

  test("no import runs up the layers", () => {
    const upward = files.flatMap((f) => localImports(f).filter((to) => layer(to) > layer(f)).map((to) => `${rel(f)} → ${rel(to)}`));
    expect(upward).toEqual([]);
  });

  test("no import cycles", () => {
    const graph = new Map(files.map((f) => [f, localImports(f)]));
    const cycles: string[] = [];
    const state = new Map<string, "open" | "done">();
    const visit = (f: string, path: string[]) => {
      if (state.get(f) === "done") return;
      if (state.get(f) === "open") return void cycles.push([...path.slice(path.indexOf(f)), f].map(rel).join(" → "));
      state.set(f, "open");
      for (const to of graph.get(f) ?? []) visit(to, [...path, f]);
      state.set(f, "done");
    };
    for (const f of files) visit(f, []);
    expect(cycles).toEqual([]);
  });

  test("no function is longer than 60 lines", () => {
    const long: string[] = [];
    for (const f of files) {
      const sf = ts.createSourceFile(f, readFileSync(f, "utf8"), ts.ScriptTarget.Latest, true);
      const visit = (n: ts.Node) => {
        if (ts.isFunctionLike(n) && "body" in n && n.body) {
          const lines = sf.getLineAndCharacterOfPosition(n.getEnd()).line - sf.getLineAndCharacterOfPosition(n.getStart()).line + 1;
          if (lines > 60) long.push(`${rel(f)}:${sf.getLineAndCharacterOfPosition(n.getStart()).line + 1} (${lines} lines)`);
        }
        ts.forEachChild(n, visit);
      };
      visit(sf);
    }
    expect(long).toEqual([]);
  });

  test("the entry files stay small: http/server.ts ≤ 200 lines, main.ts ≤ 120", () => {
    const lines = (p: string) => readFileSync(join(SRC, p), "utf8").split("\n").length;
    expect(lines("http/server.ts")).toBeLessThanOrEqual(200);
    expect(lines("main.ts")).toBeLessThanOrEqual(120);
  });
});
