// Prometheus text exposition: labelled counters and gauges, and the process metrics read from /proc at scrape time.
//
// Why not prom-client: importing it costs ≈ 15 MiB of RSS under Bun (its index pulls in
// node:http, node:https, node:zlib and node:cluster for the push gateway and cluster
// aggregation; even its registry alone pulls in node:util, ≈ 5 MiB), and its default metrics
// sample the event loop on a timer (about a third of the app's idle CPU). The app exports five
// metrics; this writes them, and the process metrics, in the same format and under the same names.
// node:fs alone would add ≈ 5 MiB of RSS, so /proc is listed with Bun.Glob, and a scrape does no
// asynchronous I/O: Bun drops a response still pending when a client half-closes its side.

export const CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

type Labels<L extends string> = Record<L, string>;

interface Collector {
  name: string;
  expose(): string;
}

const escapeHelp = (s: string) => s.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
const escapeLabel = (s: string) => s.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
const formatValue = (v: number) => (Number.isNaN(v) ? "NaN" : v === Infinity ? "+Inf" : v === -Infinity ? "-Inf" : String(v));
const header = (name: string, help: string, type: "counter" | "gauge") => `# HELP ${name} ${escapeHelp(help)}\n# TYPE ${name} ${type}\n`;

export class Registry {
  readonly contentType = CONTENT_TYPE;
  private readonly collectors: Collector[] = [];

  register(c: Collector): void {
    if (this.collectors.some((x) => x.name === c.name)) throw new Error(`metric ${c.name} is registered twice`);
    this.collectors.push(c);
  }

  async metrics(): Promise<string> {
    return this.collectors.map((c) => c.expose()).join("\n");
  }
}

/** One counter or gauge; samples keyed by their label values in `labelNames` order. */
class Metric<L extends string> implements Collector {
  private readonly values = new Map<string, { labels: string[]; value: number }>();

  constructor(
    readonly name: string,
    private readonly help: string,
    private readonly type: "counter" | "gauge",
    private readonly labelNames: readonly L[],
    registry: Registry,
  ) {
    // An unlabelled metric always has its one sample (0 until changed), as Prometheus clients do.
    if (labelNames.length === 0) this.values.set("", { labels: [], value: 0 });
    registry.register(this);
  }

  protected add(labels: Partial<Labels<L>> | undefined, delta: number, set = false): void {
    const values = this.labelNames.map((n) => {
      const v = labels?.[n];
      if (v === undefined) throw new Error(`${this.name}: label ${n} is missing`);
      return String(v);
    });
    const key = values.join("\u0000");
    const cur = this.values.get(key);
    if (cur) cur.value = set ? delta : cur.value + delta;
    else this.values.set(key, { labels: values, value: delta });
  }

  expose(): string {
    let out = header(this.name, this.help, this.type);
    for (const { labels, value } of this.values.values()) {
      const l = labels.length ? `{${labels.map((v, i) => `${this.labelNames[i]}="${escapeLabel(v)}"`).join(",")}}` : "";
      out += `${this.name}${l} ${formatValue(value)}\n`;
    }
    return out;
  }
}

export class Counter<L extends string = never> extends Metric<L> {
  constructor(o: { name: string; help: string; labelNames?: readonly L[]; registry: Registry }) {
    super(o.name, o.help, "counter", o.labelNames ?? [], o.registry);
  }
  inc(labels?: Labels<L>, by = 1): void {
    if (!(by >= 0)) throw new Error(`${this.name}: a counter only goes up, got ${by}`);
    this.add(labels, by);
  }
}

export class Gauge<L extends string = never> extends Metric<L> {
  constructor(o: { name: string; help: string; labelNames?: readonly L[]; registry: Registry }) {
    super(o.name, o.help, "gauge", o.labelNames ?? [], o.registry);
  }
  inc(labels?: Labels<L>, by = 1): void {
    this.add(labels, by);
  }
  dec(labels?: Labels<L>, by = 1): void {
    this.add(labels, -by);
  }
  set(labels: Labels<L> | number, value?: number): void {
    if (typeof labels === "number") this.add(undefined, labels, true);
    else this.add(labels, value ?? 0, true);
  }
}

/**
 * The process metrics Prometheus clients export by default, under their usual names, computed
 * only when scraped: CPU seconds (user, system, total), resident memory, open and maximum file
 * descriptors, start time. No timer runs between scrapes.
 */
export function registerProcessMetrics(registry: Registry, now = () => Date.now()): void {
  const startTime = Math.round(now() / 1000 - process.uptime());
  const sample = (name: string, help: string, type: "counter" | "gauge", value: () => number | undefined) =>
    registry.register({
      name,
      expose: () => {
        const v = value();
        return header(name, help, type) + (v === undefined ? "" : `${name} ${formatValue(v)}\n`);
      },
    });
  const cpu = () => process.cpuUsage();
  sample("process_cpu_user_seconds_total", "Total user CPU time spent in seconds.", "counter", () => cpu().user / 1e6);
  sample("process_cpu_system_seconds_total", "Total system CPU time spent in seconds.", "counter", () => cpu().system / 1e6);
  sample("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", "counter", () => {
    const c = cpu();
    return (c.user + c.system) / 1e6;
  });
  sample("process_start_time_seconds", "Start time of the process since unix epoch in seconds.", "gauge", () => startTime);
  sample("process_resident_memory_bytes", "Resident memory size in bytes.", "gauge", () => process.memoryUsage.rss());
  sample("process_open_fds", "Number of open file descriptors.", "gauge", () => {
    try {
      // The directory's own descriptor, open while it is read, is not one of ours.
      return [...new Bun.Glob("*").scanSync({ cwd: "/proc/self/fd", onlyFiles: false })].length - 1;
    } catch {
      return undefined;
    }
  });
  // The limit is set before the process starts: read once, in the background (absent without /proc).
  let maxFds: number | undefined;
  void Bun.file("/proc/self/limits")
    .text()
    .then((t) => {
      const m = /^Max open files\s+(\d+)/m.exec(t);
      if (m) maxFds = Number(m[1]);
    })
    .catch(() => {});
  sample("process_max_fds", "Maximum number of open file descriptors.", "gauge", () => maxFds);
}
