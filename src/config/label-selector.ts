// Kubernetes label-selector text ("tier=web,team!=data,env in (prod,stage),!legacy") → requirements, and matching labels against them.
//
// The grammar is the API server's: requirements separated by commas (commas inside parentheses
// belong to a set); `key`, `!key`, `key=v`, `key==v`, `key!=v`, `key in (a,b)`, `key notin (a,b)`.
// Keys are an optional DNS-subdomain prefix and a name; values are label values (≤ 63 characters).

export type Requirement =
  | { key: string; op: "exists" | "!exists" }
  | { key: string; op: "=" | "!="; value: string }
  | { key: string; op: "in" | "notin"; values: string[] };

const NAME = /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)$/;
const PREFIX = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const VALUE = /^(([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?)$/;

function checkKey(key: string): string {
  const slash = key.lastIndexOf("/");
  const [prefix, name] = slash >= 0 ? [key.slice(0, slash), key.slice(slash + 1)] : ["", key];
  if (slash >= 0 && (prefix.length > 253 || !PREFIX.test(prefix))) throw new Error(`invalid label key ${JSON.stringify(key)}: the prefix must be a DNS subdomain`);
  if (!NAME.test(name)) throw new Error(`invalid label key ${JSON.stringify(key)}`);
  return key;
}

function checkValue(v: string): string {
  if (!VALUE.test(v)) throw new Error(`invalid label value ${JSON.stringify(v)}`);
  return v;
}

/** Splits on commas that are not inside parentheses. */
function parts(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = "";
  for (const ch of text) {
    if (ch === "(") depth++;
    if (ch === ")") depth--;
    if (depth < 0) throw new Error("unbalanced parentheses");
    if (ch === "," && depth === 0) (out.push(cur), (cur = ""));
    else cur += ch;
  }
  if (depth !== 0) throw new Error("unbalanced parentheses");
  out.push(cur);
  return out.map((p) => p.trim());
}

function requirement(p: string): Requirement {
  if (p === "") throw new Error("empty requirement (a stray comma?)");
  const set = /^(\S+)\s+(in|notin)\s*\((.*)\)$/.exec(p);
  if (set) {
    const values = set[3]!.split(",").map((v) => checkValue(v.trim()));
    if (values.length === 0 || values.every((v) => v === "")) throw new Error(`${JSON.stringify(p)}: a set needs at least one value`);
    return { key: checkKey(set[1]!), op: set[2] as "in" | "notin", values };
  }
  const eq = /^([^=!\s]+)\s*(==|=|!=)\s*(.*)$/.exec(p);
  if (eq) return { key: checkKey(eq[1]!), op: eq[2] === "!=" ? "!=" : "=", value: checkValue(eq[3]!.trim()) };
  if (p.startsWith("!")) return { key: checkKey(p.slice(1).trim()), op: "!exists" };
  if (/\s/.test(p)) throw new Error(`cannot read ${JSON.stringify(p)}: expected key, !key, key=value, key!=value, key in (…) or key notin (…)`);
  return { key: checkKey(p), op: "exists" };
}

/** Parses selector text; throws an Error saying what is wrong. An empty selector is refused (it would select everything by accident). */
export function parseLabelSelector(text: string): Requirement[] {
  if (text.trim() === "") throw new Error('empty selector: write one, e.g. "tier=web"');
  return parts(text).map(requirement);
}

export function matchesRequirements(reqs: Requirement[], labels: Record<string, string> | undefined): boolean {
  const l = labels ?? {};
  return reqs.every((r) => {
    const has = Object.hasOwn(l, r.key);
    switch (r.op) {
      case "exists":
        return has;
      case "!exists":
        return !has;
      case "=":
        return has && l[r.key] === r.value;
      case "!=":
        return !has || l[r.key] !== r.value;
      case "in":
        return has && r.values.includes(l[r.key]!);
      case "notin":
        return !has || !r.values.includes(l[r.key]!);
    }
  });
}
