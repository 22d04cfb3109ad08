-- Drover schema (DESIGN.md §3-5, §7). Forward-only: never edit this file once applied;
-- add sql/000NNN_<slug>.sql instead (the runner refuses a changed checksum).
--
-- Lean where a million rows land at once (task, edge, task_instance, task audit): no
-- foreign keys there. A foreign key is an AFTER trigger per inserted row that looks up
-- (and KEY SHARE-locks) the parent row; for a million-task bind via COPY that is a
-- million trigger events queued and fired at commit (measured: a workflow FK alone made
-- a 1M-row COPY into task ~25% slower, 19 s -> 24 s). Those rows are written in bulk by
-- one handler each (bind-dag: tasks and edges, in the transaction that creates their
-- workflow; launch: instances of tasks it has just moved), so the keys cannot dangle,
-- and nothing deletes workflows. The small tables keep their foreign keys.

-- Names of tools, templates and tasks (SPEC.md §1): non-empty, at most 255 characters,
-- no / \ ' " and no whitespace, not starting with a digit. One domain so the rule is
-- written once; violations fail with check_violation (23514) naming drover_name_check.
-- The length is tested apart: a bounded repetition ({0,254}) in a Postgres regex costs
-- ~50 us a row, about 100 times this form; it would dominate a million-task bind.
create domain drover_name as text
  constraint drover_name_check
  check (value ~ '^[^0-9/\\''"[:space:]][^/\\''"[:space:]]*$' and length(value) <= 255);

create table tool (
  id bigint generated always as identity primary key,
  name drover_name not null unique
);

create table tool_version (
  id bigint generated always as identity primary key,
  tool_id bigint not null references tool (id),
  version text not null,
  unique (tool_id, version)
);

create table task_template (
  id bigint generated always as identity primary key,
  tool_id bigint not null references tool (id),
  name drover_name not null,
  unique (tool_id, name)
);

-- hash = sha256 of (command_template, node_args, task_args, op_args): a changed
-- template is a new version; an unchanged one is found again by bind.
create table task_template_version (
  id bigint generated always as identity primary key,
  task_template_id bigint not null references task_template (id),
  command_template text not null,
  node_args text[] not null default '{}',
  task_args text[] not null default '{}',
  op_args text[] not null default '{}',
  hash text not null,
  unique (task_template_id, hash)
);

-- smallint id: there are a handful of clusters, and task.cluster_id is on every task.
-- heartbeat_at: last bridge heartbeat; the reaper uses it to spot a dead bridge.
create table cluster (
  id smallint generated always as identity primary key,
  name text not null unique check (name <> ''),
  kind text not null check (kind in ('local', 'sequential', 'dummy', 'slurm', 'external')),
  heartbeat_at timestamptz
);

-- Limits are null when the queue does not limit that resource.
create table queue (
  id int generated always as identity primary key,
  cluster_id smallint not null references cluster (id),
  name text not null check (name <> ''),
  max_cores int check (max_cores > 0),
  max_memory_bytes bigint check (max_memory_bytes > 0),
  max_runtime_seconds int check (max_runtime_seconds > 0),
  unique (cluster_id, name)
);

-- identity_hash = sha256(tool version, workflow args) (a random value when no args are
-- given); dag_hash and taskset_hash must match when the identity is submitted again.
-- task_count lets status/progress avoid counting a million rows for the total.
create table workflow (
  id bigint generated always as identity primary key,
  tool_version_id bigint not null references tool_version (id),
  name text not null default '',
  args jsonb not null default '{}',
  identity_hash text not null unique,
  dag_hash text not null,
  taskset_hash text not null,
  status text not null default 'REGISTERING'
    check (status in ('REGISTERING', 'QUEUED', 'RUNNING', 'DONE', 'FAILED', 'HALTED', 'ABORTED')),
  fail_fast boolean not null default false,
  -- null = unlimited, 0 = paused
  max_concurrently_running int check (max_concurrently_running >= 0),
  default_cluster text,
  attributes jsonb,
  submitted_by text,
  -- the client's submission id: a redelivered wf.submit finds its workflow again
  submission_id text unique,
  timeout_seconds int check (timeout_seconds > 0),
  task_count int not null default 0 check (task_count >= 0),
  created_at timestamptz not null default now(),
  status_at timestamptz not null default now(),
  error text
);

create table workflow_run (
  id bigint generated always as identity primary key,
  workflow_id bigint not null references workflow (id),
  status text not null default 'BOUND'
    check (status in ('BOUND', 'RUNNING', 'DONE', 'ERROR', 'STOPPED', 'COLD_RESUME',
      'HOT_RESUME', 'TERMINATED')),
  user_name text,
  host text,
  -- submission id of the submit/resume that started this run (idempotent on redelivery)
  submission_id text unique,
  created_at timestamptz not null default now(),
  status_at timestamptz not null default now()
);
create index workflow_run_workflow_id_idx on workflow_run (workflow_id);

-- One array per (workflow, template version): the unit of the template-level
-- concurrency limit and of a Slurm job array. ("array" is a reserved word.)
create table task_array (
  id bigint generated always as identity primary key,
  workflow_id bigint not null references workflow (id),
  task_template_version_id bigint not null references task_template_version (id),
  -- null = unlimited, 0 = paused
  max_concurrently_running int check (max_concurrently_running >= 0),
  unique (workflow_id, task_template_version_id)
);

-- Ids come from id_allocator (bind reserves a contiguous block, then COPYs tasks and
-- edges that already know each other's ids), so no identity here.
-- Nodes are folded into tasks (hash = sha256(node, task_args)). No foreign keys: see the
-- header. pending_upstream counts upstream tasks not yet DONE; a task is ready when it is
-- 0 (DESIGN.md §4.4), so readiness never joins over the DAG.
create table task (
  id bigint primary key,
  workflow_id bigint not null,
  array_id bigint not null,
  name drover_name not null,
  hash text not null,
  command text not null,
  args jsonb not null,
  status text not null default 'REGISTERING'
    check (status in ('REGISTERING', 'QUEUED', 'INSTANTIATING', 'LAUNCHED', 'RUNNING', 'DONE',
      'ERROR_RECOVERABLE', 'ADJUSTING_RESOURCES', 'ERROR_FATAL')),
  attempts smallint not null default 0 check (attempts >= 0),
  max_attempts smallint not null check (max_attempts >= 1),
  pending_upstream int not null default 0 check (pending_upstream >= 0),
  cluster_id smallint not null,
  queue_id int not null,
  -- resources of the next attempt (scaled after resource errors)
  cores smallint check (cores > 0),
  memory_bytes bigint check (memory_bytes > 0),
  runtime_seconds int check (runtime_seconds > 0),
  project text,
  resource_scales jsonb,
  fallback_queues text[],
  attributes jsonb,
  -- higher first: a task retried after a resource error goes ahead of fresh ones
  priority smallint not null default 0,
  status_at timestamptz not null default now(),
  unique (workflow_id, hash),
  unique (workflow_id, name)
);
-- What schedule picks: ready tasks of a workflow, best first. Partial, so it holds only the
-- frontier, not the million tasks waiting on upstream or done.
create index task_ready_idx on task (workflow_id, priority desc, id)
  where status in ('REGISTERING', 'ADJUSTING_RESOURCES') and pending_upstream = 0;
-- Counting active tasks per workflow/array for the concurrency limits.
create index task_active_idx on task (workflow_id, array_id)
  where status in ('QUEUED', 'INSTANTIATING', 'LAUNCHED', 'RUNNING');

-- Dependencies. The primary key leads with upstream_id: completing a task finds its
-- downstream tasks to decrement their pending_upstream. No foreign keys (header).
create table edge (
  workflow_id bigint not null,
  upstream_id bigint not null,
  downstream_id bigint not null,
  primary key (upstream_id, downstream_id),
  check (upstream_id <> downstream_id)
);
-- upstream of a task: set-status done --recursive, GUI
create index edge_downstream_id_idx on edge (downstream_id);

-- Bind takes a contiguous block of task ids:
--   update id_allocator set next_id = next_id + $n where name = 'task' returning next_id - $n
-- The row lock serialises concurrent binds only for that one statement's transaction.
create table id_allocator (
  name text primary key,
  next_id bigint not null check (next_id >= 1)
);

-- One launch message to a bridge: instances grouped by (cluster, queue, resources,
-- array). published_at is null until the launch.<cluster> message is published; the
-- reaper re-publishes batches that stay unpublished. distributor_id: e.g. Slurm array
-- job id.
create table launch_batch (
  id bigint generated always as identity primary key,
  workflow_id bigint not null references workflow (id),
  cluster_id smallint not null references cluster (id),
  queue_id int not null references queue (id),
  array_id bigint not null references task_array (id),
  cores smallint,
  memory_bytes bigint,
  runtime_seconds int,
  project text,
  instance_count int not null check (instance_count > 0),
  created_at timestamptz not null default now(),
  published_at timestamptz,
  distributor_id text
);
create index launch_batch_unpublished_idx on launch_batch (created_at) where published_at is null;
create index launch_batch_workflow_id_idx on launch_batch (workflow_id);

-- One attempt of a task. No foreign keys (header: launch creates them in bulk, from task
-- ids it has just moved to INSTANTIATING). report_by: the instance is lost when now()
-- passes it without a heartbeat. runtime_used in seconds. error: the error message plus
-- the stderr tail, capped (bridges send at most ~10 KB of tail). error_kind classifies it
-- for retry: 'memory', 'runtime', 'lost', 'error', ...
create table task_instance (
  id bigint generated always as identity primary key,
  task_id bigint not null,
  workflow_id bigint not null,
  batch_id bigint,
  array_step int,
  status text not null default 'QUEUED'
    check (status in ('QUEUED', 'INSTANTIATED', 'LAUNCHED', 'RUNNING', 'DONE', 'ERROR',
      'RESOURCE_ERROR', 'UNKNOWN_ERROR', 'NO_HEARTBEAT', 'NO_DISTRIBUTOR_ID', 'KILL_SELF',
      'ERROR_FATAL')),
  distributor_id text,
  report_by timestamptz,
  exit_code int,
  memory_requested bigint,
  runtime_requested int,
  memory_used bigint,
  runtime_used double precision,
  node text,
  stdout_path text,
  stderr_path text,
  error text check (length(error) <= 16384),
  error_kind text,
  created_at timestamptz not null default now(),
  status_at timestamptz not null default now()
);
create index task_instance_task_id_idx on task_instance (task_id);
-- The invariant "a task never has two live instances at once" (DESIGN.md §4.3), enforced
-- by the database: a second live instance for a task fails with unique_violation.
create unique index task_instance_one_live_idx on task_instance (task_id)
  where status in ('QUEUED', 'INSTANTIATED', 'LAUNCHED', 'RUNNING');
-- The reaper's sweep: live instances past their report-by date.
create index task_instance_report_by_idx on task_instance (report_by)
  where status in ('INSTANTIATED', 'LAUNCHED', 'RUNNING');
create index task_instance_batch_id_idx on task_instance (batch_id);
create index task_instance_workflow_status_idx on task_instance (workflow_id, status);

-- Audit: one row per status transition after bind (DESIGN.md §3), inserted in batches.
-- Append-only history: no primary key (nothing updates or references a row), and no
-- foreign keys on the task/instance ones (header). Status checks catch typos cheaply.
create table workflow_status_audit (
  workflow_id bigint not null references workflow (id),
  status text not null
    check (status in ('REGISTERING', 'QUEUED', 'RUNNING', 'DONE', 'FAILED', 'HALTED', 'ABORTED')),
  at timestamptz not null default now()
);
create index workflow_status_audit_workflow_id_idx on workflow_status_audit (workflow_id);

create table workflow_run_status_audit (
  workflow_run_id bigint not null references workflow_run (id),
  status text not null
    check (status in ('BOUND', 'RUNNING', 'DONE', 'ERROR', 'STOPPED', 'COLD_RESUME',
      'HOT_RESUME', 'TERMINATED')),
  at timestamptz not null default now()
);
create index workflow_run_status_audit_workflow_run_id_idx
  on workflow_run_status_audit (workflow_run_id);

create table task_status_audit (
  task_id bigint not null,
  workflow_id bigint not null,
  status text not null
    check (status in ('REGISTERING', 'QUEUED', 'INSTANTIATING', 'LAUNCHED', 'RUNNING', 'DONE',
      'ERROR_RECOVERABLE', 'ADJUSTING_RESOURCES', 'ERROR_FATAL')),
  at timestamptz not null default now()
);
create index task_status_audit_task_id_idx on task_status_audit (task_id);

create table task_instance_status_audit (
  task_instance_id bigint not null,
  status text not null
    check (status in ('QUEUED', 'INSTANTIATED', 'LAUNCHED', 'RUNNING', 'DONE', 'ERROR',
      'RESOURCE_ERROR', 'UNKNOWN_ERROR', 'NO_HEARTBEAT', 'NO_DISTRIBUTOR_ID', 'KILL_SELF',
      'ERROR_FATAL')),
  at timestamptz not null default now()
);
create index task_instance_status_audit_task_instance_id_idx
  on task_instance_status_audit (task_instance_id);
