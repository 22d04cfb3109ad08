/**
 * Identity hashes (sha256, lowercase hex). The exact byte strings hashed are part of
 * the DAG format contract (DAG_FORMAT.md): JSON text as ECMAScript JSON.stringify
 * writes it (for arrays of strings this is RFC 8785 canonical JSON), UTF-8 encoded.
 *
 * - template version: ["template", command, node_args, task_args, op_args]
 * - node: [template name, [node arg, value, …]] with node_args in template order
 * - task: [template name, [node arg, value, …], [task arg, value, …]]
 * - workflow identity: ["workflow", tool, version, [[key, String(value)], …]] keys sorted
 * - task set: multiset hash of the task hashes
 * - DAG: multiset hash over tasks of
 *   `{template version hash}:{task hash}:{upstream task hashes, sorted, joined by ","}`
 *
 * Multiset hash (HashAccumulator): the sum modulo 2^128 of the first 128 bits of the
 * sha256 digest of each item (read as big-endian numbers), then sha256 of
 * `drover-multiset-v1:{item count}:{sum as 32 hex digits}`. It does not depend on the
 * order of items, and counts duplicates (unlike XOR, an item added twice is not
 * cancelled). A sum of random 128-bit values is not designed against an adversary
 * crafting collisions; these hashes detect accidental changes, not attacks.
 */
import * as crypto from "node:crypto";
import type { Submission, TaskSpec, TemplateSpec, WorkflowArgValue } from "./submission.ts";

/** crypto.hash (Node ≥ 20.12) is about twice as fast as createHash for short inputs. */
const oneShot = (crypto as { hash?: (algorithm: string, data: string) => string }).hash;

export function sha256(text: string): string {
  return oneShot ? oneShot("sha256", text) : crypto.createHash("sha256").update(text).digest("hex");
}

export function templateVersionHash(
  t: Pick<TemplateSpec, "command" | "node_args" | "task_args" | "op_args">,
): string {
  return sha256(JSON.stringify(["template", t.command, t.node_args, t.task_args, t.op_args]));
}

/** Strings that JSON.stringify writes as `"` + the string + `"`. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: JSON escapes control characters
const PLAIN = /^[^"\\\u0000-\u001f\ud800-\udfff]*$/;

/** JSON.stringify(v) for a string, without its cost in the common case. */
function quote(v: string): string {
  return PLAIN.test(v) ? `"${v}"` : JSON.stringify(v);
}

/** `["n1","v1","n2","v2"]` as JSON text: the arg names and values in order. */
function pairs(names: readonly string[], args: Readonly<Record<string, string>>): string {
  let out = "[";
  for (let k = 0; k < names.length; k++) {
    const a = names[k] as string;
    if (k > 0) out += ",";
    out += `${quote(a)},${quote(args[a] ?? "")}`;
  }
  return `${out}]`;
}

export function nodeHash(
  templateName: string,
  nodeArgs: readonly string[],
  args: Readonly<Record<string, string>>,
): string {
  return sha256(`[${quote(templateName)},${pairs(nodeArgs, args)}]`);
}

export function taskHash(
  templateName: string,
  nodeArgs: readonly string[],
  taskArgs: readonly string[],
  args: Readonly<Record<string, string>>,
): string {
  return sha256(`[${quote(templateName)},${pairs(nodeArgs, args)},${pairs(taskArgs, args)}]`);
}

export function workflowIdentityHash(
  tool: string,
  version: string,
  args: Readonly<Record<string, WorkflowArgValue>>,
): string {
  const entries = Object.keys(args)
    .sort()
    .map((k) => [k, String(args[k])]);
  return sha256(JSON.stringify(["workflow", tool, version, entries]));
}

/** Hex digit char code → value; -1 for anything else. */
const HEX = new Int8Array(128).fill(-1);
for (let d = 0; d < 16; d++) {
  HEX["0123456789abcdef".charCodeAt(d)] = d;
  HEX["0123456789ABCDEF".charCodeAt(d)] = d;
}

/** The accumulator sums 128-bit prefixes, in 4 lanes of 32 bits. */
const LANES = 4;
const LANE = 2 ** 32;
/** Lanes hold up to 2^32 × this many additions before they must carry (< 2^53). */
const CARRY_EVERY = 2 ** 20;

/** Order-independent hash of a multiset of items (see the module comment). */
export class HashAccumulator {
  private readonly lanes = new Float64Array(LANES); // lanes[0] most significant
  private pending = 0;
  count = 0;

  /** Adds an item given as a sha256 hex digest (64 hex digits; the first 32 count). */
  addDigest(hex: string): void {
    if (hex.length !== 64) throw new Error(`not a sha256 hex digest: ${hex}`);
    let c = 0;
    let bad = 0;
    for (let k = 0; k < LANES; k++) {
      let v = 0;
      for (let end = c + 8; c < end; c++) {
        const d = HEX[hex.charCodeAt(c)] ?? -1;
        bad |= d;
        v = (v << 4) | (d & 15);
      }
      this.lanes[k]! += v >>> 0;
    }
    if (bad < 0) throw new Error(`not a sha256 hex digest: ${hex}`);
    this.count++;
    if (++this.pending === CARRY_EVERY) this.carry();
  }

  /** Adds an item given as text (hashed first). */
  add(text: string): void {
    this.addDigest(sha256(text));
  }

  digest(): string {
    this.carry();
    let sum = "";
    for (const lane of this.lanes) sum += lane.toString(16).padStart(8, "0");
    return sha256(`drover-multiset-v1:${this.count}:${sum}`);
  }

  private carry(): void {
    for (let k = LANES - 1; k >= 0; k--) {
      const v = this.lanes[k]!;
      const high = Math.floor(v / LANE);
      this.lanes[k] = v - high * LANE;
      if (k > 0) this.lanes[k - 1]! += high;
    }
    this.pending = 0;
  }
}

/** The DAG hash item of one task. */
export function dagItem(templateVersion: string, task: string, upstream: string[]): string {
  if (upstream.length > 1) upstream.sort();
  return `${templateVersion}:${task}:${upstream.join(",")}`;
}

export interface SubmissionHashes {
  taskSetHash: string;
  dagHash: string;
}

/** The task-set and DAG hashes of a (valid) Submission; DagReader computes the same. */
export function submissionHashes(sub: Submission): SubmissionHashes {
  const templates = new Map<string, { spec: TemplateSpec; version: string }>();
  for (const t of sub.templates) {
    if (!templates.has(t.name)) templates.set(t.name, { spec: t, version: templateVersionHash(t) });
  }
  const hashes: string[] = new Array(sub.tasks.length);
  const taskSet = new HashAccumulator();
  sub.tasks.forEach((task: TaskSpec, i) => {
    const t = templates.get(task.template);
    const h = taskHash(task.template, t?.spec.node_args ?? [], t?.spec.task_args ?? [], task.args);
    hashes[i] = h;
    taskSet.addDigest(h);
  });
  const dag = new HashAccumulator();
  sub.tasks.forEach((task, i) => {
    const ups = task.upstream.length > 1 ? [...new Set(task.upstream)] : task.upstream;
    const upstream = ups.map((u) => hashes[u] as string);
    const version = templates.get(task.template)?.version ?? "";
    dag.add(dagItem(version, hashes[i] as string, upstream));
  });
  return { taskSetHash: taskSet.digest(), dagHash: dag.digest() };
}
