// A tiny template filler: {{x}} is HTML-escaped, {{{x}}} is inserted as is (already-rendered fragments).

const ESC: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ESC[c]!);
}

export type Vars = Record<string, string | number | boolean>;

/** Fills a template; a placeholder without a value is a bug in the caller, so it throws. */
export function fill(tpl: string, vars: Vars): string {
  return tpl.replace(/\{\{(\{?)\s*([a-zA-Z0-9_]+)\s*\}?\}\}/g, (_m, raw: string, key: string) => {
    if (!(key in vars)) throw new Error(`template variable ${key} has no value`);
    const v = String(vars[key]);
    return raw ? v : escapeHtml(v);
  });
}
