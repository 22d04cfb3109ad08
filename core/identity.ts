import { userInfo } from "node:os";

/**
 * People's tokens: the form of a user name that is safe in a NATS subject token, a
 * stream, consumer and bucket name, and a file name. A Unix user name may hold `.` (a
 * subject separator), and names may differ only in case on a case-insensitive store:
 * lower-case letters, digits and `-` stand for themselves, every other byte of the
 * UTF-8 name is `_` and two lower-case hex digits. The encoding is one-to-one, so a
 * token names exactly one person and decodes back to the name.
 */

const KEPT = /^[a-z0-9-]$/;
const TOKEN = /^(?:[a-z0-9-]|_[0-9a-f]{2})+$/;

export function userToken(user: string): string {
  if (user.length === 0) throw new Error("a user name cannot be empty");
  let token = "";
  for (const byte of Buffer.from(user, "utf8")) {
    const c = String.fromCharCode(byte);
    token += KEPT.test(c) ? c : `_${byte.toString(16).padStart(2, "0")}`;
  }
  return token;
}

export function isToken(token: string): boolean {
  return TOKEN.test(token);
}

export function userFromToken(token: string): string {
  if (!isToken(token)) throw new Error(`"${token}" is not a user token`);
  const bytes: number[] = [];
  for (let i = 0; i < token.length; i++) {
    if (token[i] === "_") {
      bytes.push(Number.parseInt(token.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(token.charCodeAt(i));
  }
  return Buffer.from(bytes).toString("utf8");
}

/** The token of the Unix user running this process (a personal stack's one person). */
export function localUserToken(): string {
  return userToken(userInfo().username);
}
