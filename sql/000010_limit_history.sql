-- The history of a workflow's concurrency limits: one row per change made through the
-- command service (drover concurrency, the GUI), in the transaction that made it, so the
-- GUI can show who paused a workflow and when. template is null for the workflow's own
-- limit; a limit null means none (unlimited), 0 paused. Append-only: no primary key.
create table limit_change (
  workflow_id bigint not null references workflow (id),
  template text,
  old_limit int,
  new_limit int,
  at timestamptz not null default now()
);
create index limit_change_workflow_id_idx on limit_change (workflow_id, at);
