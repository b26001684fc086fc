// Graceful shutdown of in-flight work: restarts finish or give their lock back, ?wait callers are answered 503, all within a grace period.
//
// SIGTERM can arrive after a restart took its Lease and before its PATCH: cut there, nothing
// restarts, nothing is audited, and the lock blocks every replica for FORCE_UNLOCK_SEC. So
// shutdown first stops taking requests, then lets running restarts finish, and after the grace
// period releases the Leases of those that did not; each such outcome is reported for the audit.

export interface InFlight {
  /** What to release if the restart has not finished when the grace period ends. */
  service: { kind: string; namespace: string; name: string };
  requestId: string;
  /** Who asked, for the audit line of an interrupted restart. */
  user?: string;
  groups?: string[];
  source?: string;
}

export interface DrainReport {
  finished: number;
  /** Restarts still running when the grace period ended (their locks were released). */
  interrupted: InFlight[];
  /** ?wait callers answered 503. */
  waitersAnswered: number;
}

export function makeDrain(opts: { graceMs: number; release(f: InFlight): Promise<void>; sleep?: (ms: number) => Promise<void> }) {
  const sleep = opts.sleep ?? ((ms: number) => Bun.sleep(ms));
  const running = new Map<Promise<unknown>, InFlight>();
  const waiters = new Set<() => void>();
  let draining = false;
  return {
    draining: () => draining,
    /** Runs a restart under watch; refused (undefined) once draining has begun. */
    track<T>(f: InFlight, work: () => Promise<T>): Promise<T> | undefined {
      if (draining) return undefined;
      const p = work();
      running.set(p, f);
      const done = () => void running.delete(p);
      p.then(done, done);
      return p;
    },
    /** A ?wait caller: `answer` is called (once) when shutdown begins. Returns an unregister. */
    onDrain(answer: () => void): () => void {
      waiters.add(answer);
      return () => void waiters.delete(answer);
    },
    async drain(): Promise<DrainReport> {
      draining = true;
      const w = [...waiters];
      waiters.clear();
      for (const a of w) a();
      const started = running.size;
      const all = Promise.allSettled([...running.keys()]);
      await Promise.race([all, sleep(opts.graceMs)]);
      const interrupted = [...running.values()];
      await Promise.allSettled(interrupted.map((f) => opts.release(f)));
      return { finished: started - interrupted.length, interrupted, waitersAnswered: w.length };
    },
  };
}
export type Drain = ReturnType<typeof makeDrain>;
