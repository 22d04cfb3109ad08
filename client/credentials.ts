import { existsSync } from "node:fs";
import { join } from "node:path";
import { defaultHome } from "../core/config.ts";

/** The credentials `drover admin` or `drover up` left in this person's home, if any. */
export function ownCredentials(): string | undefined {
  const path = join(defaultHome(), "credentials.json");
  return existsSync(path) ? path : undefined;
}
