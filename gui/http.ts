// Small HTTP helpers shared by the GUI's routes: JSON answers, errors with a status,
// request bodies and query-string parameters checked at the edge.
import type { IncomingMessage, ServerResponse } from "node:http";

/** A failure to answer with this HTTP status and `{ error }`. */
export class HttpError extends Error {
  override name = "HttpError";
  constructor(
    readonly status: number,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** Headers on every answer: nothing from this server may be framed or sniffed. */
export const SECURITY_HEADERS: Record<string, string> = {
  "X-Content-Type-Options": "nosniff",
  "X-Frame-Options": "DENY",
  "Referrer-Policy": "no-referrer",
  // Defence in depth: the pages build the DOM with textContent only, so task text can
  // never become markup; even if it did, no inline script or handler would run.
  "Content-Security-Policy":
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; " +
    "form-action 'self'",
};

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...SECURITY_HEADERS,
    "Content-Type": "application/json; charset=utf-8",
    "Content-Length": Buffer.byteLength(text),
    "Cache-Control": "no-store",
  });
  res.end(text);
}

const MAX_BODY = 64 * 1024;

/** The request's JSON body (`{}` when empty); 400 when it is not JSON, 413 when too big. */
export async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY) throw new HttpError(413, `request body over ${MAX_BODY} bytes`);
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString("utf8");
  if (text.trim() === "") return {};
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new HttpError(400, `request body is not JSON: ${(err as Error).message}`);
  }
}

/** Query-string access with checks: every bad value is a 400 naming the parameter. */
export class Params {
  constructor(private readonly search: URLSearchParams) {}

  text(name: string, max = 500): string | undefined {
    const v = this.search.get(name);
    if (v === null || v.trim() === "") return undefined;
    if (v.length > max) throw new HttpError(400, `${name}: at most ${max} characters`);
    return v.trim();
  }

  int(name: string, fallback: number, min: number, max: number): number {
    const v = this.search.get(name);
    if (v === null || v === "") return fallback;
    const n = Number(v);
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      throw new HttpError(400, `${name}: a whole number from ${min} to ${max}, not '${v}'`);
    }
    return n;
  }

  /** One of `allowed` (case-insensitive), returned as written in `allowed`. */
  oneOf<T extends string>(name: string, allowed: readonly T[]): T | undefined {
    const v = this.text(name);
    if (v === undefined) return undefined;
    const found = allowed.find((a) => a.toLowerCase() === v.toLowerCase());
    if (!found) throw new HttpError(400, `${name}: one of ${allowed.join(", ")}, not '${v}'`);
    return found;
  }

  /** `NAME=VALUE` (an arg and its value, as `arg=location=7`). */
  pair(name: string): { name: string; value: string } | undefined {
    const v = this.text(name);
    if (v === undefined) return undefined;
    const i = v.indexOf("=");
    if (i <= 0) throw new HttpError(400, `${name}: NAME=VALUE, not '${v}'`);
    return { name: v.slice(0, i).trim(), value: v.slice(i + 1).trim() };
  }

  /** An ISO date or date-time; returned as a Date. */
  date(name: string): Date | undefined {
    const v = this.text(name, 40);
    if (v === undefined) return undefined;
    const d = new Date(v);
    if (Number.isNaN(d.getTime())) throw new HttpError(400, `${name}: not a date: '${v}'`);
    return d;
  }
}

/** A path segment that must be a positive id; 404 otherwise (the page does not exist). */
export function pathId(value: string | undefined, what: string): number {
  const n = Number(value);
  if (!value || !/^\d{1,15}$/.test(value) || n <= 0) {
    throw new HttpError(404, `${what} '${value ?? ""}' does not exist`);
  }
  return n;
}
