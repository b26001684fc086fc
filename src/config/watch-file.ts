// Tells when the services file may have changed: a watch on its directory (Kubernetes updates a ConfigMap volume by swapping the ..data symlink there) plus a slow poll as a safety net.
import { type FSWatcher, watch } from "node:fs";
import { dirname } from "node:path";

/**
 * Calls `changed` shortly after anything in the file's directory changes, and every `pollMs`
 * regardless (the caller compares contents, so a poll that finds nothing new costs one read).
 * Watching the directory, not the file: a symlink swap replaces what the path points to, and a
 * watch on the old file would never fire again.
 */
export function watchFile(path: string, changed: () => void, pollMs = 3000): () => void {
  let debounce: ReturnType<typeof setTimeout> | undefined;
  const kick = () => {
    clearTimeout(debounce);
    // An editor or kubelet writes in several steps: act once they are done.
    debounce = setTimeout(changed, 150);
  };
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(dirname(path), kick);
    watcher.on("error", () => {});
  } catch {
    // A directory that cannot be watched (some network filesystems): the poll alone covers it.
  }
  const poll = setInterval(changed, pollMs);
  return () => {
    watcher?.close();
    clearInterval(poll);
    clearTimeout(debounce);
  };
}
