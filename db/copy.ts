import type { Writable } from "node:stream";

/**
 * Writing rows with COPY … FROM STDIN (text format): the fast path for the million rows
 * of a bind (~300k rows/s here, against ~30k/s for batched INSERTs). Rows are encoded
 * into large string chunks so the stream sees few writes.
 */

const NULL = "\\N";

/** Escapes one value of COPY's text format. */
export function copyText(value: string): string {
  // Fast path: most values (names, numbers, args) need no escaping.
  if (!/[\\\t\n\r]/.test(value)) return value;
  return value.replace(/[\\\t\n\r]/g, (c) =>
    c === "\\" ? "\\\\" : c === "\t" ? "\\t" : c === "\n" ? "\\n" : "\\r",
  );
}

export type CopyValue = string | number | boolean | null | undefined;

export function copyField(value: CopyValue): string {
  if (value === null || value === undefined) return NULL;
  if (typeof value === "string") return copyText(value);
  if (typeof value === "boolean") return value ? "t" : "f";
  return String(value);
}

/** A Postgres array literal of text values, e.g. `{"a","b \"c\""}` (then COPY-escaped). */
export function textArrayLiteral(values: readonly string[]): string {
  return `{${values.map((v) => `"${v.replace(/["\\]/g, (c) => `\\${c}`)}"`).join(",")}}`;
}

/**
 * Buffers encoded rows and writes them to a COPY stream in ~1 MB chunks, honouring
 * back-pressure so a million rows never pile up in memory.
 */
export class CopyWriter {
  private buffer: string[] = [];
  private size = 0;
  rows = 0;

  constructor(
    private readonly stream: Writable,
    private readonly chunkBytes = 1 << 20,
  ) {}

  async row(fields: readonly CopyValue[]): Promise<void> {
    let line = "";
    for (let i = 0; i < fields.length; i++) {
      if (i > 0) line += "\t";
      line += copyField(fields[i]);
    }
    line += "\n";
    this.buffer.push(line);
    this.size += line.length;
    this.rows++;
    if (this.size >= this.chunkBytes) await this.flush();
  }

  async flush(): Promise<void> {
    if (this.buffer.length === 0) return;
    const chunk = this.buffer.join("");
    this.buffer = [];
    this.size = 0;
    if (!this.stream.write(chunk)) {
      await new Promise<void>((resolve, reject) => {
        const onError = (err: Error) => reject(err);
        this.stream.once("error", onError);
        this.stream.once("drain", () => {
          this.stream.off("error", onError);
          resolve();
        });
      });
    }
  }

  /** Flushes and ends the COPY; resolves once Postgres has accepted every row. */
  async end(): Promise<void> {
    await this.flush();
    await new Promise<void>((resolve, reject) => {
      this.stream.once("error", reject);
      this.stream.once("finish", resolve);
      this.stream.end();
    });
  }
}
