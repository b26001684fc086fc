// Checks every answer of the app the e2e suites receive against the OpenAPI description's schema for its (route, status, content type), so the document cannot drift from the code.
import { FormatRegistry } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import { responseSchema } from "../../src/http/openapi.ts";

// TypeBox checks formats only once they are registered: RFC 3339 date-times as the API writes them.
if (!FormatRegistry.Has("date-time")) FormatRegistry.Set("date-time", (v) => /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/.test(v) && !Number.isNaN(Date.parse(v)));

/** Why `body` does not fit the documented schema, or undefined when it does. */
export function schemaProblem(method: string, url: URL, status: number, type: string, body: unknown): string | undefined {
  const schema = responseSchema(method, url.pathname, status, type);
  const what = `${method} ${url.pathname}${url.search} → ${status} ${type}`;
  if (!schema) return `${what}: no schema documented for this answer in src/http/openapi.ts`;
  const first = [...Value.Errors(schema, body)][0];
  return first ? `${what}: body does not match its schema at ${first.path || "/"}: ${first.message}; body: ${JSON.stringify(body).slice(0, 500)}` : undefined;
}

/** Problems found in streamed bodies (they cannot throw into the test's fetch); the harness fails on any. */
export const streamProblems: string[] = [];

/** An NDJSON body passed through, each line checked as it goes by. */
function checkedLines(res: Response, method: string, url: URL): Response {
  let buf = "";
  // A line that does not match fails the reader at once (and the run, through streamProblems).
  const check = (line: string) => {
    if (!line) return;
    const p = schemaProblem(method, url, res.status, "application/x-ndjson", JSON.parse(line));
    if (!p) return;
    streamProblems.push(p);
    throw new Error(`API schema check: ${p}`);
  };
  const dec = new TextDecoder();
  const body = res.body!.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, c) {
        buf += dec.decode(chunk, { stream: true });
        let i: number;
        while ((i = buf.indexOf("\n")) >= 0) check(buf.slice(0, i)), (buf = buf.slice(i + 1));
        c.enqueue(chunk);
      },
      flush: () => check(buf),
    }),
  );
  return new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
}

/** The app's answers are on loopback http; the API server's (https) and anything else are left alone. */
const isApp = (url: URL) => url.protocol === "http:" && (url.hostname === "127.0.0.1" || url.hostname === "localhost");

/** Replaces the global fetch with one that checks each JSON (and NDJSON) answer of the app; a mismatch fails the request. */
export function installSchemaCheck(): void {
  const real = globalThis.fetch;
  const checking = async (input: string | URL | Request, init?: RequestInit) => {
    const res = await real(input, init);
    const url = new URL(input instanceof Request ? input.url : String(input));
    const method = (init?.method ?? (input instanceof Request ? input.method : "GET")).toUpperCase();
    const type = (res.headers.get("content-type") ?? "").split(";")[0]!;
    if (!isApp(url) || method === "HEAD") return res;
    if (type === "application/x-ndjson") return checkedLines(res, method, url);
    if (type !== "application/json") return res;
    const problem = schemaProblem(method, url, res.status, type, await res.clone().json());
    if (problem) throw new Error(`API schema check: ${problem}`);
    return res;
  };
  globalThis.fetch = Object.assign(checking, { preconnect: real.preconnect }) as typeof fetch;
}
