// Covers src/http/wsfollow.ts with fake sockets: plans rebuilt on a service-set change, sockets moved (shared per viewer), topics re-subscribed by difference, what each socket is fed next.
import { describe, expect, test } from "bun:test";
import { type ConfigFile, type ServiceEntry, serviceId } from "../../src/config/file.ts";
import { wireRemoval } from "../../src/http/render.ts";
import { type FollowSocket, followChange } from "../../src/http/wsfollow.ts";
import { makePlans, type Plan } from "../../src/http/wsplan.ts";
import { type Identity, mayRestart, mayView } from "../../src/restart/identity.ts";
import { makeServiceSet } from "../../src/status/service-set.ts";

const A: ServiceEntry = { kind: "Deployment", namespace: "shop", name: "a" };
const B: ServiceEntry = { kind: "Deployment", namespace: "shop", name: "b" };
const C: ServiceEntry = { kind: "Deployment", namespace: "shop", name: "c" };
const anon: Identity = { user: "", groups: [] } as unknown as Identity;

function setup(first: ConfigFile) {
  const set = makeServiceSet(first);
  const plans = makePlans({
    services: () => set.current().services,
    visible: (who) => set.current().services.filter((e) => mayView(set.current(), e, who)),
    refused: (s, who) => !mayRestart(set.current(), s, who),
  });
  const sockets = new Set<FollowSocket & { topics: Set<string>; fed: number; sent: string[] }>();
  const open = new Set<Plan>();
  const connect = (mode: "json" | "html", next: number) => {
    const plan = plans.planFor(mode, anon);
    const topics = new Set(plan.topics);
    const total = plan.services.length + (mode === "html" ? 1 : 0);
    const ws = {
      data: { plan, identity: anon, feed: { next: Math.min(next, total), total } } as FollowSocket["data"],
      topics,
      fed: 0,
      sent: [] as string[],
      subscribe: (t: string) => void topics.add(t),
      unsubscribe: (t: string) => void topics.delete(t),
      send: (m: string) => (ws.sent.push(m), m.length),
      close: () => {},
    };
    sockets.add(ws);
    plans.opened(plan);
    open.add(plan);
    return ws;
  };
  const follow = () => set.onChange((c) => followChange({ sockets, plans, open, rendered: { clear: () => {} }, deps: { services: set } }, c, (ws) => void ws.fed++));
  return { set, plans, open, connect, follow };
}

const tick = () => new Promise((r) => setTimeout(r, 0));

describe("sockets following the service set", () => {
  test("sockets of one viewer move to one new plan; topics follow; a fed JSON socket gets removals then the new statuses, a busy one restarts on the new plan", async () => {
    const t = setup({ services: [A, B] });
    const done = t.connect("json", 99);
    const busy = t.connect("json", 1);
    const page = t.connect("html", 99);
    expect(done.data.plan).toBe(busy.data.plan);
    t.follow();
    // Only A stays visible to everyone; C joins, B leaves.
    t.set.replace({ services: [A, C] });
    await tick();
    expect(done.data.plan).toBe(busy.data.plan);
    expect(done.data.plan.services.map(serviceId)).toEqual([A, C].map(serviceId));
    expect(t.open.size).toBe(2);
    expect([...done.topics]).toEqual(["json:*"]);
    expect(done.data.queue).toEqual([JSON.stringify(wireRemoval(B)), C]);
    expect(done.data.feed).toMatchObject({ next: 0, total: 2 });
    expect(done.fed).toBe(1);
    // Still being fed: resumed by its own drain/pong, from the removals and the whole new plan.
    expect(busy.data.queue).toEqual([JSON.stringify(wireRemoval(B)), A, C]);
    expect(busy.fed).toBe(0);
    expect(page.data.regroup).toBe(true);
    expect(page.data.feed).toMatchObject({ next: 0, total: 2 });
    expect(page.fed).toBe(1);
    const counts = new Map([...t.plans.watchers(t.open)].map(([s, n]) => [s.name, n]));
    expect(Object.fromEntries(counts)).toEqual({ a: 3, b: 0, c: 3 });
  });

  test("a change a viewer cannot see leaves its sockets untold", async () => {
    const t = setup({ services: [A, { ...B, viewUsers: ["carol"] }] });
    const ws = t.connect("json", 99);
    t.follow();
    t.set.replace({ services: [A, { ...B, viewUsers: ["dave"] }] });
    await tick();
    expect(ws.data.plan.services.map((s) => s.name)).toEqual(["a"]);
    expect(ws.fed).toBe(0);
    expect(ws.data.queue).toBeUndefined();
  });

  test("a change of the file's top-level view list alone reaches open sockets: services the viewer may no longer see are removed", async () => {
    const t = setup({ services: [A, B] });
    const ws = t.connect("json", 99);
    expect(ws.data.plan.services.map((s) => s.name)).toEqual(["a", "b"]);
    t.follow();
    // No entry changes; only the default: from now on only carol may view what does not say otherwise.
    t.set.replace({ viewUsers: ["carol"], services: [A, B] } as ConfigFile);
    await tick();
    expect(ws.data.plan.services).toEqual([]);
    expect(ws.data.queue).toEqual([JSON.stringify(wireRemoval(A)), JSON.stringify(wireRemoval(B))]);
    // And back: both reappear for this viewer.
    t.set.replace({ services: [A, B] });
    await tick();
    expect(ws.data.plan.services.map((s) => s.name)).toEqual(["a", "b"]);
  });
});
