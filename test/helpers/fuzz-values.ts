// Hostile values for the fuzz test: a seeded generator, so that a failing run can be
// repeated exactly with its printed seed (DROVER_FUZZ_SEED).

/** mulberry32: small, fast, good enough to pick cases; the same seed, the same cases. */
export class Rng {
  private state: number;

  constructor(readonly seed: number) {
    this.state = seed >>> 0;
  }

  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }

  chance(p: number): boolean {
    return this.next() < p;
  }
}

/** Strings that have broken parsers, shells, job scripts and databases before. */
export const HOSTILE_STRINGS: readonly string[] = [
  "",
  " ",
  "a\nb",
  "x\n#SBATCH --qos=high",
  "x\r\n#SBATCH --gres=gpu:8",
  // Shell injections that would do no harm if one ever ran (only the dummy cluster runs).
  "1; rm -rf /nonexistent/drover-fuzz #",
  "$(false)",
  "`id`",
  "${HOME}",
  "'",
  '"',
  "\\",
  'it\'s "quoted"',
  "\u0000",
  "a\u0000b",
  "\u0007\u001b[2J",
  "\t",
  "{x}",
  "{x:q}",
  "{{",
  "}}",
  "{",
  "%s%n%x",
  "../../etc/passwd",
  "/",
  "-x",
  "--help",
  "all.q",
  "nats://user:secret@127.0.0.1:4222",
  "'; drop table task; --",
  "\u2028\u2029",
  "\ud800",
  "\udfff\ud800",
  "\uffff\ufffe",
  "é日本😀",
  "A".repeat(256),
  "B".repeat(70_000),
  "C".repeat(140_000),
  "1e999",
  "NaN",
  "null",
  "true",
  "0x10",
  "-1",
];

export const HOSTILE_NUMBERS: readonly number[] = [
  0,
  -1,
  1.5,
  -0.5,
  2 ** 31,
  2 ** 31 - 1,
  32_768,
  2 ** 53,
  2 ** 63,
  1e308,
  -1e308,
  5e-324,
  Number.MAX_SAFE_INTEGER + 2,
];

/** A value nested `depth` deep: arrays or objects, as a parser meets them. */
export function nested(depth: number, kind: "array" | "object"): unknown {
  let v: unknown = "leaf";
  for (let i = 0; i < depth; i++) v = kind === "array" ? [v] : { a: v };
  return v;
}

/** Any hostile JSON value: a string, a number, a structure, nesting. */
export function hostileValue(rng: Rng): unknown {
  switch (rng.int(8)) {
    case 0:
    case 1:
    case 2:
      return rng.pick(HOSTILE_STRINGS);
    case 3:
      return rng.pick(HOSTILE_NUMBERS);
    case 4:
      return rng.pick([null, true, false, {}, [], [rng.pick(HOSTILE_STRINGS)]]);
    case 5:
      return nested(rng.pick([2, 50, 1000]), rng.chance(0.5) ? "array" : "object");
    case 6:
      return { [rng.pick(HOSTILE_STRINGS)]: rng.pick(HOSTILE_STRINGS) };
    default:
      return Array.from({ length: rng.pick([1, 3, 1000]) }, () => rng.pick(HOSTILE_NUMBERS));
  }
}

/** Raw bytes that are no JSON document: invalid UTF-8, truncation, nesting past limits. */
export function hostilePayload(rng: Rng): Uint8Array {
  switch (rng.int(6)) {
    case 0:
      return Uint8Array.from([0xff, 0xfe, 0x7b, 0xc3, 0x28]);
    case 1:
      return new TextEncoder().encode('{"v":1,"results":[');
    case 2:
      return new TextEncoder().encode(`${"[".repeat(100_000)}${"]".repeat(100_000)}`);
    case 3:
      return new TextEncoder().encode(`{"v":1e${"9".repeat(400)}}`);
    case 4:
      return new Uint8Array(0);
    default:
      return Uint8Array.from([0x22, 0xed, 0xa0, 0x80, 0x22]); // a UTF-8 encoded surrogate
  }
}

/** Sets `value` at `path` (keys and indices) in a deep copy of `doc`; undefined deletes. */
export function setPath(doc: unknown, path: readonly (string | number)[], value: unknown): unknown {
  const copy = structuredClone(doc) as Record<string | number, unknown>;
  let at: Record<string | number, unknown> = copy;
  for (let i = 0; i < path.length - 1; i++) {
    const next = at[path[i]!];
    if (next === null || typeof next !== "object") return copy;
    at = next as Record<string | number, unknown>;
  }
  const last = path[path.length - 1]!;
  if (value === undefined) delete at[last];
  else at[last] = value;
  return copy;
}

/** Renames key `path[-1]` of the object at `path[..-1]` to `key` (in a deep copy). */
export function renameKey(doc: unknown, path: readonly (string | number)[], key: string): unknown {
  const copy = structuredClone(doc) as Record<string | number, unknown>;
  let at: Record<string | number, unknown> = copy;
  for (let i = 0; i < path.length - 1; i++) {
    at = at[path[i]!] as Record<string | number, unknown>;
    if (at === null || typeof at !== "object") return copy;
  }
  const last = path[path.length - 1]!;
  if (!(last in at)) return copy;
  at[key] = at[last];
  delete at[last];
  return copy;
}
