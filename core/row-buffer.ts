// Text gathered into large UTF-8 Buffers, for the two sides of a bulk transfer: the
// client's DAG upload and the binder's COPY into Postgres.

type Utf8Write = (this: Buffer, text: string, offset: number) => number;
const nativeUtf8Write = (Buffer.prototype as unknown as { utf8Write?: Utf8Write }).utf8Write;

/**
 * buf.write(text, offset, "utf8") without its argument parsing (a third of the cost of
 * writing a 100-byte row): Node's own utf8Write where there is one.
 */
function utf8Write(buf: Buffer, text: string, offset: number): number {
  return nativeUtf8Write
    ? nativeUtf8Write.call(buf, text, offset)
    : buf.write(text, offset, "utf8");
}

/**
 * Lines of text (rows already encoded for COPY, or NDJSON lines of an upload), gathered
 * as UTF-8 in ~1 MB Buffers. Encoding each row straight into the
 * Buffer avoids building the chunk as a string rope that must be flattened and encoded
 * later (Buffer.from of such ropes cost a second per million rows).
 */
export class RowBuffer {
  private buf: Buffer;
  size = 0;
  rows = 0;

  constructor(private readonly chunkBytes = 1 << 20) {
    this.buf = Buffer.allocUnsafe(chunkBytes + (64 << 10));
  }

  /** At least chunkBytes gathered: time to take() them. */
  get full(): boolean {
    return this.size >= this.chunkBytes;
  }

  /** Adds encoded rows (`rows` of them, one by default). */
  line(encoded: string, rows = 1): void {
    // UTF-8 takes at most 3 bytes per UTF-16 unit.
    const most = encoded.length * 3;
    if (this.size + most > this.buf.length) {
      const grown = Buffer.allocUnsafe(Math.max(this.buf.length, this.size + most) * 2);
      this.buf.copy(grown, 0, 0, this.size);
      this.buf = grown;
    }
    this.size += utf8Write(this.buf, encoded, this.size);
    this.rows += rows;
  }

  /** The rows gathered so far, and an empty buffer for the next ones. */
  take(): { chunk: Buffer; rows: number } {
    const taken = { chunk: this.buf.subarray(0, this.size), rows: this.rows };
    this.buf = Buffer.allocUnsafe(this.chunkBytes + (64 << 10));
    this.size = 0;
    this.rows = 0;
    return taken;
  }
}
