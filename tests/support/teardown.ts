// Preloaded by bun test (bunfig.toml): one afterAll for the whole multi-file run. A module-level
// afterAll in a shared helper would belong to the first test file that imports it only (the
// module is evaluated once), so what later files started would outlive the run.
import { afterAll } from "bun:test";

const tasks: (() => Promise<void> | void)[] = [];

/** Runs `task` once every test file of this run has finished. */
export function atEndOfRun(task: () => Promise<void> | void): void {
  tasks.push(task);
}

afterAll(async () => {
  const failures: string[] = [];
  for (const t of tasks.splice(0)) {
    try {
      await t();
    } catch (e) {
      failures.push((e as Error).message);
    }
  }
  if (failures.length) throw new Error(failures.join("\n"));
});
