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
 * Multiset hash (HashAccumulator): the sum modulo 2^256 of the sha256 digests of the
 * items (read as 256-bit big-endian numbers), then sha256 of
 * `drover-multiset-v1:{item count}:{sum as 64 hex digits}`. It does not depend on the
 * order of items, and counts duplicates (unlike XOR, an item added twice is not
 * cancelled). A sum of uniformly random 256-bit values is not designed against an
 * adversary crafting collisions, but these hashes detect accidental changes, not attacks.
 */
import { hash } from "node:crypto";
import type { Submission, TaskSpec, TemplateSpec, WorkflowArgValue } from "./submission.ts";

export function sha256(text: string): string {
  return hash("sha256", text);
}

export function templateVersionHash(
  t: Pick<TemplateSpec, "command" | "node_args" | "task_args" | "op_args">,
): string {
  return sha256(JSON.stringify(["template", t.command, t.node_args, t.task_args, t.op_args]));
}

function pairs(names: readonly string[], args: Readonly<Record<string, string>>): string[] {
  const out: string[] = [];
  for (const a of names) out.push(a, args[a] ?? "");
  return out;
}

export function nodeHash(
  templateName: string,
  nodeArgs: readonly string[],
  args: Readonly<Record<string, string>>,
): string {
  return sha256(JSON.stringify([templateName, pairs(nodeArgs, args)]));
}

export function taskHash(
  templateName: string,
  nodeArgs: readonly string[],
  taskArgs: readonly string[],
  args: Readonly<Record<string, string>>,
): string {
  return sha256(JSON.stringify([templateName, pairs(nodeArgs, args), pairs(taskArgs, args)]));
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

const LANES = 8;
const LANE = 2 ** 32;
/** Lanes hold up to 2^32 × this many additions before they must carry (< 2^53). */
const CARRY_EVERY = 2 ** 20;

/** Order-independent hash of a multiset of items (see the module comment). */
export class HashAccumulator {
  private readonly lanes = new Float64Array(LANES); // lanes[0] most significant
  private pending = 0;
  count = 0;

  /** Adds an item given as a sha256 hex digest. */
  addDigest(hex: string): void {
    for (let k = 0; k < LANES; k++)
      this.lanes[k]! += Number.parseInt(hex.slice(k * 8, k * 8 + 8), 16);
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
  return `${templateVersion}:${task}:${upstream.sort().join(",")}`;
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
