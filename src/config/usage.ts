// The command line: what the arguments ask for, and the usage text (subcommands, every environment variable with its default, the docs).
import { commit, version } from "../version.ts";
export const DOCS_URL = "https://github.com/k8scope/k8s-restart-app#readme";

/** Every environment variable the app reads, with its default and meaning (tests/unit/usage.test.ts keeps it complete). */
export const ENVIRONMENT: [name: string, def: string, meaning: string][] = [
  ["LISTEN_ADDRESS", ":8080", "[host]:port for the page, the API and the websockets"],
  ["LISTEN_MONITORING_ADDRESS", ":6060", "second listener with only /metrics, /healthz, /readyz; empty turns it off"],
  ["CONFIG_FILE_PATH", "config.yaml", "the services file (the allow-list)"],
  ["KUBE_CONFIG_PATH", "(empty)", "kubeconfig; empty: in-cluster ServiceAccount in a pod, else KUBECONFIG, else ~/.kube/config"],
  ["SERVICE_ACCOUNT_DIR", "/var/run/secrets/kubernetes.io/serviceaccount", "in-cluster: the folder with the ServiceAccount's token, ca.crt and namespace"],
  ["KUBECONFIG", "(unset)", "read only when KUBE_CONFIG_PATH is empty outside a cluster (first existing file of the list)"],
  ["WATCH_INTERVAL", "10", "seconds between re-sends of every status on the JSON stream (0 = only on change); paces websocket pings"],
  ["FORCE_UNLOCK_SEC", "300", "a restart lock goes after this long even if the rollout never settles"],
  ["ROLLOUT_TIMEOUT_SEC", "FORCE_UNLOCK_SEC", "StatefulSet/DaemonSet rollouts still running this long after a restart count as failed"],
  ["LOCK_NAMESPACE", "the pod's namespace", "where the lock Leases live (else the kubeconfig context's namespace, else default)"],
  ["AUTH_MODE", "none", "none, proxy or token"],
  ["AUTH_TOKENS_FILE", "(none)", "with AUTH_MODE=token: YAML list of {token, user, groups}"],
  ["AUTH_PROXY_USER_HEADERS", "X-Forwarded-User", "with AUTH_MODE=proxy: the one header carrying the user (sent twice: 400)"],
  ["AUTH_PROXY_GROUPS_HEADERS", "X-Forwarded-Groups", "with AUTH_MODE=proxy: the one header carrying the groups"],
  ["AUTH_PROXY_WEBSOCKET_LIFETIME_SEC", "3600", "with AUTH_MODE=proxy: a websocket is closed (1001) after this long, so a reconnect passes the proxy again"],
  ["TRUSTED_PROXIES", "127.0.0.0/8,::1", "CIDRs whose identity headers and X-Forwarded-For are believed"],
  ["ALLOWED_HOSTS", "localhost names, IP literals, *.svc, *.svc.cluster.local", "Host names browsers may use (comma-separated, *.example.com patterns, * = any); others get 403"],
  ["TRUSTED_ORIGINS", "(none)", "extra origins allowed to POST and open websockets (comma-separated)"],
  ["RATE_LIMIT_PER_MINUTE", "10", "restarts per user (or address) per minute; 0 = off"],
  ["SHUTDOWN_GRACE_SEC", "10", "on SIGTERM, restarts in flight get this long to finish before their locks are released"],
  ["WEBSOCKET_MAX_PER_ADDRESS", "100", "open websockets per client address (429 beyond); 0 = no cap"],
  ["WEBSOCKET_BUFFER_BYTES", "16384", "bytes a websocket client may be behind before it must acknowledge (and the send buffer limit)"],
  ["LOG_LEVEL", "info", "debug (adds one access line per API request), info, warn, error"],
];

export function usage(): string {
  const width = Math.max(...ENVIRONMENT.map(([n]) => n.length));
  const vars = ENVIRONMENT.map(([n, d, m]) => `  ${n.padEnd(width)}  ${m} (default: ${d})`).join("\n");
  return `k8s-restart-app: restart allow-listed Kubernetes workloads from a web page or curl, watch the rollout live, keep an audit trail.

Usage:
  k8s-restart-app                 serve (configured by the environment below)
  k8s-restart-app rbac [--namespace <ns>] [--service-account <name>] [--cluster-role]
                                  print the RBAC the configured services need (rbac --help)
  k8s-restart-app --version       print the version and commit
  k8s-restart-app --help | -h | help
                                  print this text

Environment:
${vars}

Documentation: ${DOCS_URL}
`;
}

export type Command = { run: "serve" } | { run: "help" } | { run: "version" } | { run: "rbac"; args: string[] } | { run: "unknown"; message: string };

/** What the arguments (without the program name) ask for. */
export function parseArgs(args: string[]): Command {
  const [first, ...rest] = args;
  if (first === undefined) return { run: "serve" };
  if (first === "rbac") return { run: "rbac", args: rest };
  if (rest.length === 0 && (first === "--help" || first === "-h" || first === "help")) return { run: "help" };
  if (rest.length === 0 && first === "--version") return { run: "version" };
  const odd = rest.length ? args.join(" ") : first;
  return { run: "unknown", message: `unknown argument ${JSON.stringify(odd)}` };
}

/**
 * Runs the command line's non-serving commands: --help, --version, `rbac` (its printer passed in:
 * it lives above this layer) and an unknown argument (the usage on stderr, exit 2). False to serve.
 */
export async function runCommand(cmd: Command, rbac: (args: string[], env: Record<string, string | undefined>) => Promise<string>): Promise<boolean> {
  if (cmd.run === "serve") return false;
  if (cmd.run === "help") process.stdout.write(usage());
  else if (cmd.run === "version") console.log(`k8s-restart-app ${version} (commit ${commit})`);
  else if (cmd.run === "rbac") process.stdout.write(await rbac(cmd.args, process.env));
  else (process.stderr.write(`k8s-restart-app: ${cmd.message}\n\n${usage()}`), process.exit(2));
  return true;
}
