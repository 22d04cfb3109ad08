import { createGunzip } from "node:zlib";
import { CAPS, exceedsBytes, formatBytes } from "../../core/limits.ts";

export interface ReadCaps {
  /** bytes of the whole DAG once decompressed */
  maxBytes: number;
  /** bytes of one line */
  maxLineBytes: number;
}

export const DEFAULT_READ_CAPS: ReadCaps = {
  maxBytes: CAPS.dagBytes,
  maxLineBytes: CAPS.dagLineBytes,
};

/**
 * The lines of a gzip-compressed NDJSON object, parsed, in order, a batch (the lines of
 * one decompressed piece, ~256 KB) at a time: a million lines cost a million async
 * steps otherwise. Streams: memory stays at one piece plus one partial line whatever
 * the object's size; zlib inflates the next piece on the thread pool meanwhile.
 * Past `caps` (a gzip bomb, a line without end) it throws MalformedLineError naming the
 * cap, having held no more than one piece and one line of at most the line cap.
 */
export async function* ndjsonBatches(
  chunks: AsyncIterable<Uint8Array>,
  caps: ReadCaps = DEFAULT_READ_CAPS,
): AsyncGenerator<unknown[]> {
  const gunzip = createGunzip({ chunkSize: 256 * 1024 });
  const feeding = (async () => {
    try {
      for await (const chunk of chunks) {
        // Destroyed: the reader stopped (a cap, a bad line); reading more is useless.
        if (gunzip.destroyed) return;
        if (!gunzip.write(chunk)) {
          await new Promise((r) => {
            gunzip.once("drain", r);
            gunzip.once("close", r);
          });
        }
      }
      gunzip.end();
    } catch (err) {
      gunzip.destroy(err as Error);
    }
  })();
  let partial = "";
  let lineNo = 0;
  let total = 0;
  const decoder = new TextDecoder();
  try {
    for await (const piece of gunzip as AsyncIterable<Buffer>) {
      total += piece.length;
      if (total > caps.maxBytes) {
        throw new MalformedLineError(
          `the DAG is larger than ${formatBytes(caps.maxBytes)} once decompressed (the cap on a DAG's size)`,
        );
      }
      const text = partial + decoder.decode(piece, { stream: true });
      const batch: unknown[] = [];
      let start = 0;
      for (;;) {
        const end = text.indexOf("\n", start);
        if (end < 0) break;
        lineNo++;
        if (end > start) batch.push(parseLine(text.slice(start, end), lineNo, caps));
        start = end + 1;
      }
      partial = text.slice(start);
      checkLength(partial, lineNo + 1, caps);
      if (batch.length > 0) yield batch;
    }
    await feeding;
  } finally {
    // Stopped early (a cap, a bad line): the rest is not inflated.
    gunzip.destroy();
  }
  partial += decoder.decode();
  if (partial.length > 0) yield [parseLine(partial, lineNo + 1, caps)];
}

/** The same lines one at a time. */
export async function* ndjsonLines(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<unknown> {
  for await (const batch of ndjsonBatches(chunks)) yield* batch;
}

export class MalformedLineError extends Error {
  override name = "MalformedLineError";
}

function checkLength(line: string, lineNo: number, caps: ReadCaps): void {
  if (exceedsBytes(line, caps.maxLineBytes)) {
    throw new MalformedLineError(
      `DAG line ${lineNo} is longer than ${formatBytes(caps.maxLineBytes)} (the cap on one line)`,
    );
  }
}

function parseLine(line: string, lineNo: number, caps: ReadCaps): unknown {
  checkLength(line, lineNo, caps);
  try {
    return JSON.parse(line);
  } catch (err) {
    throw new MalformedLineError(`DAG line ${lineNo} is not JSON: ${(err as Error).message}`);
  }
}
