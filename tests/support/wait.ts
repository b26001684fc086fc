// Waiting for a condition instead of for a fixed time: polled, with a deadline and a message naming what was awaited.

/** Resolves once `cond` is true (polled every `stepMs`); throws after `timeoutMs`, naming `what` and the last error `cond` threw. */
export async function waitFor(cond: () => Promise<boolean> | boolean, timeoutMs: number, what: string, stepMs = 100): Promise<void> {
  const end = Date.now() + timeoutMs;
  let lastErr = "";
  while (Date.now() < end) {
    try {
      if (await cond()) return;
    } catch (e) {
      lastErr = String(e);
    }
    await Bun.sleep(stepMs);
  }
  throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}${lastErr ? ` (last error: ${lastErr})` : ""}`);
}
