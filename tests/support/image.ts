// The container image for the e2e suites: built once per test process by scripts/image.sh (podman, the project's Dockerfile), and podman with the settings scripts/podman.sh holds.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "./process.ts";

export const PODMAN = join(ROOT, "scripts/podman.sh");

/** Runs a command; a non-zero exit throws with the command, the code and its output. */
export function sh(cmd: string[], opts: { input?: string } = {}): string {
  const r = Bun.spawnSync(cmd, { cwd: ROOT, stdin: opts.input !== undefined ? Buffer.from(opts.input) : "ignore", stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`${cmd.join(" ")}: exit ${r.exitCode}: ${(r.stderr.toString().trim() || r.stdout.toString().trim()).slice(-3000)}`);
  return r.stdout.toString();
}

export const podman = (args: string[]): string => sh([PODMAN, ...args]);

let built: string | undefined;

/**
 * Builds localhost/k8s-restart-app:<version> from the working tree (layers are cached, so an
 * unchanged tree rebuilds in seconds) and returns its tag. Once per test process: every suite of
 * a run gets the same image.
 */
export function ensureImage(): string {
  if (built) return built;
  // A tag of this checkout's own: worktrees share podman's store, and must not test each other's image.
  const version = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).version as string;
  const want = `localhost/k8s-restart-app:${version}-e2e-${Bun.hash(ROOT).toString(16).slice(0, 8)}`;
  const r = Bun.spawnSync([join(ROOT, "scripts/image.sh")], { cwd: ROOT, env: { ...process.env, IMAGE_TAG: want }, stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`scripts/image.sh: exit ${r.exitCode}: ${r.stderr.toString().trim().slice(-3000)}`);
  const out = r.stdout.toString().trim().split("\n");
  built = out[out.length - 1]!;
  if (built !== want) throw new Error(`scripts/image.sh printed ${JSON.stringify(built)} as the tag, expected ${want}`);
  return built;
}

/** What the image says about itself (podman image inspect). */
export function imageConfig(tag: string): { User: string; Entrypoint: string[]; Env: string[]; Labels: Record<string, string>; size: number } {
  const info = JSON.parse(podman(["image", "inspect", tag]))[0];
  return { ...info.Config, size: info.Size };
}
