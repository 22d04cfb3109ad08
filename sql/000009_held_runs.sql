-- A workflow can be bound and held (REGISTERING) until it is released, as Jobmon's
-- bind() comes before run(). Its timeout counts from its release, not from its bind:
-- released_at is when the run may start scheduling (at its creation unless held).
alter table workflow_run add column released_at timestamptz default now();
update workflow_run set released_at = created_at;
