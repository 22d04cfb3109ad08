// Resources page: per template, memory and runtime used against requested, as
// distributions over finished attempts, and a suggested request. One SQL statement does
// the statistics (percentiles and a fixed-width histogram per template and resource);
// the rows that leave the database are ~20 buckets per template, whatever the size.
import type { Sql } from "postgres";
import { roundUpMemory, roundUpRuntime } from "../../submission/units.ts";

export const BUCKETS = 24;

/** Headroom over the 95th percentile used, and over the largest use seen. */
const P95_HEADROOM = 1.25;
const MAX_HEADROOM = 1.1;
/** A resource kill says the request was too small: suggest at least this much more. */
const KILLED_SCALE = 1.5;

export interface Distribution {
  /** DONE attempts with a measurement */
  samples: number;
  used: {
    min: number | null;
    mean: number | null;
    p50: number | null;
    p90: number | null;
    p95: number | null;
    p99: number | null;
    max: number | null;
  };
  /** over every finished attempt */
  requested: { min: number | null; median: number | null; max: number | null };
  /** what the DONE attempts asked for */
  done_requested: { min: number | null; max: number | null };
  /** attempts killed for exceeding this resource */
  killed: number;
  /** the histogram spans [0, hi] in BUCKETS equal buckets (the request may lie beyond) */
  hi: number;
  buckets: number[];
  /** what to request: see `basis` */
  suggested: number | null;
  basis: string;
}

export interface TemplateResources {
  array_id: number;
  template: string;
  /** finished attempts */
  attempts: number;
  /** DONE attempts */
  done: number;
  memory: Distribution;
  runtime: Distribution;
}

export interface ResourcesAnswer {
  buckets: number;
  templates: TemplateResources[];
}

type Metric = "memory" | "runtime";

interface StatRow {
  array_id: number;
  template: string;
  metric: Metric;
  attempts: number;
  done: number;
  samples: number;
  pct: (number | null)[] | null;
  min_used: number | null;
  mean_used: number | null;
  max_used: number | null;
  done_min_req: number | null;
  done_max_req: number | null;
  min_req: number | null;
  median_req: number | null;
  max_req: number | null;
  killed: number;
  killed_req: number | null;
  hi: number;
  hist: { b: number; n: number }[] | null;
}

/**
 * With `everyTemplate`, templates without a finished attempt are listed too (empty
 * distributions); the page leaves them out.
 */
export async function resourceStats(
  sql: Sql,
  workflowId: number,
  options: { everyTemplate?: boolean } = {},
): Promise<ResourcesAnswer> {
  const rows = await sql<StatRow[]>`
    with inst as (
      select t.array_id, i.status, i.error_kind, i.memory_requested, i.memory_used,
        i.runtime_requested, i.runtime_used
      from task_instance i join task t on t.id = i.task_id
      where i.workflow_id = ${workflowId}
        and i.status not in ('QUEUED', 'INSTANTIATED', 'LAUNCHED', 'RUNNING')
    ), m as (
      select array_id, 'memory' as metric, status, error_kind,
        memory_requested::float8 as requested, memory_used::float8 as used from inst
      union all
      select array_id, 'runtime', status, error_kind,
        runtime_requested::float8, runtime_used from inst
    ), ok as (
      select * from m where status = 'DONE' and used is not null
    ), stats as (
      select m.array_id, m.metric, count(*)::int as attempts,
        (select count(*)::int from ok where ok.array_id = m.array_id and ok.metric = m.metric)
          as samples,
        min(requested) as min_req,
        percentile_cont(0.5) within group (order by requested) as median_req,
        max(requested) as max_req,
        count(*) filter (where status = 'DONE')::int as done,
        min(requested) filter (where status = 'DONE') as done_min_req,
        max(requested) filter (where status = 'DONE') as done_max_req,
        count(*) filter (where error_kind = m.metric)::int as killed,
        max(requested) filter (where error_kind = m.metric) as killed_req
      from m group by m.array_id, m.metric
    ), used as (
      select array_id, metric,
        percentile_cont(array[0.5, 0.9, 0.95, 0.99]) within group (order by used) as pct,
        min(used) as min_used, avg(used) as mean_used, max(used) as max_used
      from ok group by array_id, metric
    ), spans as (
      select s.*, u.pct, u.min_used, u.mean_used, u.max_used,
        -- The picture spans what was used; the request too when it is close enough to
        -- be seen on the same scale (else the chart marks it off the right edge).
        case
          when u.max_used is null then greatest(coalesce(s.max_req, 0), 1)
          when s.max_req is not null and s.max_req <= 2 * u.max_used
            then greatest(u.max_used, s.max_req, 1) * 1.05
          else greatest(u.max_used * 1.3, 1)
        end as hi
      from stats s left join used u using (array_id, metric)
    ), hist as (
      select ok.array_id, ok.metric,
        json_agg(json_build_object('b', b, 'n', n) order by b) as hist
      from (
        select ok.array_id, ok.metric,
          least(width_bucket(ok.used, 0, sp.hi, ${BUCKETS}), ${BUCKETS}) as b, count(*)::int as n
        from ok join spans sp using (array_id, metric)
        group by 1, 2, 3
      ) ok
      group by 1, 2
    )
    select sp.array_id, tt.name as template, sp.metric, sp.attempts, sp.done, sp.samples,
      sp.pct, sp.min_used, sp.mean_used, sp.max_used, sp.min_req, sp.median_req, sp.max_req,
      sp.done_min_req, sp.done_max_req, sp.killed, sp.killed_req, sp.hi, h.hist
    from spans sp
    left join hist h using (array_id, metric)
    join task_array a on a.id = sp.array_id
    join task_template_version v on v.id = a.task_template_version_id
    join task_template tt on tt.id = v.task_template_id
    order by sp.array_id, sp.metric`;
  const byArray = new Map<number, TemplateResources>();
  const empty = (array_id: number, template: string): TemplateResources => ({
    array_id,
    template,
    attempts: 0,
    done: 0,
    memory: emptyDistribution(),
    runtime: emptyDistribution(),
  });
  for (const r of rows) {
    const entry = byArray.get(r.array_id) ?? empty(r.array_id, r.template);
    entry.attempts = r.attempts;
    entry.done = r.done;
    entry[r.metric] = distribution(r);
    byArray.set(r.array_id, entry);
  }
  if (options.everyTemplate) {
    for (const a of await workflowArrays(sql, workflowId)) {
      if (!byArray.has(a.id)) byArray.set(a.id, empty(a.id, a.template));
    }
  }
  const templates = [...byArray.values()].sort((a, b) => a.array_id - b.array_id);
  return { buckets: BUCKETS, templates };
}

/** A workflow's arrays (one per template), with the template's name. */
async function workflowArrays(sql: Sql, workflowId: number) {
  return sql<{ id: number; template: string }[]>`
    select a.id, tt.name as template
    from task_array a
    join task_template_version v on v.id = a.task_template_version_id
    join task_template tt on tt.id = v.task_template_id
    where a.workflow_id = ${workflowId}`;
}

export interface DonePlacement {
  array_id: number;
  /** the largest number of cores a DONE attempt was launched with */
  cores: number | null;
  /** the queue most DONE attempts ran on (by name on a tie) */
  queue: string | null;
}

/** Per array, what its DONE attempts were launched with besides memory and runtime. */
export async function donePlacement(sql: Sql, workflowId: number): Promise<DonePlacement[]> {
  return sql<DonePlacement[]>`
    select t.array_id, max(b.cores)::int as cores,
      mode() within group (order by q.name) as queue
    from task_instance i
    join task t on t.id = i.task_id
    join launch_batch b on b.id = i.batch_id
    join queue q on q.id = b.queue_id
    where i.workflow_id = ${workflowId} and i.status = 'DONE'
    group by t.array_id`;
}

function emptyDistribution(): Distribution {
  return {
    samples: 0,
    used: { min: null, mean: null, p50: null, p90: null, p95: null, p99: null, max: null },
    requested: { min: null, median: null, max: null },
    done_requested: { min: null, max: null },
    killed: 0,
    hi: 1,
    buckets: Array(BUCKETS).fill(0),
    suggested: null,
    basis: "no finished attempt yet",
  };
}

function distribution(r: StatRow): Distribution {
  const buckets: number[] = Array(BUCKETS).fill(0);
  for (const { b, n } of r.hist ?? []) {
    // width_bucket: 0 below the range (cannot happen: used >= 0), 1..BUCKETS inside
    buckets[Math.max(1, b) - 1] = (buckets[Math.max(1, b) - 1] ?? 0) + n;
  }
  const [p50, p90, p95, p99] = r.pct ?? [null, null, null, null];
  const { suggested, basis } = suggest(r.metric, r.samples, p95 ?? null, r.max_used, r);
  return {
    samples: r.samples,
    used: {
      min: r.min_used,
      mean: r.mean_used,
      p50: p50 ?? null,
      p90: p90 ?? null,
      p95: p95 ?? null,
      p99: p99 ?? null,
      max: r.max_used,
    },
    requested: { min: r.min_req, median: r.median_req, max: r.max_req },
    done_requested: { min: r.done_min_req, max: r.done_max_req },
    killed: r.killed,
    hi: r.hi,
    buckets,
    suggested,
    basis,
  };
}

/**
 * max(p95 × 1.25, max × 1.1) of what DONE attempts used, raised to 1.5 × the largest
 * request that was killed for this resource, rounded up to a round amount (256 MiB for
 * memory; a minute, or 5 minutes past an hour, for runtime).
 */
export function suggest(
  metric: Metric,
  samples: number,
  p95: number | null,
  maxUsed: number | null,
  r: { killed: number; killed_req: number | null },
): { suggested: number | null; basis: string } {
  if (samples === 0 && r.killed === 0) return { suggested: null, basis: "no measurement yet" };
  let value = Math.max((p95 ?? 0) * P95_HEADROOM, (maxUsed ?? 0) * MAX_HEADROOM);
  let basis = `max(p95 × ${P95_HEADROOM}, max × ${MAX_HEADROOM}) of ${samples} DONE attempts`;
  if (r.killed > 0 && r.killed_req !== null && r.killed_req * KILLED_SCALE > value) {
    value = r.killed_req * KILLED_SCALE;
    basis = `${KILLED_SCALE} × the largest request killed for ${metric} (${r.killed} killed)`;
  }
  return { suggested: roundUp(metric, value), basis };
}

function roundUp(metric: Metric, value: number): number {
  return metric === "memory" ? roundUpMemory(value) : roundUpRuntime(value);
}
