// The services the app offers right now: the file's explicit entries plus every workload a selector entry matches; replaced on reload, followed live from the workload watches.
//
// Everything that lists or looks up services (the list endpoint, the page, both websocket
// streams, the restart flow, the status hub) reads `current()` and follows `onChange`, so a
// reload or a relabelled workload reaches all of them the same way.
import { type ConfigFile, type Kind, type SelectorEntry, type ServiceEntry, serviceId } from "../config/file.ts";
import { matchesRequirements } from "../config/label-selector.ts";
import type { ClusterView } from "../kube/cluster.ts";
import type { Workload } from "../kube/types.ts";

/** What changed, once per batch: `changed` are services whose settings (allowedUsers, viewGroups, ...) changed. */
export interface ServiceChange {
  added: ServiceEntry[];
  removed: ServiceEntry[];
  changed: ServiceEntry[];
}

export interface ServiceSet {
  /** The config as it applies now: `services` is every current service (explicit entries first, then selector matches by namespace, kind, name). */
  current(): ConfigFile;
  onChange(h: (c: ServiceChange) => void): () => void;
}

export interface OwnedServiceSet extends ServiceSet {
  /** A new (already validated) file: explicit entries and selectors replaced; services in both keep going. */
  replace(config: ConfigFile): void;
}

type Workloads = Pick<ClusterView, "workload" | "workloads" | "onChange">;

const SETTINGS = ["allowedUsers", "allowedGroups", "viewUsers", "viewGroups"] as const;

/** The service a selector entry makes of a workload: its key, and the entry's settings. */
function entryFrom(sel: SelectorEntry, kind: Kind, w: Workload): ServiceEntry {
  const e: ServiceEntry = { kind, namespace: w.metadata?.namespace ?? "", name: w.metadata?.name ?? "" };
  for (const k of SETTINGS) if (sel[k] !== undefined) e[k] = sel[k];
  return e;
}

/** The first selector entry that takes this workload (entries are tried in file order). */
export function selectorMatch(selectors: SelectorEntry[], kind: Kind, w: Workload | undefined): ServiceEntry | undefined {
  if (!w) return undefined;
  const ns = w.metadata?.namespace ?? "";
  const sel = selectors.find((s) => s.kinds.includes(kind) && (s.namespace === "*" || s.namespace === ns) && matchesRequirements(s.requirements, w.metadata?.labels));
  return sel && entryFrom(sel, kind, w);
}

const order = (a: ServiceEntry, b: ServiceEntry) => a.namespace.localeCompare(b.namespace) || a.kind.localeCompare(b.kind) || a.name.localeCompare(b.name);

class Set_ implements OwnedServiceSet {
  private config: ConfigFile;
  private explicit = new Map<string, ServiceEntry>();
  private readonly matched = new Map<string, ServiceEntry>();
  /** What listeners have been told, by id (JSON of the entry), to diff batches against. */
  private readonly told = new Map<string, string>();
  private readonly dirty = new Set<string>();
  private readonly listeners = new Set<(c: ServiceChange) => void>();
  private snapshot: ConfigFile | undefined;
  private flushing = false;
  /** The file's top-level defaults (allowedUsers, viewGroups, ...) changed: every service counts as changed. */
  private defaultsMoved = false;

  constructor(
    config: ConfigFile,
    private readonly view?: Workloads,
  ) {
    this.config = config;
    this.load(config);
    for (const [id, e] of this.entries()) this.told.set(id, JSON.stringify(e));
    view?.onChange((scope) => {
      if (scope.workload && scope.namespace !== undefined && this.config.selectors?.length) this.rematch(scope.workload.kind, scope.namespace, scope.workload.name);
    });
  }

  private *entries(): Iterable<[string, ServiceEntry]> {
    yield* this.explicit;
    for (const [id, e] of this.matched) if (!this.explicit.has(id)) yield [id, e];
  }

  private load(config: ConfigFile): void {
    this.explicit = new Map(config.services.map((s) => [serviceId(s), s]));
    this.matched.clear();
    for (const sel of config.selectors ?? []) {
      for (const kind of sel.kinds) {
        for (const w of this.view?.workloads(kind, sel.namespace) ?? []) {
          const id = serviceId({ kind, namespace: w.metadata?.namespace ?? "", name: w.metadata?.name ?? "" });
          if (this.matched.has(id)) continue;
          const e = selectorMatch(config.selectors!, kind, w);
          if (e) this.matched.set(id, e);
        }
      }
    }
  }

  private rematch(kind: Kind, namespace: string, name: string): void {
    const id = serviceId({ kind, namespace, name });
    const e = selectorMatch(this.config.selectors ?? [], kind, this.view?.workload({ kind, namespace, name }));
    if (e) this.matched.set(id, e);
    else this.matched.delete(id);
    this.mark([id]);
  }

  private mark(ids: Iterable<string>): void {
    for (const id of ids) this.dirty.add(id);
    if (this.flushing) return;
    this.flushing = true;
    // A relist delivers thousands of workload events in one go: they become one change.
    queueMicrotask(() => this.flush());
  }

  private flush(): void {
    this.flushing = false;
    const change: ServiceChange = { added: [], removed: [], changed: [] };
    for (const id of this.dirty) {
      const now = this.explicit.get(id) ?? this.matched.get(id);
      const before = this.told.get(id);
      if (!now) {
        if (before !== undefined) (change.removed.push(JSON.parse(before)), this.told.delete(id));
        continue;
      }
      const json = JSON.stringify(now);
      if (before === json && !this.defaultsMoved) continue;
      (before === undefined ? change.added : change.changed).push(now);
      this.told.set(id, json);
    }
    this.dirty.clear();
    this.defaultsMoved = false;
    if (!change.added.length && !change.removed.length && !change.changed.length) return;
    this.snapshot = undefined;
    for (const l of this.listeners) l(change);
  }

  replace(config: ConfigFile): void {
    const before = new Set([...this.told.keys()]);
    // Who may view or restart also follows the defaults an entry does not set itself.
    this.defaultsMoved ||= defaultsOf(this.config) !== defaultsOf(config);
    this.config = config;
    this.snapshot = undefined;
    this.load(config);
    this.mark([...before, ...[...this.entries()].map(([id]) => id)]);
  }

  current(): ConfigFile {
    if (!this.snapshot) {
      const matched = [...this.matched].filter(([id]) => !this.explicit.has(id)).map(([, e]) => e).sort(order);
      this.snapshot = { ...this.config, services: [...this.explicit.values(), ...matched] };
    }
    return this.snapshot;
  }

  onChange(h: (c: ServiceChange) => void): () => void {
    this.listeners.add(h);
    return () => void this.listeners.delete(h);
  }
}

/** `view` feeds selector entries; without it only explicit entries exist. */
export function makeServiceSet(config: ConfigFile, view?: Workloads): OwnedServiceSet {
  return new Set_(config, view);
}

/** Everything in the file but its entries: the top-level access defaults. */
const defaultsOf = (c: ConfigFile) => JSON.stringify({ ...c, services: undefined, selectors: undefined });
