// For fake KubeClients in unit tests: what a real API server sends for a streaming list (a watch with sendInitialEvents).
import { INITIAL_EVENTS_END } from "../../src/kube/watch.ts";

/** The bookmark that ends the initial events, at resourceVersion `rv`. */
export const endOfInitialEvents = (rv: string) => ({ type: "BOOKMARK" as const, object: { metadata: { resourceVersion: rv, annotations: { [INITIAL_EVENTS_END]: "true" } } } });

/** The stream's opening: one ADDED line per object, then the closing bookmark. */
export function initialEventLines(objects: unknown[], rv = "1"): string {
  return [...objects.map((object) => ({ type: "ADDED", object })), endOfInitialEvents(rv)].map((l) => `${JSON.stringify(l)}\n`).join("");
}
