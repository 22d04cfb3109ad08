/**
 * Compact sets of strings for a million tasks: a string (or a sequence of strings) is
 * reduced to a 128-bit digest, and the digests live in typed arrays. A V8 Set of a
 * million ~30-character strings costs ~100 MB and keeps a million objects alive for
 * every major GC to trace; this costs 32 bytes a task and no objects.
 *
 * The digest is MurmurHash3 x86_128 over the UTF-16 code units (not cryptographic:
 * two distinct keys share a digest with a probability of about n² / 2^128, ~10^-27
 * for a million keys; someone could craft a collision, and would only get their own
 * workflow rejected as a duplicate).
 */

const C1 = 0x239b961b;
const C2 = 0xab0e9789 | 0;
const C3 = 0x38b34ae5;
const C4 = 0xa1e38b93 | 0;

function rotl(x: number, r: number): number {
  return (x << r) | (x >>> (32 - r));
}

function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/**
 * A 32-bit hash of a sequence of strings, for tables that compare their items again on
 * equal hashes (FirstIndex): `finish32(mix32(mix32(FNV_SEED, a), b))`. FNV-1a over the
 * length and the UTF-16 units, then murmur's finalizer for well-mixed low bits.
 */
export const FNV_SEED = 0x811c9dc5 | 0;

export function mix32(h: number, s: string): number {
  h = Math.imul(h ^ s.length, 0x01000193);
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h;
}

export function finish32(h: number): number {
  return fmix(h);
}

/**
 * A 128-bit digest of a sequence of strings and numbers: `begin()`, then `string()` and
 * `uint32()` in turn, then `end()`; the result is in h1..h4. Each string is preceded by
 * its length, so a sequence is digested unambiguously ("ab","c" differs from "a","bc").
 * The units are gathered in a scratch buffer, then hashed in 16-byte blocks (read in the
 * host's byte order: digests are for this process's tables, never stored or sent).
 */
export class Hash128 {
  h1 = 0;
  h2 = 0;
  h3 = 0;
  h4 = 0;
  private units = new Uint16Array(512);
  private words = new Int32Array(this.units.buffer);
  private n = 0;

  begin(): this {
    this.n = 0;
    return this;
  }

  /** Adds a string, length first. */
  string(s: string): this {
    const len = s.length;
    let n = this.n;
    if (n + len + 10 > this.units.length) this.reserve(n + len + 2);
    const units = this.units;
    units[n++] = len & 0xffff;
    units[n++] = len >>> 16;
    for (let i = 0; i < len; i++) units[n++] = s.charCodeAt(i);
    this.n = n;
    return this;
  }

  /** Adds a whole number in 0..2^32-1. */
  uint32(v: number): this {
    if (this.n + 10 > this.units.length) this.reserve(this.n + 2);
    this.units[this.n++] = v & 0xffff;
    this.units[this.n++] = v >>> 16;
    return this;
  }

  private reserve(units: number): void {
    let size = this.units.length;
    while (size < units + 8) size *= 2;
    const grown = new Uint16Array(size);
    grown.set(this.units);
    this.units = grown;
    this.words = new Int32Array(grown.buffer);
  }

  end(): this {
    const n = this.n;
    const bytes = n * 2;
    // Zero the padding of the last block (up to 7 units past n; the buffer has room).
    const padded = (n + 7) & ~7;
    this.units.fill(0, n, padded);
    const w = this.words;
    const blocks = padded >> 3;
    const full = n >> 3;
    let h1 = 0;
    let h2 = 0;
    let h3 = 0;
    let h4 = 0;
    for (let b = 0; b < full; b++) {
      const o = b * 4;
      h1 ^= Math.imul(rotl(Math.imul(w[o]!, C1), 15), C2);
      h1 = rotl(h1, 19);
      h1 = (h1 + h2) | 0;
      h1 = (Math.imul(h1, 5) + 0x561ccd1b) | 0;
      h2 ^= Math.imul(rotl(Math.imul(w[o + 1]!, C2), 16), C3);
      h2 = rotl(h2, 17);
      h2 = (h2 + h3) | 0;
      h2 = (Math.imul(h2, 5) + 0x0bcaa747) | 0;
      h3 ^= Math.imul(rotl(Math.imul(w[o + 2]!, C3), 17), C4);
      h3 = rotl(h3, 15);
      h3 = (h3 + h4) | 0;
      h3 = (Math.imul(h3, 5) + 0x96cd1c35) | 0;
      h4 ^= Math.imul(rotl(Math.imul(w[o + 3]!, C4), 18), C1);
      h4 = rotl(h4, 13);
      h4 = (h4 + h1) | 0;
      h4 = (Math.imul(h4, 5) + 0x32ac3b17) | 0;
    }
    if (blocks > full) {
      // The tail: a partial block, mixed in without the rotations of h.
      const o = full * 4;
      h4 ^= Math.imul(rotl(Math.imul(w[o + 3]!, C4), 18), C1);
      h3 ^= Math.imul(rotl(Math.imul(w[o + 2]!, C3), 17), C4);
      h2 ^= Math.imul(rotl(Math.imul(w[o + 1]!, C2), 16), C3);
      h1 ^= Math.imul(rotl(Math.imul(w[o]!, C1), 15), C2);
    }
    h1 ^= bytes;
    h2 ^= bytes;
    h3 ^= bytes;
    h4 ^= bytes;
    h1 = (h1 + h2 + h3 + h4) | 0;
    h2 = (h2 + h1) | 0;
    h3 = (h3 + h1) | 0;
    h4 = (h4 + h1) | 0;
    h1 = fmix(h1);
    h2 = fmix(h2);
    h3 = fmix(h3);
    h4 = fmix(h4);
    h1 = (h1 + h2 + h3 + h4) | 0;
    this.h1 = h1;
    this.h2 = (h2 + h1) | 0;
    this.h3 = (h3 + h1) | 0;
    this.h4 = (h4 + h1) | 0;
    return this;
  }
}

/**
 * A set of 128-bit digests. The digests are kept in insertion order in a log (16 bytes
 * each, written in sequence); the hash table (open addressing, linear probing, at most
 * half full) holds 8 bytes a slot: the log position and 32 other bits of the digest as
 * a fingerprint, so a probe touches one small slot, and the log only when fingerprints
 * match. With 16-byte slots, the two tables of a million-task bind were 64 MB of random
 * accesses, each a cache miss.
 */
export class DigestSet {
  /** [log position + 1 (0 = free), fingerprint] per slot. */
  private slots: Int32Array;
  private mask: number;
  private log: Int32Array;
  size = 0;

  constructor(expected = 0) {
    let capacity = 1024;
    while (capacity < expected * 2) capacity *= 2;
    this.slots = new Int32Array(capacity * 2);
    this.mask = capacity - 1;
    this.log = new Int32Array(Math.max(512, expected) * 4);
  }

  /** What addBatch's first pass read (kept, so that the reads are not optimized away). */
  touched = 0;

  /** Adds the digest in `h`; false when it was there already. */
  add(h: Hash128): boolean {
    return this.insert(h.h1, h.h2, h.h3, h.h4);
  }

  /**
   * Adds `count` digests (4 words each in `digests`); `found[k]` is 1 when digest k was
   * there already (or earlier in the batch), else 0. The slots of the whole batch are
   * read first, one after the other: their cache misses then overlap, where a miss per
   * task among a task's other work is paid in full (most of the time of add()).
   */
  addBatch(digests: Int32Array, count: number, found: Uint8Array): void {
    const { slots, mask } = this;
    let touched = 0;
    for (let k = 0; k < count; k++) touched ^= slots[2 * (digests[4 * k]! & mask)]!;
    this.touched = touched;
    for (let k = 0; k < count; k++) {
      const o = 4 * k;
      found[k] = this.insert(digests[o]!, digests[o + 1]!, digests[o + 2]!, digests[o + 3]!)
        ? 0
        : 1;
    }
  }

  private insert(a: number, b: number, c: number, fingerprint: number): boolean {
    const { slots, mask } = this;
    for (let s = a & mask; ; s = (s + 1) & mask) {
      const j = slots[2 * s]! - 1;
      if (j < 0) {
        this.append(a, b, c, fingerprint);
        slots[2 * s] = this.size;
        slots[2 * s + 1] = fingerprint;
        if (this.size * 2 > mask + 1) this.grow();
        return true;
      }
      if (slots[2 * s + 1] === fingerprint) {
        const log = this.log;
        const o = 4 * j;
        if (log[o] === a && log[o + 1] === b && log[o + 2] === c) return false;
      }
    }
  }

  private append(a: number, b: number, c: number, d: number): void {
    let o = 4 * this.size;
    if (o + 4 > this.log.length) {
      const grown = new Int32Array(this.log.length * 2);
      grown.set(this.log);
      this.log = grown;
    }
    const log = this.log;
    log[o++] = a;
    log[o++] = b;
    log[o++] = c;
    log[o] = d;
    this.size++;
  }

  private grow(): void {
    const capacity = (this.mask + 1) * 2;
    const mask = capacity - 1;
    const slots = new Int32Array(capacity * 2);
    const log = this.log;
    for (let j = 0; j < this.size; j++) {
      let s = log[4 * j]! & mask;
      while (slots[2 * s] !== 0) s = (s + 1) & mask;
      slots[2 * s] = j + 1;
      slots[2 * s + 1] = log[4 * j + 3]!;
    }
    this.slots = slots;
    this.mask = mask;
  }
}

/**
 * An exact map from keys to the index of the first item that had the key, for items
 * that can be compared again (validateSubmission has them all): slots hold an item
 * index and its 32-bit hash side by side (one cache line per probe), found by the hash,
 * and `same(i, j)` decides on equal hashes.
 */
export class FirstIndex {
  /** [index + 1 (0 = free), hash] per slot. */
  private slots: Int32Array;
  private mask: number;
  private size = 0;

  constructor(
    expected: number,
    private readonly same: (i: number, j: number) => boolean,
  ) {
    let capacity = 1024;
    while (capacity < expected * 2) capacity *= 2;
    this.slots = new Int32Array(capacity * 2);
    this.mask = capacity - 1;
  }

  /** What prefetch() read (kept, so that the reads are not optimized away). */
  touched = 0;

  /**
   * Reads the first slot of each of `count` hashes, one after the other, so that their
   * cache misses overlap: the addOrGet() calls that follow find them in the cache.
   */
  prefetch(hashes: Int32Array, count: number): void {
    const { slots, mask } = this;
    let touched = 0;
    for (let k = 0; k < count; k++) touched ^= slots[2 * (hashes[k]! & mask)]!;
    this.touched = touched;
  }

  /** The index of an earlier item with the same key as item `i` (hash `h`), else adds i and returns -1. */
  addOrGet(i: number, h: number): number {
    const { slots, mask } = this;
    for (let s = h & mask; ; s = (s + 1) & mask) {
      const j = slots[2 * s]! - 1;
      if (j < 0) {
        slots[2 * s] = i + 1;
        slots[2 * s + 1] = h;
        if (++this.size * 2 > mask + 1) this.grow();
        return -1;
      }
      if (slots[2 * s + 1] === h && this.same(j, i)) return j;
    }
  }

  private grow(): void {
    const old = this.slots;
    const capacity = (this.mask + 1) * 2;
    const mask = capacity - 1;
    const slots = new Int32Array(capacity * 2);
    for (let o = 0; o < old.length; o += 2) {
      if (old[o] === 0) continue;
      const h = old[o + 1]!;
      let s = h & mask;
      while (slots[2 * s] !== 0) s = (s + 1) & mask;
      slots[2 * s] = old[o]!;
      slots[2 * s + 1] = h;
    }
    this.slots = slots;
    this.mask = mask;
  }
}
