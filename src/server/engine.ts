/**
 * The HTTP thread's side of the model Worker: starts it, hands it jobs, matches answers to requests, and
 * forgets (and cancels) the requests whose clients went away.
 *
 * @module
 */

import type { ErrorType, FromWorker, Job, JobTiming, ModelInfo, WorkerInit } from "./protocol.ts";

/** An answer from the Worker. */
export type Outcome =
  | { ok: true; result: unknown; timing: JobTiming }
  | { ok: false; errorType: ErrorType; message: string; timing?: JobTiming; status?: number };

/** A forward pass the Worker reports, for the metrics. */
export interface BatchReport {
  size: number;
  tokens: number;
  ms: number;
  queued: number;
}

/** One model Worker and the requests in flight on it. */
export class Engine {
  #worker: Worker;
  #pending = new Map<number, (o: Outcome) => void>();
  #nextId = 1;
  #failed: string | null = null;
  readonly info: ModelInfo;
  onBatch: (b: BatchReport) => void = () => {};

  private constructor(worker: Worker, info: ModelInfo) {
    this.#worker = worker;
    this.info = info;
    worker.onmessage = (e: MessageEvent<FromWorker>) => this.#receive(e.data);
    worker.onerror = (e) => {
      e.preventDefault();
      this.#fail("backend", `the model worker stopped: ${e.message}`);
    };
  }

  /** Starts the Worker and waits until its model is loaded and has run one pass. */
  static start(init: WorkerInit): Promise<Engine> {
    const worker = new Worker(new URL("./worker.ts", import.meta.url), { type: "module" });
    return new Promise<Engine>((resolve, reject) => {
      worker.onmessage = (e: MessageEvent<FromWorker>) => {
        const msg = e.data;
        if (msg.type === "ready") resolve(new Engine(worker, msg.info));
        else if (msg.type === "init-error") {
          worker.terminate();
          reject(new Error(msg.message));
        }
      };
      worker.onerror = (e) => {
        e.preventDefault();
        worker.terminate();
        reject(new Error(`the model worker failed to start: ${e.message}`));
      };
      worker.postMessage({ type: "init", init });
    });
  }

  /** Requests sent to the Worker and not answered yet. */
  get inFlight(): number {
    return this.#pending.size;
  }

  /** Why the Worker is unusable, or null while it works. */
  get failure(): string | null {
    return this.#failed;
  }

  /**
   * Runs a job. When `signal` aborts first (the client went away), the Worker drops the job if it has not
   * started, and the promise settles with an `aborted` outcome.
   */
  submit(job: Job, signal?: AbortSignal): Promise<Outcome | { ok: false; aborted: true }> {
    if (this.#failed) return Promise.resolve({ ok: false, errorType: "unhealthy", message: this.#failed });
    const id = this.#nextId++;
    return new Promise((resolve) => {
      const onAbort = () => {
        if (!this.#pending.delete(id)) return;
        this.#worker.postMessage({ type: "cancel", id });
        resolve({ ok: false, aborted: true });
      };
      this.#pending.set(id, (o) => {
        signal?.removeEventListener("abort", onAbort);
        resolve(o);
      });
      if (signal?.aborted) return onAbort();
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#worker.postMessage({ type: "job", id, job });
    });
  }

  #receive(msg: FromWorker) {
    if (msg.type === "batch") return this.onBatch(msg);
    if (msg.type !== "result" && msg.type !== "error") return;
    const settle = this.#pending.get(msg.id);
    if (!settle) return; // cancelled, or the warm-up pass
    this.#pending.delete(msg.id);
    settle(
      msg.type === "result" ? { ok: true, result: msg.result, timing: msg.timing } : {
        ok: false,
        errorType: msg.errorType,
        message: msg.message,
        timing: msg.timing,
        status: msg.status,
      },
    );
  }

  #fail(errorType: ErrorType, reason: string) {
    this.#failed = reason;
    for (const [id, settle] of this.#pending) {
      this.#pending.delete(id);
      settle({ ok: false, errorType, message: reason });
    }
  }

  /** Stops the Worker; requests still in flight are answered "unhealthy" (503, as while draining). */
  close(): void {
    this.#fail("unhealthy", "the server is shutting down");
    this.#worker.terminate();
  }
}
