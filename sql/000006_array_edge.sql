-- The template-level DAG of a workflow: how many edges run from one array (a template's
-- tasks) to another. Bind writes it with the tasks, counted while the edges stream by, so
-- that showing a workflow's DAG reads a few rows instead of aggregating up to millions of
-- edges (edge has no index on workflow_id: one more index on a million-row COPY).
create table array_edge (
  workflow_id bigint not null references workflow (id),
  upstream_array_id bigint not null references task_array (id),
  downstream_array_id bigint not null references task_array (id),
  edge_count bigint not null check (edge_count > 0),
  primary key (workflow_id, upstream_array_id, downstream_array_id)
);

-- Workflows bound before this table existed.
insert into array_edge (workflow_id, upstream_array_id, downstream_array_id, edge_count)
select u.workflow_id, u.array_id, d.array_id, count(*)
from edge e
join task u on u.id = e.upstream_id
join task d on d.id = e.downstream_id
group by 1, 2, 3;
