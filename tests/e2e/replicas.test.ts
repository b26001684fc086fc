// e2e: two app instances behind a round-robin TCP balancer share one cluster — locks taken through one hold on the other, status is live on both, and a killed instance's lock is released by the survivor.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type Balancer, startBalancer } from "../support/balancer.ts";
import { applyObjects, type AppProcess, getJson, kubectl, openStatus, startApp, waitFor, waitRollout } from "../support/harness.ts";
import { deploymentDoc, freshNamespace } from "./scale-support.ts";

const NS = "k8s-restart-app-replicas";
const LOCK_NS = "k8s-restart-app-e2e";
const services = [{ kind: "Deployment", namespace: NS, name: "rr-web" }];
const RESTART = `/api/v1/service/Deployment/${NS}/rr-web/restart`;
const LEASE = `restart.deployment.${NS}.rr-web`;
const parse = (m: string) => JSON.parse(m) as any;

let a: AppProcess;
let b: AppProcess;
let lb: Balancer;

const backend = (app: AppProcess) => {
  const u = new URL(app.url);
  return { hostname: u.hostname, port: Number(u.port) };
};
const holder = async (): Promise<string> => (await getJson(["-n", LOCK_NS, "get", "lease", LEASE])).spec?.holderIdentity ?? "";

beforeAll(async () => {
  await kubectl(["create", "namespace", LOCK_NS], { allowFail: true });
  await kubectl(["-n", LOCK_NS, "delete", "lease", LEASE, "--ignore-not-found", "--wait=true"]);
  await freshNamespace(NS);
  // minReadySeconds makes each rollout last seconds, so the lock is still held when the test
  // reads the Lease and kills its holder (on kwok a plain rollout settles in a few hundred ms).
  const web = deploymentDoc(NS, "rr-web", {}, 2);
  (web.spec as Record<string, unknown>).minReadySeconds = 4;
  await applyObjects([web]);
  await waitRollout("Deployment", NS, "rr-web");
  const env = { RATE_LIMIT_PER_MINUTE: "0", LOCK_NAMESPACE: LOCK_NS };
  [a, b] = await Promise.all([startApp({ services, env }), startApp({ services, env })]);
  lb = startBalancer([backend(a), backend(b)]);
}, 180_000);

afterAll(async () => {
  lb?.stop();
  await kubectl(["delete", "namespace", NS, "--wait=false"], { allowFail: true });
});

describe("two replicas behind a round-robin balancer", () => {
  test("the balancer spreads requests over both instances, which answer alike", async () => {
    const lists = await Promise.all([1, 2, 3, 4].map(async () => (await fetch(`${lb.url}/api/v1/service`, { headers: { Connection: "close" } })).json()));
    expect(lb.counts[0]).toBeGreaterThanOrEqual(2);
    expect(lb.counts[1]).toBeGreaterThanOrEqual(2);
    for (const l of lists) expect(l).toEqual({ services });
  });

  test("a restart through the balancer locks the service on both; status is live on both; the lock is released once", async () => {
    const wsA = await openStatus(`${a.wsUrl}/api/v1/service/status`);
    const wsB = await openStatus(`${b.wsUrl}/api/v1/service/status`);
    const res = await fetch(`${lb.url}${RESTART}`, { method: "POST", headers: { Connection: "close" } });
    expect(res.status).toBe(200);
    const body = await res.json();
    // Whichever instance took it, both refuse a second restart: the Lease is the lock.
    const [ra, rb] = await Promise.all([fetch(`${a.url}${RESTART}`, { method: "POST" }), fetch(`${b.url}${RESTART}`, { method: "POST" })]);
    expect([ra.status, rb.status]).toEqual([423, 423]);
    for (const ws of [wsA, wsB]) {
      await ws.until((m) => parse(m).is_locked === true, 10_000, "locked on this instance");
      await ws.until((m) => parse(m).status.rollout === "complete" && !parse(m).is_locked && parse(m).status.last_restart === body.restarted_at, 60_000, "complete and unlocked");
    }
    expect(await holder()).toBe("");
    wsA.close();
    wsB.close();
  }, 120_000);

  test("SIGKILL of the instance holding a restart's Lease: the other releases it when the rollout settles", async () => {
    await waitRollout("Deployment", NS, "rr-web");
    const res = await fetch(`${lb.url}${RESTART}`, { method: "POST", headers: { Connection: "close" } });
    expect(res.status).toBe(200);
    const body = await res.json();
    const took = await holder();
    // The holder is the instance id (host-pid), never a client's request id (issue 15 #8).
    const owner = [a, b].find((x) => new RegExp(`-${x.proc.pid}(/|$)`).test(took));
    expect(owner, `holder ${took}`).toBeDefined();
    const survivor = owner === a ? b : a;
    owner!.proc.kill("SIGKILL");
    await owner!.proc.exited;
    const ws = await openStatus(`${survivor.wsUrl}/api/v1/service/status`);
    await ws.until((m) => parse(m).status.last_restart === body.restarted_at && parse(m).status.rollout === "complete" && !parse(m).is_locked, 60_000, "complete and unlocked on the survivor");
    await waitFor(async () => (await holder()) === "", 10_000, "the Lease to be released");
    expect(survivor.entries().some((e) => e.msg === "restart lock released" && String(e.holder).startsWith(took.split("/")[0]!))).toBe(true);
    // Through the balancer (one backend is gone) the service can be restarted again.
    const again = await fetch(`${survivor.url}${RESTART}`, { method: "POST" });
    expect(again.status).toBe(200);
    ws.close();
  }, 120_000);
});
