import { createGunzip } from "node:zlib";

/**
 * The lines of a gzip-compressed NDJSON object, parsed, in order. Streams: memory stays
 * at one chunk plus one partial line whatever the object's size.
 */
export async function* ndjsonLines(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<unknown> {
  const gunzip = createGunzip();
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
    const lines = text.split("\n");
    partial = lines.pop() ?? "";
    for (const line of lines) {
      lineNo++;
      if (line.length > 0) yield parseLine(line, lineNo);
    }
  }
  await feeding;
  partial += decoder.decode();
  if (partial.length > 0) yield parseLine(partial, lineNo + 1);
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
