/**
 * DagReader: validates a DAG stream line by line, holding only compact state per task
 * (128-bit digests of its identity and of its name, digest.ts, and its 32-byte hash:
 * ~100 bytes a task, in typed arrays), and computes the task-set and DAG hashes
 * (hash.ts) on the way. A bad line throws SpecError at once, naming the task; a
 * repeated identity or name is found within 1,024 tasks (the checks run in batches), at
 * the latest by finish().
 */
import { CAPS } from "../core/limits.ts";
import { CatalogChecker } from "./catalog-check.ts";
import { checkTask, checkTemplate, type TemplateInfo, templateInfo } from "./check.ts";
import { type DagLine, DagLineSchema, type TaskLine } from "./dag-schema.ts";
import { DigestSet, Hash128 } from "./digest.ts";
import { Problems, SpecError } from "./errors.ts";
import { issueProblems } from "./file-schema.ts";
import { dagItem, HashAccumulator, taskHash, templateVersionHash } from "./hash.ts";
import type { Catalog } from "./resolve.ts";
import type { TemplateSpec, WorkflowSpec } from "./submission.ts";

export interface DagReaderOptions {
  /** With both, clusters, queues and resource limits are checked as in validateSubmission. */
  workflow?: WorkflowSpec | undefined;
  catalog?: Catalog | undefined;
  /** The number of tasks expected, to size the tables once (they grow past it). */
  expectedTasks?: number | undefined;
}

export interface DagSummary {
  templates: TemplateSpec[];
  taskCount: number;
  edgeCount: number;
  taskSetHash: string;
  dagHash: string;
}

interface TemplateState extends TemplateInfo {
  version: string;
}

const HASH_BYTES = 32;
/** Tasks whose duplicate checks are done together (see pend()). */
const PENDING = 1024;

export class DagReader {
  private readonly templates = new Map<string, TemplateState>();
  private readonly identities: DigestSet;
  private readonly names: DigestSet;
  private readonly digest = new Hash128();
  private pendingCount = 0;
  private readonly pendingIdentities = new Int32Array(4 * PENDING);
  private readonly pendingNames = new Int32Array(4 * PENDING);
  private readonly pendingTaskNames: string[] = new Array(PENDING);
  private readonly foundIdentities = new Uint8Array(PENDING);
  private readonly foundNames = new Uint8Array(PENDING);
  private readonly taskSet = new HashAccumulator();
  private readonly dag = new HashAccumulator();
  private readonly catalog: CatalogChecker | undefined;
  private readonly problems = new Problems();
  private hashes: Buffer;
  /** The hash of the last task read, as hex (what the binder writes). */
  private lastHash = "";
  private taskCount = 0;
  private edgeCount = 0;
  private lineNumber = 0;

  constructor(options: DagReaderOptions = {}) {
    // Tables grow past it: a count announced beyond the cap never sizes them.
    const expected = Math.max(0, Math.min(options.expectedTasks ?? 0, CAPS.tasksPerWorkflow));
    this.identities = new DigestSet(expected);
    this.names = new DigestSet(expected);
    this.hashes = Buffer.alloc(Math.max(1024, expected) * HASH_BYTES);
    if (options.workflow && options.catalog) {
      this.catalog = new CatalogChecker(options.workflow, options.catalog, this.problems);
      this.throwIfProblems();
    }
  }

  /** Checks one parsed line (JSON value) and returns it typed. Throws SpecError. */
  add(value: unknown): DagLine {
    this.lineNumber++;
    // Most task lines are plain: checked by hand, zod only for the others (or the message).
    const line = isPlainTaskLine(value) ? value : this.parse(value);
    if (line.kind === "template") this.addTemplate(line);
    else this.addTask(line);
    return line;
  }

  private parse(value: unknown): DagLine {
    const parsed = DagLineSchema.safeParse(value);
    if (parsed.success) return parsed.data;
    const where = `line ${this.lineNumber}`;
    throw new SpecError(issueProblems(parsed.error.issues, null).map((p) => `${where}: ${p}`));
  }

  /** The sha256 (hex) of task `i`, once its line was added. */
  taskHash(i: number): string {
    if (!(i >= 0 && i < this.taskCount)) throw new RangeError(`no task ${i} read yet`);
    if (i === this.taskCount - 1) return this.lastHash;
    return this.hashes.toString("hex", i * HASH_BYTES, (i + 1) * HASH_BYTES);
  }

  finish(): DagSummary {
    this.checkPending();
    return {
      templates: [...this.templates.values()].map((t) => t.spec),
      taskCount: this.taskCount,
      edgeCount: this.edgeCount,
      taskSetHash: this.taskSet.digest(),
      dagHash: this.dag.digest(),
    };
  }

  private addTemplate(line: Extract<DagLine, { kind: "template" }>): void {
    const { kind: _, ...spec } = line;
    const label = `template ${JSON.stringify(spec.name)}`;
    if (this.taskCount > 0) this.problems.add(`${label}: templates must come before tasks`);
    if (this.templates.has(spec.name)) this.problems.add(`${label} is defined more than once`);
    checkTemplate(spec, this.problems);
    this.catalog?.checkTemplate(spec);
    this.throwIfProblems();
    this.templates.set(spec.name, { ...templateInfo(spec), version: templateVersionHash(spec) });
  }

  private addTask(task: TaskLine): void {
    const { i, upstream } = task;
    if (i !== this.taskCount)
      this.problems.add(`${taskLabel(task)}: i is ${i}, expected ${this.taskCount}`);
    const template = this.templates.get(task.template);
    checkTask(task, template, this.problems);
    this.throwIfProblems();
    const t = template as TemplateState;
    let increasing = true;
    for (let k = 0; k < upstream.length; k++) {
      const u = upstream[k]!;
      if (u >= i)
        this.problems.add(`${taskLabel(task)}: upstream ${u} is not before the task (i = ${i})`);
      if (k > 0 && u <= upstream[k - 1]!) increasing = false;
    }
    if (!increasing && new Set(upstream).size !== upstream.length) {
      this.problems.add(`${taskLabel(task)}: upstream lists a task more than once`);
    }
    this.catalog?.checkTask(task, t.spec);
    this.throwIfProblems();

    const hash = taskHash(task.template, t.spec.node_args, t.spec.task_args, task.args);
    this.store(i, hash);
    this.taskSet.addDigest(hash);
    const upstreamHashes: string[] = [];
    for (const u of upstream) upstreamHashes.push(this.taskHash(u));
    this.dag.add(dagItem(t.version, hash, upstreamHashes));
    this.lastHash = hash;
    this.taskCount++;
    this.edgeCount += upstream.length;
    this.pend(task, t);
  }

  /**
   * Queues the task's identity and name digests for the duplicate checks, which run
   * every PENDING tasks (and in finish()): a batch of lookups in the big tables costs
   * far less than one lookup per task (DigestSet.addBatch).
   */
  private pend(task: TaskLine, t: TemplateState): void {
    const k = this.pendingCount++;
    const digest = this.digest.begin().string(task.template);
    const nodeArgs = t.spec.node_args;
    for (let a = 0; a < nodeArgs.length; a++) digest.string(task.args[nodeArgs[a]!] ?? "");
    digest.end();
    const ids = this.pendingIdentities;
    ids[4 * k] = digest.h1;
    ids[4 * k + 1] = digest.h2;
    ids[4 * k + 2] = digest.h3;
    ids[4 * k + 3] = digest.h4;
    this.digest.begin().string(task.name).end();
    const names = this.pendingNames;
    names[4 * k] = digest.h1;
    names[4 * k + 1] = digest.h2;
    names[4 * k + 2] = digest.h3;
    names[4 * k + 3] = digest.h4;
    this.pendingTaskNames[k] = task.name;
    if (this.pendingCount === PENDING) this.checkPending();
  }

  /** The duplicate checks of the queued tasks; throws SpecError naming the first duplicate. */
  private checkPending(): void {
    const n = this.pendingCount;
    if (n === 0) return;
    this.pendingCount = 0;
    const sameIdentity = this.foundIdentities;
    const sameName = this.foundNames;
    this.identities.addBatch(this.pendingIdentities, n, sameIdentity);
    this.names.addBatch(this.pendingNames, n, sameName);
    for (let k = 0; k < n; k++) {
      if (sameIdentity[k] === 0 && sameName[k] === 0) continue;
      const label = `task ${JSON.stringify(this.pendingTaskNames[k])}`;
      if (sameIdentity[k]) {
        this.problems.add(
          `${label}: same template and node_args as an earlier task (duplicate task identity)`,
        );
      }
      if (sameName[k]) this.problems.add(`${label}: name is used by an earlier task`);
      this.throwIfProblems();
    }
  }

  private store(i: number, hex: string): void {
    if ((i + 1) * HASH_BYTES > this.hashes.length) {
      const grown = Buffer.alloc(this.hashes.length * 2);
      this.hashes.copy(grown);
      this.hashes = grown;
    }
    this.hashes.write(hex, i * HASH_BYTES, HASH_BYTES, "hex");
  }

  private throwIfProblems(): void {
    this.problems.throwIfAny();
  }
}

const PLAIN_TASK_KEYS = new Set(["kind", "i", "template", "name", "args", "upstream"]);

/**
 * A task line with only the required fields, of the right types (what DagLineSchema
 * would accept unchanged). Lines with optional fields go through zod.
 */
function isPlainTaskLine(value: unknown): value is TaskLine {
  if (typeof value !== "object" || value === null) return false;
  const v = value as Record<string, unknown>;
  if (v.kind !== "task" || typeof v.template !== "string" || typeof v.name !== "string") {
    return false;
  }
  const i = v.i;
  if (typeof i !== "number" || !Number.isSafeInteger(i) || i < 0) return false;
  const args = v.args;
  if (typeof args !== "object" || args === null || Array.isArray(args)) return false;
  if (Object.getPrototypeOf(args) !== Object.prototype) return false;
  for (const k in args) if (typeof (args as Record<string, unknown>)[k] !== "string") return false;
  const upstream = v.upstream;
  if (!Array.isArray(upstream)) return false;
  for (const u of upstream)
    if (typeof u !== "number" || !Number.isSafeInteger(u) || u < 0) return false;
  for (const k in v) if (!PLAIN_TASK_KEYS.has(k)) return false;
  return Object.getPrototypeOf(v) === Object.prototype;
}

function taskLabel(task: TaskLine): string {
  return `task ${JSON.stringify(task.name)}`;
}
