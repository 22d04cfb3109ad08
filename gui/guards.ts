/**
 * What keeps other web pages away from the API (who may act is auth.ts): a POST must be
 * JSON (a cross-site form cannot send that without a preflight we never grant) and its
 * Origin, when given, must be this server; the Host must be one this server answers to
 * (loopback names on loopback, else the allowlist), so a rebound DNS name cannot reach it.
 */
import type { IncomingMessage } from "node:http";
import { HttpError } from "./http.ts";

const LOOPBACK = new Set(["127.0.0.1", "::1", "localhost"]);

/**
 * The Host must be one of `allowed` (the names a site serves the GUI under), or a
 * loopback name when bound to loopback, or the bound address itself.
 */
export function checkHost(
  req: IncomingMessage,
  bound: string,
  allowed: readonly string[] = [],
): void {
  const name = (req.headers.host ?? "")
    .replace(/:\d+$/, "")
    .replace(/^\[|\]$/g, "")
    .toLowerCase();
  if (LOOPBACK.has(bound) && LOOPBACK.has(name)) return;
  if (name === bound || allowed.includes(name)) return;
  throw new HttpError(421, `unexpected Host '${req.headers.host ?? ""}'`);
}

/** A POST must be JSON, and from a page of this server when the browser says where from. */
export function checkPost(req: IncomingMessage): void {
  const type = (req.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
  if (type !== "application/json") {
    throw new HttpError(415, "actions take a JSON body (Content-Type: application/json)");
  }
  const origin = req.headers.origin;
  if (origin !== undefined && origin !== "null") {
    let originHost = "";
    try {
      originHost = new URL(origin).host;
    } catch {
      // unparsable: refused below
    }
    if (originHost !== req.headers.host) {
      throw new HttpError(403, `cross-origin request from ${origin} refused`);
    }
  }
}
