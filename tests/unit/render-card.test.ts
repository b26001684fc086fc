// The card as HTML: labelled numbers, a surge said as such, one progressbar, the why line of a failed rollout, what the card says aloud, the Stale banner.
import { describe, expect, test } from "bun:test";
import { renderState, saidOf, staleBanner } from "../../src/http/render.ts";
import type { ServiceStatus } from "../../src/status/model.ts";

const WEB = { kind: "Deployment" as const, namespace: "shop", name: "web" };
const st = (o: Partial<ServiceStatus>): ServiceStatus => ({
  service: WEB,
  rollout: "complete",
  message: "",
  desired: 4,
  ready: 4,
  updated: 4,
  podStatus: { Running: 4 },
  podsReady: 4,
  podsTotal: 4,
  lastRestart: "2026-11-27T10:00:00Z",
  restartedBy: "",
  lock: null,
  ...o,
});
const text = (html: string) => html.replace(/<[^>]+>/g, " ").replace(/\s+/g, " ");

describe("the card", () => {
  test("updated and ready are labelled against desired; a surge is said as extra pods, never 5/4 ready", () => {
    const html = renderState(st({ rollout: "progressing", ready: 5, updated: 2, podsTotal: 5 }), WEB, undefined, false);
    expect(text(html)).toMatch(/Updated 2 \/ ?4 Ready 4 \/ ?4/);
    expect(text(html)).toContain("5 pods: 1 extra during the rollout");
    expect(text(html)).not.toMatch(/5 ?\/ ?4/);
    expect(html.match(/<progress/g)).toHaveLength(1);
    expect(html).not.toContain('role="progressbar"');
    expect(html).toContain('aria-label="Updated pods: 2 of 4"');
  });

  test("a failed rollout always says the new revision failed, with its why, or plainly when the cause is unknown", () => {
    const why = "1 new pod Pending: 0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector";
    expect(text(renderState(st({ rollout: "failed", updated: 1, why }), WEB, undefined, false))).toContain(`New revision failed: ${why.replace(/'/g, "&#39;")}`);
    expect(text(renderState(st({ rollout: "failed", updated: 1 }), WEB, undefined, false))).toContain("New revision failed: its pods did not become ready.");
    expect(renderState(st({}), WEB, undefined, false)).not.toContain("why-line");
  });

  test("the Restart button is named after its service", () => {
    expect(renderState(st({}), WEB, undefined, false)).toContain('aria-label="Restart Deployment shop/web"');
  });

  test("what the card says: how the last restart ended (seen by the app), else its state", () => {
    const outcome = (result: "complete" | "failed" | "timed-out", seconds: number, why = "") => ({ restartedAt: "2026-11-27T10:00:00Z", result, seconds, why });
    expect(saidOf(st({ outcome: outcome("complete", 32) }), WEB)).toBe("Restart of Deployment shop/web completed in 32 s");
    expect(saidOf(st({ rollout: "failed", outcome: outcome("failed", 300, "web-7d9c CrashLoopBackOff (exit 1), 5 restarts") }), WEB)).toBe(
      "Restart of Deployment shop/web failed after 5 min: web-7d9c CrashLoopBackOff (exit 1), 5 restarts",
    );
    expect(saidOf(st({ outcome: outcome("timed-out", 600) }), WEB)).toBe("Restart of Deployment shop/web timed out after 10 min");
    // An outcome of an older restart is not this restart's end.
    expect(saidOf(st({ rollout: "progressing", lastRestart: "2026-11-27T11:00:00Z", outcome: outcome("complete", 32) }), WEB)).toBe("Deployment shop/web: Rolling out");
    expect(saidOf(undefined, WEB)).toBe("Deployment shop/web: Loading…");
  });

  test("the Stale banner says it once, plainly, with where to find the technical detail folded away", () => {
    const html = staleBanner(["/api/v1/namespaces/shop/pods (fetch failed)", "/apis/apps/v1/namespaces/shop/deployments (fetch failed)"], false);
    expect(html.match(/Lost the connection to the Kubernetes API; retrying/g)).toHaveLength(1);
    // The watch paths name namespaces a viewer may not see (issue 15 #5): the folded detail points to the log and /readyz instead.
    expect(html).toMatch(/<details class="tech"><summary>Technical details<\/summary>[^<]*\/readyz/);
    expect(html).not.toContain("namespaces/shop");
    expect(staleBanner([], false)).toContain("banner-none");
  });
});
