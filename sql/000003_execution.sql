-- Indexes of the execution path: schedule, launch, heartbeat, complete, query.

-- Status counts of a workflow (query, progress) and the end-of-workflow checks, which
-- probe "is there a task of this workflow in one of these statuses" as a few index
-- lookups (`status = any(...)`) instead of reading every task of a big workflow.
create index task_workflow_status_idx on task (workflow_id, status);

-- What schedule picks, per array (the unit of the template-level limit), best first:
-- tasks retried after a resource error, then higher priority, then id. Per array so that
-- an array's limit is applied by reading at most that many entries of it, however large
-- the frontier of the other arrays of its workflow. Partial: only the ready frontier.
create index task_ready_array_idx
  on task (array_id, (status = 'ADJUSTING_RESOURCES') desc, priority desc, id)
  where status in ('REGISTERING', 'ADJUSTING_RESOURCES') and pending_upstream = 0;

-- The schedule sweep: workflows that may have work to queue.
create index workflow_live_idx on workflow (id) where status in ('QUEUED', 'RUNNING');
