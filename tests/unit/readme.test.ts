// Keeps README.md's examples in step with deploy/: the RBAC example's namespace is the one deploy/ installs into.
import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse, parseAllDocuments } from "yaml";

const ROOT = join(import.meta.dir, "../..");

test("the README's RBAC example uses deploy/'s namespace", () => {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  const rbac = readme.slice(readme.indexOf("## RBAC"), readme.indexOf("## Metrics"));
  const docs = [...rbac.matchAll(/```yaml\n([\s\S]*?)```/g)].flatMap((m) => parseAllDocuments(m[1]!).map((d) => d.toJS() as Record<string, any>));
  const namespaced = docs.filter((d) => d.metadata?.namespace !== undefined);
  expect(namespaced.length).toBeGreaterThan(0);
  const overlay = parse(readFileSync(join(ROOT, "deploy/overlays/example/kustomization.yaml"), "utf8")) as { namespace: string };
  for (const d of namespaced) expect(`${d.kind} ${d.metadata.namespace}`).toBe(`${d.kind} ${overlay.namespace}`);
  expect(rbac).toContain(`rbac --namespace ${overlay.namespace} `);
});
