/**
 * Who may act in the GUI. Everyone who reaches it may read (as in Jobmon's GUI); an
 * action (stop, resume, concurrency, set-status) is sent as one person, whose rights the
 * command service checks like the CLI's:
 * - `token` (a personal stack): the GUI acts as its own user, for whoever shows the
 *   random token it printed in its URL (kept in a cookie after the first visit), as
 *   Jupyter does; without it, an action is refused.
 * - `header` (a site, behind its single sign-on proxy): the person is the configured
 *   header's value, believed only from the configured proxy addresses.
 */
import { randomBytes, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { userToken } from "../core/identity.ts";
import { HttpError } from "./http.ts";

export type GuiAuth =
  | { mode: "token"; token: string; self: string }
  | { mode: "header"; header: string; trusted: ReadonlySet<string> };

export const TOKEN_COOKIE = "drover_token";

export function newGuiToken(): string {
  return randomBytes(24).toString("base64url");
}

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The token a request shows: a bearer header, or the cookie set by the first visit. */
export function shownToken(req: IncomingMessage): string | undefined {
  const bearer = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? "")?.[1];
  if (bearer) return bearer;
  for (const part of (req.headers.cookie ?? "").split(";")) {
    const [name, ...value] = part.trim().split("=");
    if (name === TOKEN_COOKIE) return decodeURIComponent(value.join("="));
  }
  return undefined;
}

/** The address a request came from, as the socket says (never a header). */
function remoteAddress(req: IncomingMessage): string {
  return (req.socket.remoteAddress ?? "").replace(/^::ffff:/, "");
}

/** The user token an action is sent as; refused (401/403) when the request shows none. */
export function actingUser(req: IncomingMessage, auth: GuiAuth): string {
  if (auth.mode === "token") {
    const token = shownToken(req);
    if (token === undefined || !sameSecret(token, auth.token)) {
      throw new HttpError(401, "actions need the GUI's token: open the URL it printed");
    }
    return auth.self;
  }
  if (!auth.trusted.has(remoteAddress(req))) {
    throw new HttpError(403, `actions are taken only through the site's sign-on proxy`);
  }
  const value = req.headers[auth.header.toLowerCase()];
  const user = (Array.isArray(value) ? value[0] : value)?.trim();
  if (!user) throw new HttpError(401, `no signed-in user (${auth.header} is missing)`);
  return userToken(user);
}

/** A first visit with `?token=`: the cookie that lets this browser act from then on. */
export function tokenCookie(auth: GuiAuth, query: URLSearchParams): string | undefined {
  if (auth.mode !== "token") return undefined;
  const given = query.get("token");
  if (given === null || !sameSecret(given, auth.token)) return undefined;
  return `${TOKEN_COOKIE}=${encodeURIComponent(given)}; HttpOnly; SameSite=Strict; Path=/`;
}
