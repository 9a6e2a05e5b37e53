/**
 * A local stand-in for the Hugging Face hub, for tests only: `Deno.serve` on 127.0.0.1, port 0.
 *
 * It answers `HEAD`/`GET /{repo}/resolve/{revision}/{file}` the way huggingface.co does:
 * - `X-Repo-Commit` on every answer about a known repo/revision (also on 404 EntryNotFound);
 * - regular files: `200`, `ETag: "<git blob sha1>"`, `Content-Length`, Range support;
 * - LFS files (`*.safetensors`, `*.bin`): `302` to an absolute `/cdn/<sha256>` URL with `X-Linked-Etag: "<sha256>"`
 *   and `X-Linked-Size`; the CDN path serves the bytes with Range support (`206`, `Content-Range`);
 * - `401` (X-Error-Code GatedRepo) for a gated repo without its token; `404` with X-Error-Code RepoNotFound,
 *   RevisionNotFound or EntryNotFound; relative `307` for a renamed repo.
 * Fault injection: `cutNextAfter` (the next CDN body stops after N bytes and the connection closes) and `corrupt`
 * (CDN bodies have one byte flipped). For a hub that misbehaves on purpose, `intercept` lets a test answer any
 * request itself, with the body helpers below (`endlessBody`, `dripBody`, `halfBody`). Every request is recorded
 * in `requests`.
 *
 * @module
 */

import { createHash } from "node:crypto";

/** A repo served by the fake hub. */
export interface FakeRepo {
  /** Repo id, `org/name` or `name`. */
  id: string;
  /** Commit sha -> files (path -> content). */
  commits: Record<string, Record<string, Uint8Array>>;
  /** Branch/tag -> commit sha; `main` at least. */
  refs: Record<string, string>;
  /** Token required (as `Authorization: Bearer <token>`), for a gated/private repo. */
  token?: string;
  /** Old id that redirects (relative 307) to this repo, like a renamed repo on the hub. */
  renamedFrom?: string;
}

/** A request the fake hub saw. */
export interface RecordedRequest {
  method: string;
  path: string;
  range: string | null;
  authorization: string | null;
}

/** A running fake hub. */
export interface FakeHub {
  /** Base URL, e.g. `http://127.0.0.1:40123`, to pass as `endpoint`. */
  url: string;
  /** Everything requested so far. */
  requests: RecordedRequest[];
  /** When set, the next CDN (LFS) body is cut after this many bytes; then it resets to undefined. */
  cutNextAfter: number | undefined;
  /** When true, CDN (LFS) bodies have one byte flipped (same length). */
  corrupt: boolean;
  /** When true, the CDN ignores Range headers and always answers 200 with the whole file. */
  ignoreRange: boolean;
  /** When set, the next CDN (LFS) body sends this many bytes and then stalls until the client gives up. */
  stallNextAfter: number | undefined;
  /** When set, asked first about every request (after it is recorded); a Response it returns is the answer. */
  intercept: ((req: Request, url: URL) => Response | undefined) | undefined;
  /** Stops the server and waits for it. */
  close(): Promise<void>;
}

const encoder = new TextEncoder();

/** sha256 hex of bytes. */
export function sha256(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/** git blob sha1 hex of bytes (what the hub sends as ETag for non-LFS files). */
export function gitBlobSha1(data: Uint8Array): string {
  return createHash("sha1").update(`blob ${data.length}\0`).update(data).digest("hex");
}

/** A deterministic fake 40-hex commit sha. */
export function fakeCommit(seed: string): string {
  return createHash("sha1").update(`commit ${seed}`).digest("hex");
}

/** Deterministic pseudo-random bytes (the content does not matter, only that it is not trivially uniform). */
export function fakeBytes(length: number, seed = 1): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** The files of a small DistilBERT-like checkpoint: config, vocab, tokenizer config and a fake safetensors. */
export function distilbertFiles(
  options: { weightsBytes?: number; seed?: number } = {},
): Record<string, Uint8Array> {
  const config = {
    architectures: ["DistilBertForSequenceClassification"],
    model_type: "distilbert",
    dim: 8,
    n_layers: 1,
    n_heads: 2,
    hidden_dim: 16,
    vocab_size: 8,
    seed: options.seed ?? 1,
  };
  return {
    "config.json": encoder.encode(JSON.stringify(config, null, 2)),
    "vocab.txt": encoder.encode("[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nhello\nworld\n!\n"),
    "tokenizer_config.json": encoder.encode(JSON.stringify({ do_lower_case: true, model_max_length: 512 })),
    "model.safetensors": fakeBytes(options.weightsBytes ?? 64 * 1024, options.seed ?? 1),
  };
}

/** A repo with one commit on `main`. */
export function simpleRepo(
  id: string,
  files: Record<string, Uint8Array>,
  extra: Partial<FakeRepo> = {},
): FakeRepo {
  const commit = fakeCommit(id);
  return { id, commits: { [commit]: files }, refs: { main: commit }, ...extra };
}

function isLfs(path: string): boolean {
  return path.endsWith(".safetensors") || path.endsWith(".bin");
}

function bytesResponse(req: Request, data: Uint8Array, headers: Headers, faults?: FakeHub): Response {
  headers.set("accept-ranges", "bytes");
  let start = 0;
  let end = data.length - 1;
  let status = 200;
  const range = faults?.ignoreRange ? null : req.headers.get("range");
  if (range) {
    const m = /^bytes=(\d+)-(\d*)$/.exec(range);
    if (!m) return new Response(null, { status: 400 });
    start = Number(m[1]);
    if (m[2]) end = Math.min(Number(m[2]), end);
    if (start >= data.length) {
      headers.set("content-range", `bytes */${data.length}`);
      return new Response(null, { status: 416, headers });
    }
    status = 206;
    headers.set("content-range", `bytes ${start}-${end}/${data.length}`);
  }
  const body = data.slice(start, end + 1);
  headers.set("content-length", String(body.length));
  if (req.method === "HEAD") return new Response(null, { status, headers });
  const stall = faults?.stallNextAfter;
  if (faults && stall !== undefined) {
    faults.stallNextAfter = undefined;
    let sent = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let wake: () => void = () => {};
    return new Response(
      new ReadableStream<Uint8Array>({
        async pull(controller) {
          if (!sent) {
            sent = true;
            controller.enqueue(body.slice(0, stall));
            return;
          }
          // Silence until the client disconnects (which cancels this stream), bounded so the server can always
          // shut down.
          await new Promise<void>((resolve) => {
            wake = resolve;
            timer = setTimeout(resolve, 5000);
          });
          clearTimeout(timer);
          controller.close();
        },
        cancel() {
          clearTimeout(timer);
          wake();
        },
      }),
      { status, headers },
    );
  }
  const cut = faults?.cutNextAfter;
  if (faults && cut !== undefined) {
    faults.cutNextAfter = undefined;
    // Send `cut` bytes, then end the body short of Content-Length: the connection is closed mid-body.
    let sent = false;
    return new Response(
      new ReadableStream<Uint8Array>({
        async pull(controller) {
          if (!sent) {
            sent = true;
            controller.enqueue(body.slice(0, cut));
            return;
          }
          await new Promise((r) => setTimeout(r, 20));
          controller.close();
        },
      }),
      { status, headers },
    );
  }
  return new Response(body, { status, headers });
}

/**
 * Starts a fake hub serving `repos`.
 *
 * @param repos the repos to serve
 */
export function startFakeHub(repos: FakeRepo[]): FakeHub {
  const byId = new Map(repos.map((r) => [r.id, r]));
  const renamed = new Map(repos.filter((r) => r.renamedFrom).map((r) => [r.renamedFrom!, r]));
  const blobs = new Map<string, Uint8Array>();
  for (const repo of repos) {
    for (const files of Object.values(repo.commits)) {
      for (const [path, data] of Object.entries(files)) if (isLfs(path)) blobs.set(sha256(data), data);
    }
  }

  const ac = new AbortController();
  const hub: FakeHub = {
    url: "",
    requests: [],
    cutNextAfter: undefined,
    corrupt: false,
    ignoreRange: false,
    stallNextAfter: undefined,
    intercept: undefined,
    close: async () => {
      ac.abort();
      await server.finished;
    },
  };

  const error = (status: number, code: string, message: string, extra: Record<string, string> = {}) =>
    new Response(null, { status, headers: { "x-error-code": code, "x-error-message": message, ...extra } });

  const handler = (req: Request): Response => {
    const url = new URL(req.url);
    hub.requests.push({
      method: req.method,
      path: url.pathname,
      range: req.headers.get("range"),
      authorization: req.headers.get("authorization"),
    });
    const intercepted = hub.intercept?.(req, url);
    if (intercepted !== undefined) return intercepted;
    if (req.method !== "GET" && req.method !== "HEAD") return new Response(null, { status: 405 });

    const cdn = /^\/cdn\/([0-9a-f]{64})$/.exec(url.pathname);
    if (cdn) {
      const data = blobs.get(cdn[1]);
      if (!data) return new Response(null, { status: 404 });
      let served = data;
      if (hub.corrupt) {
        served = data.slice();
        served[served.length >> 1] ^= 0xff;
      }
      return bytesResponse(req, served, new Headers({ "content-type": "application/octet-stream" }), hub);
    }

    const segments = url.pathname.split("/").slice(1);
    const at = segments.indexOf("resolve");
    if (at < 1 || at > 2 || segments.length < at + 3) return error(404, "EntryNotFound", "Not found");
    const repoId = segments.slice(0, at).join("/");
    const revision = decodeURIComponent(segments[at + 1]);
    const file = segments.slice(at + 2).join("/");
    const old = renamed.get(repoId);
    if (old) {
      return new Response(null, {
        status: 307,
        headers: { location: `/${old.id}/resolve/${segments[at + 1]}/${file}` },
      });
    }
    const repo = byId.get(repoId);
    if (!repo) return error(404, "RepoNotFound", "Repository not found");
    if (repo.token !== undefined && req.headers.get("authorization") !== `Bearer ${repo.token}`) {
      return error(401, "GatedRepo", `Access to model ${repo.id} is restricted. You must be authenticated.`);
    }
    const commit = repo.refs[revision] ?? (repo.commits[revision] ? revision : undefined);
    if (!commit) return error(404, "RevisionNotFound", "Invalid rev id");
    const data = repo.commits[commit][file];
    if (!data) return error(404, "EntryNotFound", "Entry not found", { "x-repo-commit": commit });

    const headers = new Headers({ "x-repo-commit": commit });
    if (isLfs(file)) {
      const oid = sha256(data);
      headers.set("x-linked-etag", `"${oid}"`);
      headers.set("x-linked-size", String(data.length));
      headers.set("etag", `"${gitBlobSha1(encoder.encode(`oid sha256:${oid}`))}"`);
      headers.set("location", `${url.origin}/cdn/${oid}`);
      headers.set("content-length", "0");
      return new Response(null, { status: 302, headers });
    }
    headers.set("etag", `"${gitBlobSha1(data)}"`);
    return bytesResponse(req, data, headers);
  };

  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, signal: ac.signal, onListen: () => {} },
    handler,
  );
  hub.url = `http://127.0.0.1:${server.addr.port}`;
  return hub;
}

/** Bytes a body helper has handed to the server so far, and whether the client hung up. */
export interface BodyCounter {
  sent: number;
  cancelled: boolean;
}

/**
 * A body that repeats `data` without end (so without Content-Length), counting what it sends. It stops after
 * `limit` bytes only so that a client that never stops cannot keep the test server busy for ever.
 */
export function endlessBody(
  data: Uint8Array,
  counter: BodyCounter,
  limit = 64 << 20,
): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (counter.sent >= limit) return controller.close();
      controller.enqueue(data.slice());
      counter.sent += data.length;
    },
    cancel() {
      counter.cancelled = true;
    },
  }, { highWaterMark: 0 });
}

/**
 * A body that sends `data` one byte every `intervalMs`, then closes; it also closes after `maxMs` (short of the
 * data, like a dropped connection) so the server can always shut down.
 */
export function dripBody(
  data: Uint8Array,
  intervalMs: number,
  counter: BodyCounter,
  maxMs = 8000,
): ReadableStream<Uint8Array> {
  const started = Date.now();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let wake: () => void = () => {};
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (counter.sent >= data.length || Date.now() - started > maxMs) return controller.close();
      await new Promise<void>((resolve) => {
        wake = resolve;
        timer = setTimeout(resolve, intervalMs);
      });
      if (counter.cancelled) return;
      controller.enqueue(data.slice(counter.sent, counter.sent + 1));
      counter.sent++;
    },
    cancel() {
      counter.cancelled = true;
      clearTimeout(timer);
      wake();
    },
  }, { highWaterMark: 0 });
}

/** A body of the first half of `data` that then ends cleanly, as a truncated chunked response does. */
export function halfBody(data: Uint8Array): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(data.slice(0, data.length >> 1));
      controller.close();
    },
  });
}

/** An empty body that still leaves Content-Length out of the answer (Deno adds `content-length: 0` to `null`). */
export function noLengthBody(): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({ start: (controller) => controller.close() });
}

/** A base URL where nothing listens (a server started on port 0, then stopped), for "no network" tests. */
export async function closedEndpoint(): Promise<string> {
  const ac = new AbortController();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, signal: ac.signal, onListen: () => {} },
    () => new Response(),
  );
  const url = `http://127.0.0.1:${server.addr.port}`;
  ac.abort();
  await server.finished;
  return url;
}
