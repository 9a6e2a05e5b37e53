/**
 * The server's Prometheus metrics (text exposition format 0.0.4), named as text-embeddings-inference names
 * them so its dashboards work: request counts by outcome, request / tokenization / queue / inference duration
 * histograms, queue size, batch size and batch tokens.
 *
 * @module
 */

const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const SIZE_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512];
const TOKEN_BUCKETS = [16, 64, 256, 1024, 2048, 4096, 8192, 16384, 32768, 65536];

class Histogram {
  readonly counts: number[];
  sum = 0;
  count = 0;
  constructor(readonly buckets: readonly number[]) {
    this.counts = new Array(buckets.length).fill(0);
  }
  observe(v: number): void {
    this.sum += v;
    this.count++;
    for (let i = 0; i < this.buckets.length; i++) if (v <= this.buckets[i]) this.counts[i]++;
  }
}

function labelText(labels: Record<string, string>): string {
  const parts = Object.entries(labels).map(([k, v]) =>
    `${k}="${v.replace(/[\\"\n]/g, (c) => c === "\n" ? "\\n" : `\\${c}`)}"`
  );
  return parts.length ? `{${parts.join(",")}}` : "";
}

/** Counters, gauges and histograms of one server, written out by {@link Metrics.render}. */
export class Metrics {
  #counters = new Map<string, Map<string, number>>();
  #histograms = new Map<string, Map<string, Histogram>>();
  #gauges = new Map<string, number>();
  #help = new Map<string, [string, string]>();

  constructor() {
    this.#describe("te_request_count", "counter", "Requests received, by route");
    this.#describe("te_request_success", "counter", "Requests answered with success, by route");
    this.#describe("te_request_failure", "counter", "Requests that failed, by route and error type");
    this.#describe("te_request_duration", "histogram", "Request duration in seconds, receipt to answer");
    this.#describe(
      "te_request_tokenization_duration",
      "histogram",
      "Tokenization time per request in seconds",
    );
    this.#describe("te_request_queue_duration", "histogram", "Time in the queue per request in seconds");
    this.#describe("te_request_inference_duration", "histogram", "Inference time per request in seconds");
    this.#describe("te_queue_size", "gauge", "Requests waiting for or in a forward pass");
    this.#describe("te_batch_next_size", "histogram", "Requests per forward pass");
    this.#describe("te_batch_next_tokens", "histogram", "Real tokens per forward pass");
    this.#describe("te_batch_inference_duration", "histogram", "Forward pass duration in seconds");
  }

  #describe(name: string, type: string, help: string) {
    this.#help.set(name, [type, help]);
  }

  /** Adds `by` to a counter. */
  inc(name: string, labels: Record<string, string> = {}, by = 1): void {
    let m = this.#counters.get(name);
    if (!m) this.#counters.set(name, m = new Map());
    const key = labelText(labels);
    m.set(key, (m.get(key) ?? 0) + by);
  }

  /** Records one observation; durations in seconds. */
  observe(name: string, value: number, labels: Record<string, string> = {}): void {
    let m = this.#histograms.get(name);
    if (!m) this.#histograms.set(name, m = new Map());
    const key = labelText(labels);
    let h = m.get(key);
    if (!h) {
      const buckets = name.endsWith("_size")
        ? SIZE_BUCKETS
        : name.endsWith("_tokens")
        ? TOKEN_BUCKETS
        : DURATION_BUCKETS;
      m.set(key, h = new Histogram(buckets));
    }
    h.observe(value);
  }

  /** Sets a gauge. */
  set(name: string, value: number): void {
    this.#gauges.set(name, value);
  }

  /** The exposition text. */
  render(): string {
    const out: string[] = [];
    for (const [name, [type, help]] of this.#help) {
      out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
      if (type === "counter") {
        for (const [labels, v] of this.#counters.get(name) ?? []) out.push(`${name}${labels} ${v}`);
      } else if (type === "gauge") {
        out.push(`${name} ${this.#gauges.get(name) ?? 0}`);
      } else {
        for (const [labels, h] of this.#histograms.get(name) ?? []) {
          const inner = labels ? labels.slice(1, -1) + "," : "";
          h.buckets.forEach((b, i) => out.push(`${name}_bucket{${inner}le="${b}"} ${h.counts[i]}`));
          out.push(`${name}_bucket{${inner}le="+Inf"} ${h.count}`);
          out.push(`${name}_sum${labels} ${h.sum}`, `${name}_count${labels} ${h.count}`);
        }
      }
    }
    return out.join("\n") + "\n";
  }
}
