// The Go original's figures, MEASURED separately on the same machine kind and local control plane (never computed from its design).
//
// Source: the project's measurement of the original v0.3.0 (built from its public source, Go 1.26,
// stripped), run side by side with ours, one app at a time, 2-core machine, 200 Deployments,
// admin kubeconfig. They come from that run, not from this one: the bench prints them for
// orientation, labelled, and leaves the cell empty where nothing comparable was measured.
export const MEASURED_SEPARATELY = "measured separately on the same machine kind";

/** 200 services, 5 websocket clients, 60 s idle (WATCH_INTERVAL 10 s). */
export const ORIGINAL = {
  services: 200,
  clients: 5,
  idleSec: 60,
  /** Non-watch API requests in the idle window (client-go's default 5 requests/s throttles it; 18 were 500s). */
  idleRequests: 586,
  /** Requests in the first 10 s after start, spread over 0.07–4.9 s. */
  startRequests10s: 68,
  /** Websocket frames to the 5 clients in the idle window (1,225 real status, 4,025 error, 4,025 empty "locked"). */
  idleFrames: 9275,
  /** App CPU in the idle window, with the 5 clients. */
  idleCpuMs: 800,
  /** Restart seen → first frame showing it, p50 / max over 8 restarts. */
  restartToFrameMs: { p50: 12433, max: 19037 },
  /** Rollout done → final unlocked frame, p50 / max. */
  doneToUnlockedMs: { p50: 12003, max: 19510 },
  /** 1,000 concurrent POSTs for one service: 1 × 200, 999 × 423, 1 PATCH. */
  concurrentPosts: "1 × 200, 999 × 423; 1 PATCH",
  /** Idle RSS with 200 services. */
  idleRssMiB: "36.5–38.8",
  /** RSS with 1,000 websocket clients. */
  rss1000ClientsMiB: 442,
  /** Start → first 200 on /api/v1/service, median of 5. */
  firstResponseMs: 43,
  /** Stripped binary. */
  binaryMB: 38.1,
} as const;

/** "<value> (measured separately …)" for the table's original column. */
export const measured = (value: string) => `${value} (${MEASURED_SEPARATELY})`;
