/**
 * HTTP requests to the hub and the hosts it redirects to. Redirects are followed by hand, so that only http(s)
 * targets are taken (fetch would read a `file:` URL handed to it as a download URL), the hop count is bounded,
 * and the token goes only to the hub's own origin, never to a host a redirect leads to.
 *
 * @module
 */

import { HubError } from "./errors.ts";

/** User-Agent of every request. */
export const USER_AGENT = "denobert-distilbert-hub/0.1";

/** Redirects followed for one request before giving up (after the first request). */
export const MAX_REDIRECTS = 10;

/** Where the hub is and what to authenticate with. */
export interface HttpContext {
  /** Hub base URL; only its origin receives the token. */
  endpoint: string;
  /** Access token, if any. */
  token: string | undefined;
}

/** One request: method, extra headers, abort signal, and which redirects to follow. */
export interface SendInit {
  method: "GET" | "HEAD";
  headers?: Record<string, string>;
  signal: AbortSignal;
  /**
   * `"all"`: every http(s) redirect. `"relative"`: only redirects to a path on the same server (a renamed
   * repo); an absolute one (the LFS CDN) is returned to the caller, which takes its `Location` as the download
   * URL (see {@link redirectTarget}).
   */
  follow: "all" | "relative";
  /** What is being fetched, to name it in errors (a file of the repo). */
  what: string;
}

/** The final response and the URL it came from. */
export interface Sent {
  response: Response;
  url: string;
}

/** The useful part of a fetch failure: Deno's says "fetch failed", its cause "tcp connect error: ...". */
export function reasonOf(err: unknown): string {
  const cause = err instanceof Error && err.cause instanceof Error ? err.cause.message : undefined;
  const message = err instanceof Error ? err.message : String(err);
  return (cause ?? message).replace(/^error sending request for url \(.*?\): /, "");
}

/** The error for a hub that cannot be reached at all. */
export function networkError(url: string, err: unknown): HubError {
  return new HubError(
    "network",
    `no network: could not reach ${new URL(url).origin} (${
      reasonOf(err)
    }); check the connection or HF_ENDPOINT, ` +
      `or set HF_HUB_OFFLINE=1 to use the cache only`,
    { cause: err },
  );
}

/** Whether fetch failed for a network reason (refused, DNS, reset: TypeError) or an abort/timeout. */
export function isNetworkFailure(err: unknown): boolean {
  return err instanceof TypeError ||
    (err instanceof DOMException && (err.name === "TimeoutError" || err.name === "AbortError"));
}

/**
 * Where a redirect from `from` leads, refusing anything but http(s) (`file:`, `data:`...).
 *
 * @param from the URL that answered with a redirect
 * @param location its `Location` header
 * @param what the file being fetched, for the error
 */
export function redirectTarget(from: string, location: string, what: string): string {
  let target: URL;
  try {
    target = new URL(location, from);
  } catch {
    throw new HubError("http", `${what}: ${from} redirected to an invalid URL ${JSON.stringify(location)}`);
  }
  if (target.protocol !== "http:" && target.protocol !== "https:") {
    throw new HubError(
      "http",
      `${what}: ${from} redirected to ${target.href}; only http(s) redirects are followed`,
    );
  }
  return target.href;
}

/**
 * Sends a request and follows its redirects (as `init.follow` says), at most {@link MAX_REDIRECTS}. The token
 * is sent while every URL so far has been on the hub's origin: once a redirect leaves it, not even a redirect
 * back brings it again. Range and the other headers are kept on every hop.
 *
 * @throws {HubError} `network` when a host cannot be reached; `http` for a non-http(s) redirect or too many
 */
export async function send(ctx: HttpContext, url: string, init: SendInit): Promise<Sent> {
  const hub = new URL(ctx.endpoint).origin;
  let onHub = new URL(url).origin === hub;
  for (let hop = 0;; hop++) {
    const headers: Record<string, string> = {
      "user-agent": USER_AGENT,
      "accept-encoding": "identity",
      ...init.headers,
    };
    if (ctx.token && onHub) headers.authorization = `Bearer ${ctx.token}`;
    let response: Response;
    try {
      response = await fetch(url, { method: init.method, headers, redirect: "manual", signal: init.signal });
    } catch (err) {
      if (isNetworkFailure(err)) throw networkError(url, err);
      throw err;
    }
    const location = response.headers.get("location");
    const redirect = response.status >= 300 && response.status < 400 && location !== null;
    if (!redirect || (init.follow === "relative" && !/^\/(?!\/)/.test(location))) return { response, url };
    await response.body?.cancel();
    if (hop === MAX_REDIRECTS) {
      throw new HubError(
        "http",
        `${init.what}: too many redirects (more than ${MAX_REDIRECTS}), the last from ${url}`,
        { status: response.status },
      );
    }
    url = redirectTarget(url, location, init.what);
    onHub &&= new URL(url).origin === hub;
  }
}
