/**
 * Compact sets of strings for a million tasks: a string (or a sequence of strings) is
 * reduced to a 128-bit digest, and the digests live in one typed array with open
 * addressing. A V8 Set of a million ~30-character strings costs ~100 MB and keeps a
 * million objects alive for every major GC to trace; this costs 32 bytes a task and
 * no objects.
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
 * A set of 128-bit digests (open addressing, linear probing, 16 bytes a slot, at most
 * half full). The lowest bit of the last word is forced to 1 so that 0 marks a free
 * slot (127 bits of the digest count).
 */
export class DigestSet {
  private slots: Int32Array;
  private mask: number;
  size = 0;

  constructor(expected = 0) {
    let capacity = 1024;
    while (capacity < expected * 2) capacity *= 2;
    this.slots = new Int32Array(capacity * 4);
    this.mask = capacity - 1;
  }

  /** Adds the digest in `h`; false when it was there already. */
  add(h: Hash128): boolean {
    const added = this.insert(this.slots, this.mask, h.h1, h.h2, h.h3, h.h4 | 1);
    if (added && ++this.size * 2 > this.mask + 1) this.grow();
    return added;
  }

  private insert(
    slots: Int32Array,
    mask: number,
    a: number,
    b: number,
    c: number,
    d: number,
  ): boolean {
    for (let s = a & mask; ; s = (s + 1) & mask) {
      const o = s * 4;
      const w = slots[o + 3]!;
      if (w === 0) {
        slots[o] = a;
        slots[o + 1] = b;
        slots[o + 2] = c;
        slots[o + 3] = d;
        return true;
      }
      if (w === d && slots[o] === a && slots[o + 1] === b && slots[o + 2] === c) return false;
    }
  }

  private grow(): void {
    const old = this.slots;
    const capacity = (this.mask + 1) * 2;
    const slots = new Int32Array(capacity * 4);
    const mask = capacity - 1;
    for (let o = 0; o < old.length; o += 4) {
      if (old[o + 3] !== 0)
        this.insert(slots, mask, old[o]!, old[o + 1]!, old[o + 2]!, old[o + 3]!);
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
