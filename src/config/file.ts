// The YAML config file → typed, validated services list; errors name the file and the YAML path.
import { Type, type Static } from "@sinclair/typebox";
import { Value, ValueErrorType } from "@sinclair/typebox/value";
import { parse as parseYaml } from "yaml";
import { ConfigError } from "./env.ts";
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

/** The services file (CONFIG_FILE_PATH); published in the OpenAPI document as ServicesFile. */
export const FileSchema = Type.Object(
  {
    services: Type.Array(ServiceSchema),
    // Defaults for services that do not list their own allowedUsers/allowedGroups/view*.
    allowedUsers: Type.Optional(Names),
    allowedGroups: Type.Optional(Names),
    viewUsers: Type.Optional(Names),
    viewGroups: Type.Optional(Names),
  },
  { additionalProperties: false },
);

export type ServiceEntry = Static<typeof ServiceSchema>;
export type ConfigFile = Static<typeof FileSchema>;

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

/** Validates already-parsed YAML. `file` is only used in messages. */
export function parseConfigFile(doc: unknown, file: string): ConfigFile {
  if (doc === null || doc === undefined) throw new ConfigError(`${file}: the file is empty; expected "services:" with a list`);
  const errors = [...Value.Errors(FileSchema, doc)];
  if (errors.length > 0) {
    // An unknown key first (a typo also makes the intended key "missing"), then the deepest error:
    // a union failure at services[2] is less helpful than services[2].kind.
    const unknown = errors.find((x) => x.type === ValueErrorType.ObjectAdditionalProperties);
    const e = unknown ?? errors.sort((a, b) => b.path.length - a.path.length)[0]!;
    throw new ConfigError(`${file}: ${yamlPath(e.path)}: ${expectation(e)}`);
  }
  const cfg = doc as ConfigFile;
  const seen = new Map<string, number>();
  cfg.services.forEach((s, i) => {
    const id = serviceId(s);
    const first = seen.get(id);
    if (first !== undefined) throw new ConfigError(`${file}: services[${i}]: duplicate of services[${first}] (${id})`);
    seen.set(id, i);
  });
  return cfg;
}

export async function loadConfigFile(path: string): Promise<ConfigFile> {
  const f = Bun.file(path);
  if (!(await f.exists())) throw new ConfigError(`CONFIG_FILE_PATH: ${path}: no such file`);
  let text: string;
  try {
    text = await f.text();
  } catch (e) {
    throw new ConfigError(`CONFIG_FILE_PATH: ${path}: cannot read it: ${(e as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text, { prettyErrors: true });
  } catch (e) {
    throw new ConfigError(`${path}: invalid YAML: ${(e as Error).message}`);
  }
  return parseConfigFile(doc, path);
}
