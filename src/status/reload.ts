// Live reload of the services file: a new file is validated completely, its permissions checked, then it replaces the running one (services, watches); an invalid one is refused and reported while the old one keeps serving.
import { type ConfigFile, parseConfigText, readConfigText, serviceId } from "../config/file.ts";
import { watchFile } from "../config/watch-file.ts";
import type { AccessReport } from "../kube/access.ts";
import { scopeKey } from "../kube/access.ts";
import { type ClusterView, scopesOf, selectorScopes, type WatchScope } from "../kube/cluster.ts";
import type { Logger } from "../log.ts";
import type { OwnedServiceSet, ServiceChange } from "./service-set.ts";

/** The scopes to watch: explicit services the app may watch, and selector scopes it may list and watch. */
export function watchScopes(config: ConfigFile, access: AccessReport): WatchScope[] {
  const explicit = scopesOf(config.services.filter((s) => !access.unwatchable.has(serviceId(s))));
  const blind = (sc: WatchScope) => (access.scopes?.get(scopeKey(sc)) ?? []).some((m) => /^(list|watch) /.test(m));
  return [...explicit, ...selectorScopes(config).filter((sc) => !blind(sc))];
}

/** A service a selector entry made: the rights its scope lacks (explicit services have their own check). */
function scopeProblems(access: AccessReport, s: { kind: string; namespace: string }): string[] | undefined {
  return access.scopes?.get(`${s.kind}/${s.namespace}`) ?? access.scopes?.get(`${s.kind}/*`);
}

/**
 * Keeps `access.unusable` (read by the page, the live cards and the restart flow) covering
 * services selector entries add at runtime: they lack what their scope lacks.
 */
export function followScopeAccess(set: OwnedServiceSet, access: AccessReport, explicit: () => Set<string>): () => void {
  const apply = (c: ServiceChange) => {
    for (const s of c.removed) if (!explicit().has(serviceId(s))) access.unusable.delete(serviceId(s));
    for (const s of [...c.added, ...c.changed]) {
      if (explicit().has(serviceId(s))) continue;
      const missing = scopeProblems(access, s);
      if (missing?.length) access.unusable.set(serviceId(s), missing);
      else access.unusable.delete(serviceId(s));
    }
  };
  set.onChange(apply);
  // A new report (reload, or the permission monitor re-checking) replaces `unusable` whole: every
  // current selector-made service gets its scope's answer again.
  return () => apply({ added: set.current().services, removed: [], changed: [] });
}

/** Replaces the report's contents in place: everything holding it sees the new answers. */
function replaceAccess(into: AccessReport, from: AccessReport): void {
  for (const m of [into.unusable, into.unwatchable]) m.clear();
  for (const [k, v] of from.unusable) into.unusable.set(k, v);
  for (const [k, v] of from.unwatchable) into.unwatchable.set(k, v);
  into.missingEvents.splice(0, into.missingEvents.length, ...from.missingEvents);
  // The same array the watches read (issue 11's detail watches follow it on setScopes).
  into.missingDetails.splice(0, into.missingDetails.length, ...from.missingDetails);
  into.scopes = from.scopes;
}

export interface ReloadDeps {
  path: string;
  /** The text the running config was read from. */
  text: string;
  set: OwnedServiceSet;
  view: ClusterView;
  /** The running self-check report; updated in place on reload. */
  access: AccessReport;
  /** The self-check for a new config. */
  check(config: ConfigFile): Promise<AccessReport>;
  failures: { inc(): void };
  log: Logger;
  /** Called after a new file (and its permission report) is in place. */
  refreshed?(): void;
}

export interface Reloader {
  /** Reads the file; applies it if it changed (or always, when `force`). */
  reload(trigger: string, force?: boolean): Promise<void>;
  /** Why the last reload was refused, or "" (for /readyz and the operators' banner). */
  problem: { current(): string; onChange(h: (text: string) => void): void };
  explicitIds(): Set<string>;
  /** Gives services selector entries made their scope's missing rights again, after a new permission report. */
  reapplyScopes(): void;
  /** /readyz lines: a `degraded:` line while the last reload is refused. */
  readiness(): string[];
  stop(): void;
}

export function makeReloader(d: ReloadDeps): Reloader {
  let lastText = d.text;
  let problem = "";
  let explicit = new Set(d.set.current().services.map(serviceId));
  const problemHandlers: ((t: string) => void)[] = [];
  const setProblem = (p: string) => {
    if (p === problem) return;
    problem = p;
    for (const h of problemHandlers) h(p);
  };
  let queue = Promise.resolve();

  async function apply(trigger: string, force: boolean): Promise<void> {
    let text: string;
    let config: ConfigFile;
    try {
      text = await readConfigText(d.path);
      if (text === lastText && !force) return;
      lastText = text;
      config = parseConfigText(text, d.path);
    } catch (e) {
      const message = (e as Error).message;
      if (message === problem && !force) return;
      d.failures.inc();
      setProblem(message);
      return d.log("error", "config reload refused; the previous config stays in use", { path: d.path, trigger, error: message });
    }
    await swap(config, trigger);
  }

  async function swap(config: ConfigFile, trigger: string): Promise<void> {
    try {
      replaceAccess(d.access, await d.check(config));
    } catch (e) {
      d.log("warn", "permission self-check failed on reload; assuming full permissions", { error: String((e as Error).message) });
    }
    explicit = new Set(config.services.map(serviceId));
    d.set.replace(config);
    d.view.setScopes(watchScopes(config, d.access));
    setProblem("");
    reapplyScopes();
    d.refreshed?.();
    d.log("info", "config reloaded", { path: d.path, trigger, services: config.services.length, selectors: config.selectors?.length ?? 0 });
  }

  const reapplyScopes = followScopeAccess(d.set, d.access, () => explicit);
  const reload = (trigger: string, force = false) => (queue = queue.then(() => apply(trigger, force)).catch(() => {}));
  const stopWatch = watchFile(d.path, () => void reload("file changed"));
  return {
    reload,
    problem: { current: () => problem, onChange: (h) => void problemHandlers.push(h) },
    explicitIds: () => explicit,
    reapplyScopes,
    readiness: () => (problem ? [`degraded: ${problem} (the previous services file stays in use)`] : []),
    stop: stopWatch,
  };
}
