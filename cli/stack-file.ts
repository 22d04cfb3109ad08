// The stack file `drover up` writes (`$DROVER_HOME/stack.json`): how commands in other
// shells find the running stack. Kept apart from the stack itself, which every command
// would otherwise load (the functions, the GUI) just to read a small file.
import { readFileSync } from "node:fs";
import { stackFilePath } from "../core/config.ts";

export interface StackFile {
  pid: number;
  natsUrl: string;
  databaseUrl: string;
  guiPort: number;
  /** the GUI's URL with the token that lets a browser act (absent: no GUI) */
  guiUrl?: string;
  /** private services started by `drover up`, stopped by `drover down` */
  privateServices: boolean;
  startedAt: string;
}

export function readStackFile(home: string): StackFile | null {
  try {
    return JSON.parse(readFileSync(stackFilePath(home), "utf8")) as StackFile;
  } catch {
    return null;
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
