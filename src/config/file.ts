// The YAML config file → typed, validated services list; errors name the file and the YAML path.
import { Type, type Static } from "@sinclair/typebox";
import { Value, ValueErrorType } from "@sinclair/typebox/value";
import { parse as parseYaml } from "yaml";
import { ConfigError } from "./env.ts";
import { parseLabelSelector, type Requirement } from "./label-selector.ts";
import { DNS_LABEL, DNS_SUBDOMAIN } from "./names.ts";
import { closest } from "./suggest.ts";

export const KINDS = ["Deployment", "StatefulSet", "DaemonSet"] as const;
export type Kind = (typeof KINDS)[number];

const Names = Type.Array(Type.String({ minLength: 1 }));

const ServiceSchema = Type.Object(
  {
    kind: Type.Union(KINDS.map((k) => Type.Literal(k))),
    name: Type.String({ pattern: DNS_SUBDOMAIN }),
    namespace: Type.String({ pattern: DNS_LABEL }),
    allowedUsers: Type.Optional(Names),
    allowedGroups: Type.Optional(Names),
    viewUsers: Type.Optional(Names),
    viewGroups: Type.Optional(Names),
  },
  { additionalProperties: false },
);

/** `- namespace: shop` + `selector: "tier=web"`: every matching workload (of `kinds`, default all three); namespace "*" is every namespace. */
const SelectorSchema = Type.Object(
  {
    namespace: Type.Union([Type.String({ pattern: DNS_LABEL }), Type.Literal("*")]),
    selector: Type.String(),
    kinds: Type.Optional(Type.Array(Type.Union(KINDS.map((k) => Type.Literal(k))), { minItems: 1 })),
    allowedUsers: Type.Optional(Names),
    allowedGroups: Type.Optional(Names),
    viewUsers: Type.Optional(Names),
    viewGroups: Type.Optional(Names),
  },
  { additionalProperties: false },
);

const Defaults = {
  // Defaults for services that do not list their own allowedUsers/allowedGroups/view*.
  allowedUsers: Type.Optional(Names),
  allowedGroups: Type.Optional(Names),
  viewUsers: Type.Optional(Names),
  viewGroups: Type.Optional(Names),
};

/** The services file (CONFIG_FILE_PATH) as published in the OpenAPI document (ServicesFile): explicit and selector entries. */
export const ServicesFileSchema = Type.Object(
  { services: Type.Array(Type.Union([ServiceSchema, SelectorSchema])), ...Defaults },
  { additionalProperties: false },
);

/** The file's top level as validated; each entry is then checked against its own schema (for precise messages). */
const FileSchema = Type.Object(
  {
    // Each item is checked against ServiceSchema or SelectorSchema (by whether it has `selector`).
    services: Type.Array(Type.Unknown()),
    ...Defaults,
  },
  { additionalProperties: false },
);

export type ServiceEntry = Static<typeof ServiceSchema>;

export interface SelectorEntry extends Omit<Static<typeof SelectorSchema>, "kinds"> {
  kinds: Kind[];
  /** The parsed selector. */
  requirements: Requirement[];
  /** Position in the file's services list (for messages). */
  index: number;
}

/** The file as typed values: explicit entries in `services`, selector entries in `selectors`. */
export interface ConfigFile extends Omit<Static<typeof FileSchema>, "services"> {
  services: ServiceEntry[];
  selectors?: SelectorEntry[];
}

export interface ServiceKey {
  kind: Kind;
  namespace: string;
  name: string;
}

export function serviceId(s: ServiceKey): string {
  return `${s.kind}/${s.namespace}/${s.name}`;
}

/** The answer for a service that is not configured, or that the caller may not see: the two must read the same. */
export function notListed(kind: string, namespace: string, name: string): string {
  return `${kind} ${namespace}/${name} is not in the list of restartable services`;
}

/** "services[2].kind" from TypeBox's JSON pointer "/services/2/kind". */
function yamlPath(pointer: string): string {
  let out = "";
  for (const part of pointer.split("/").slice(1)) {
    out += /^\d+$/.test(part) ? `[${part}]` : out === "" ? part : `.${part}`;
  }
  return out === "" ? "(top level)" : out;
}

/** An unknown key, with the known key it is probably a typo of. */
function unknownKey(err: { path: string; schema: unknown }): string {
  const key = err.path.split("/").at(-1) ?? "";
  const known = Object.keys((err.schema as { properties?: object }).properties ?? {});
  const guess = closest(key, known);
  return `unknown key${guess ? ` (did you mean ${guess}?)` : `; expected one of ${known.join(", ")}`}`;
}

function expectation(err: { type: number; path: string; message: string; schema: unknown; value: unknown }): string {
  if (err.type === ValueErrorType.ObjectAdditionalProperties) return unknownKey(err);
  const schema = err.schema as { pattern?: string; anyOf?: { const?: unknown }[] };
  if (err.value === undefined) return "is required";
  if (schema.anyOf?.every((s) => s.const !== undefined)) {
    const names = schema.anyOf.map((s) => String(s.const));
    return `expected ${names.slice(0, -1).join(", ")} or ${names.at(-1)}, got ${JSON.stringify(err.value)}`;
  }
  if (schema.pattern === DNS_LABEL) return `expected a Kubernetes namespace name (DNS label), got ${JSON.stringify(err.value)}`;
  if (schema.pattern === DNS_SUBDOMAIN) return `expected a Kubernetes object name (DNS subdomain), got ${JSON.stringify(err.value)}`;
  return err.message.toLowerCase() + (err.value === undefined ? "" : `, got ${JSON.stringify(err.value)}`);
}

/** Throws naming `file` and the YAML path of the deepest error, if `value` does not fit `schema`. */
function check(schema: Parameters<typeof Value.Errors>[0], value: unknown, file: string, prefix = ""): void {
  // Check answers a valid value in a fraction of the time Errors takes to find none (200 entries at start).
  if (Value.Check(schema, value)) return;
  const errors = [...Value.Errors(schema, value)];
  if (errors.length === 0) return;
  // An unknown key first (a typo also makes the intended key "missing"), then the deepest error:
  // a union failure at services[2] is less helpful than services[2].kind.
  const unknown = errors.find((x) => x.type === ValueErrorType.ObjectAdditionalProperties);
  const e = unknown ?? errors.sort((a, b) => b.path.length - a.path.length)[0]!;
  throw new ConfigError(`${file}: ${yamlPath(prefix + e.path)}: ${expectation(e)}`);
}

function selectorEntry(item: Static<typeof SelectorSchema>, i: number, file: string): SelectorEntry {
  let requirements: Requirement[];
  try {
    requirements = parseLabelSelector(item.selector);
  } catch (e) {
    throw new ConfigError(`${file}: services[${i}].selector: ${(e as Error).message}`);
  }
  return { ...item, kinds: item.kinds ?? [...KINDS], requirements, index: i };
}

/** Validates already-parsed YAML. `file` is only used in messages. */
export function parseConfigFile(doc: unknown, file: string): ConfigFile {
  if (doc === null || doc === undefined) throw new ConfigError(`${file}: the file is empty; expected "services:" with a list`);
  check(FileSchema, doc, file);
  const raw = doc as Static<typeof FileSchema>;
  const services: ServiceEntry[] = [];
  const selectors: SelectorEntry[] = [];
  const seen = new Map<string, number>();
  raw.services.forEach((item, i) => {
    const isSelector = typeof item === "object" && item !== null && "selector" in item;
    check(isSelector ? SelectorSchema : ServiceSchema, item, file, `/services/${i}`);
    if (isSelector) return void selectors.push(selectorEntry(item as Static<typeof SelectorSchema>, i, file));
    const s = item as ServiceEntry;
    const id = serviceId(s);
    const first = seen.get(id);
    if (first !== undefined) throw new ConfigError(`${file}: services[${i}]: duplicate of services[${first}] (${id})`);
    seen.set(id, i);
    services.push(s);
  });
  return { ...raw, services, ...(selectors.length ? { selectors } : {}) };
}

/** Parses and validates the file's text; every error names `path` and the YAML path. */
export function parseConfigText(text: string, path: string): ConfigFile {
  let doc: unknown;
  try {
    doc = parseYaml(text, { prettyErrors: true });
  } catch (e) {
    throw new ConfigError(`${path}: invalid YAML: ${(e as Error).message}`);
  }
  return parseConfigFile(doc, path);
}

/** The file's text; a missing or unreadable file is a ConfigError naming CONFIG_FILE_PATH. */
export async function readConfigText(path: string): Promise<string> {
  const f = Bun.file(path);
  if (!(await f.exists())) throw new ConfigError(`CONFIG_FILE_PATH: ${path}: no such file`);
  try {
    return await f.text();
  } catch (e) {
    throw new ConfigError(`CONFIG_FILE_PATH: ${path}: cannot read it: ${(e as Error).message}`);
  }
}

export async function loadConfigFile(path: string): Promise<ConfigFile> {
  return parseConfigText(await readConfigText(path), path);
}
