/**
 * Credentials in URLs, hidden before anything is printed: errors, logs, CLI and CI
 * output. `postgres://drover:s3cret@db:5432/drover` → `postgres://drover:***@db:5432/drover`.
 * A URL holding only a user name (`postgres://postgres@host`) has nothing to hide.
 */

/** `scheme://user:password@` (the password may be empty; user name and password up to the `@`). */
const URL_PASSWORD = /\b([A-Za-z][A-Za-z0-9+.-]*:\/\/[^\s/?#@:]*):[^\s/?#@]*@/g;

/** The text with every URL's password replaced by `***`. */
export function redactUrls(text: string): string {
  return text.replace(URL_PASSWORD, "$1:***@");
}

/** Whether the text holds a URL with a password (or any `user:…@` part). */
export function holdsUrlPassword(text: string): boolean {
  URL_PASSWORD.lastIndex = 0;
  const found = URL_PASSWORD.test(text);
  URL_PASSWORD.lastIndex = 0;
  return found;
}

/** An error's message (and its causes') redacted, for printing. */
export function redactedMessage(err: unknown): string {
  return redactUrls(err instanceof Error ? err.message : String(err));
}
