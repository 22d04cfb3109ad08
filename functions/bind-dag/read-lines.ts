import { createGunzip } from "node:zlib";

/**
 * The lines of a gzip-compressed NDJSON object, parsed, in order, a batch (the lines of
 * one decompressed piece, ~256 KB) at a time: a million lines cost a million async
 * steps otherwise. Streams: memory stays at one piece plus one partial line whatever
 * the object's size; zlib inflates the next piece on the thread pool meanwhile.
 */
export async function* ndjsonBatches(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<unknown[]> {
  const gunzip = createGunzip({ chunkSize: 256 * 1024 });
  const feeding = (async () => {
    try {
      for await (const chunk of chunks) {
        if (!gunzip.write(chunk)) await new Promise((r) => gunzip.once("drain", r));
      }
      gunzip.end();
    } catch (err) {
      gunzip.destroy(err as Error);
    }
  })();
  let partial = "";
  let lineNo = 0;
  const decoder = new TextDecoder();
  for await (const piece of gunzip as AsyncIterable<Buffer>) {
    const text = partial + decoder.decode(piece, { stream: true });
    const batch: unknown[] = [];
    let start = 0;
    for (;;) {
      const end = text.indexOf("\n", start);
      if (end < 0) break;
      lineNo++;
      if (end > start) batch.push(parseLine(text.slice(start, end), lineNo));
      start = end + 1;
    }
    partial = text.slice(start);
    if (batch.length > 0) yield batch;
  }
  await feeding;
  partial += decoder.decode();
  if (partial.length > 0) yield [parseLine(partial, lineNo + 1)];
}

/** The same lines one at a time. */
export async function* ndjsonLines(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<unknown> {
  for await (const batch of ndjsonBatches(chunks)) yield* batch;
}

export class MalformedLineError extends Error {
  override name = "MalformedLineError";
}

function parseLine(line: string, lineNo: number): unknown {
  try {
    return JSON.parse(line);
  } catch (err) {
    throw new MalformedLineError(`DAG line ${lineNo} is not JSON: ${(err as Error).message}`);
  }
}
