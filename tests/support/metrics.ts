// The app's /metrics (Prometheus text format) read into samples, so tests compare numbers, not substrings of the text.

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Metrics {
  samples: Sample[];
  /** The value of the one sample named `name` whose labels include `labels`; undefined if none; an error if several match. */
  value(name: string, labels?: Record<string, string>): number | undefined;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+-?\d+)?$/;
const LABEL = /\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*(?:,|$)/y;
const SPECIAL: Record<string, number> = { "+Inf": Infinity, "-Inf": -Infinity, NaN: NaN };

function parseLabels(text: string, line: string): Record<string, string> {
  const labels: Record<string, string> = {};
  LABEL.lastIndex = 0;
  while (LABEL.lastIndex < text.length) {
    const m = LABEL.exec(text);
    if (!m) throw new Error(`metrics: unreadable labels in ${JSON.stringify(line)}`);
    labels[m[1]!] = m[2]!.replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c));
  }
  return labels;
}

/** Every sample of a Prometheus text exposition; comments (# HELP, # TYPE) and blank lines are skipped. */
export function parseMetrics(text: string): Metrics {
  const samples: Sample[] = [];
  for (const line of text.split("\n")) {
    if (!line.trim() || line.startsWith("#")) continue;
    const m = SAMPLE.exec(line);
    if (!m) throw new Error(`metrics: unreadable line ${JSON.stringify(line)}`);
    const value = SPECIAL[m[3]!] ?? Number(m[3]);
    if (Number.isNaN(value) && m[3] !== "NaN") throw new Error(`metrics: unreadable value in ${JSON.stringify(line)}`);
    samples.push({ name: m[1]!, labels: m[2] ? parseLabels(m[2], line) : {}, value });
  }
  return {
    samples,
    value(name, labels = {}) {
      const hits = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
      if (hits.length > 1) throw new Error(`metrics: ${hits.length} samples of ${name} match ${JSON.stringify(labels)}`);
      return hits[0]?.value;
    },
  };
}

/** GET <baseUrl>/metrics and parse it. */
export async function readMetrics(baseUrl: string): Promise<Metrics> {
  const res = await fetch(`${baseUrl}/metrics`);
  if (res.status !== 200) throw new Error(`GET ${baseUrl}/metrics: ${res.status}`);
  return parseMetrics(await res.text());
}
