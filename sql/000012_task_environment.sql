-- Where and with what environment a task's command runs (SPEC.md §4).
--
-- workflow_environment: the submitter's environment as captured at submit (credentials
-- and Drover's service settings already left out), with the workflow's own `env` over it,
-- and the workflow's working folder (the submitter's folder unless the spec names one; null
-- for a submission that gave none: the bridge user's home).
-- Replaced by each submit or resume of the workflow. It is its owner's: it goes only to
-- the owner's bridges in launch messages. The GUI's role may not read it (the default
-- privileges of 000005 would grant it), and no read model selects it.
create table workflow_environment (
  workflow_id bigint primary key references workflow (id),
  env jsonb not null default '{}',
  working_dir text,
  updated_at timestamptz not null default now()
);
revoke all on workflow_environment from public;
revoke all on workflow_environment from drover_gui;

-- A template's and a task's own `env` (over the workflow's, the nearest wins) and
-- working folder; null when they set none.
alter table task_array add column env jsonb, add column working_dir text;
alter table task add column env jsonb, add column working_dir text;
