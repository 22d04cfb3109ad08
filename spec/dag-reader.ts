/**
 * DagReader: validates a DAG stream line by line, holding only compact state per task
 * (its identity key, its name and its 32-byte hash), and computes the task-set and DAG
 * hashes (hash.ts) on the way. A bad line throws SpecError at once, naming the task.
 */
import { CatalogChecker } from "./catalog-check.ts";
import { checkTask, checkTemplate, type TemplateInfo, templateInfo } from "./check.ts";
import { type DagLine, DagLineSchema } from "./dag-schema.ts";
import { Problems, SpecError } from "./errors.ts";
import { issueProblems } from "./file-schema.ts";
import { dagItem, HashAccumulator, taskHash, templateVersionHash } from "./hash.ts";
import type { Catalog } from "./resolve.ts";
import { identityKey, type TemplateSpec, type WorkflowSpec } from "./submission.ts";

export interface DagReaderOptions {
  /** With both, clusters, queues and resource limits are checked as in validateSubmission. */
  workflow?: WorkflowSpec | undefined;
  catalog?: Catalog | undefined;
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

export class DagReader {
  private readonly templates = new Map<string, TemplateState>();
  private readonly identities = new Set<string>();
  private readonly names = new Set<string>();
  private readonly taskSet = new HashAccumulator();
  private readonly dag = new HashAccumulator();
  private readonly catalog: CatalogChecker | undefined;
  private readonly problems = new Problems();
  private hashes = Buffer.alloc(1024 * HASH_BYTES);
  private taskCount = 0;
  private edgeCount = 0;
  private lineNumber = 0;

  constructor(options: DagReaderOptions = {}) {
    if (options.workflow && options.catalog) {
      this.catalog = new CatalogChecker(options.workflow, options.catalog, this.problems);
      this.throwIfProblems();
    }
  }

  /** Checks one parsed line (JSON value) and returns it typed. Throws SpecError. */
  add(value: unknown): DagLine {
    this.lineNumber++;
    const parsed = DagLineSchema.safeParse(value);
    if (!parsed.success) {
      const where = `line ${this.lineNumber}`;
      throw new SpecError(issueProblems(parsed.error.issues, null).map((p) => `${where}: ${p}`));
    }
    const line = parsed.data;
    if (line.kind === "template") this.addTemplate(line);
    else this.addTask(line);
    return line;
  }

  /** The sha256 (hex) of task `i`, once its line was added. */
  taskHash(i: number): string {
    if (!(i >= 0 && i < this.taskCount)) throw new RangeError(`no task ${i} read yet`);
    return this.hashes.toString("hex", i * HASH_BYTES, (i + 1) * HASH_BYTES);
  }

  finish(): DagSummary {
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

  private addTask(line: Extract<DagLine, { kind: "task" }>): void {
    const { kind: _, i, ...task } = line;
    const label = `task ${JSON.stringify(task.name)}`;
    if (i !== this.taskCount) this.problems.add(`${label}: i is ${i}, expected ${this.taskCount}`);
    const template = this.templates.get(task.template);
    checkTask(task, template, this.problems);
    this.throwIfProblems();
    const t = template as TemplateState;
    const key = identityKey(task.template, t.spec.node_args, task.args);
    if (this.identities.has(key)) {
      this.problems.add(
        `${label}: same template and node_args as an earlier task (duplicate task identity)`,
      );
    }
    if (this.names.has(task.name)) this.problems.add(`${label}: name is used by an earlier task`);
    const upstream = task.upstream;
    let increasing = true;
    for (let k = 0; k < upstream.length; k++) {
      const u = upstream[k]!;
      if (u >= i) this.problems.add(`${label}: upstream ${u} is not before the task (i = ${i})`);
      if (k > 0 && u <= upstream[k - 1]!) increasing = false;
    }
    if (!increasing && new Set(upstream).size !== upstream.length) {
      this.problems.add(`${label}: upstream lists a task more than once`);
    }
    this.catalog?.checkTask(task, t.spec);
    this.throwIfProblems();

    this.identities.add(key);
    this.names.add(task.name);
    const hash = taskHash(task.template, t.spec.node_args, t.spec.task_args, task.args);
    this.store(i, hash);
    this.taskSet.addDigest(hash);
    this.dag.add(
      dagItem(
        t.version,
        hash,
        upstream.map((u) => this.taskHash(u)),
      ),
    );
    this.taskCount++;
    this.edgeCount += upstream.length;
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
