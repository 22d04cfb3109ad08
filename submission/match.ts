/**
 * Upstream references by template and matching arg values, resolved as a hash join:
 * the tasks of a template are indexed once per distinct `match` list by their joined
 * values, then each downstream task looks its values up. Linear in the number of tasks.
 */

interface Indexable {
  readonly template: string;
  readonly args: Readonly<Record<string, string>>;
}

/** The joined values of `matchArgs`; length-prefixed so that values cannot collide. */
export function matchKey(
  args: Readonly<Record<string, string>>,
  matchArgs: readonly string[],
): string {
  if (matchArgs.length === 1) return args[matchArgs[0] as string] ?? "";
  let key = "";
  for (const a of matchArgs) {
    const v = args[a] ?? "";
    key += `${v.length}:${v}`;
  }
  return key;
}

export class TaskIndex {
  private byTemplateCache: Map<string, number[]> | undefined;
  private readonly joins = new Map<string, Map<string, number[]>>();

  constructor(private readonly tasks: readonly Indexable[]) {}

  /** Indices (ascending) of every task of the template. */
  ofTemplate(template: string): readonly number[] {
    if (this.byTemplateCache === undefined) {
      const by = new Map<string, number[]>();
      this.tasks.forEach((t, i) => {
        const list = by.get(t.template);
        if (list === undefined) by.set(t.template, [i]);
        else list.push(i);
      });
      this.byTemplateCache = by;
    }
    return this.byTemplateCache.get(template) ?? [];
  }

  /**
   * Indices (ascending) of the tasks of `template` whose `matchArgs` values equal those
   * in `args`; every task of the template when `matchArgs` is empty.
   */
  lookup(
    template: string,
    matchArgs: readonly string[],
    args: Readonly<Record<string, string>>,
  ): readonly number[] {
    if (matchArgs.length === 0) return this.ofTemplate(template);
    return this.join(template, matchArgs).get(matchKey(args, matchArgs)) ?? [];
  }

  private join(template: string, matchArgs: readonly string[]): Map<string, number[]> {
    const id = `${template}\u0000${matchArgs.join("\u0000")}`;
    let join = this.joins.get(id);
    if (join === undefined) {
      join = new Map();
      for (const i of this.ofTemplate(template)) {
        const key = matchKey((this.tasks[i] as Indexable).args, matchArgs);
        const list = join.get(key);
        if (list === undefined) join.set(key, [i]);
        else list.push(i);
      }
      this.joins.set(id, join);
    }
    return join;
  }
}
