-- Built-in clusters and queues (SPEC.md §1 "Queues"). slurm has no queues here: the
-- slurm-bridge registers the cluster's partitions with their limits.
insert into cluster (name, kind) values
  ('local', 'local'),
  ('sequential', 'sequential'),
  ('dummy', 'dummy'),
  ('slurm', 'slurm');

-- all.q: 24 h; long.q: 14 days; both 1 TiB and 1024 cores.
insert into queue (cluster_id, name, max_cores, max_memory_bytes, max_runtime_seconds)
select c.id, q.name, 1024, 1099511627776, q.max_runtime_seconds
from cluster c
cross join (values ('all.q', 86400), ('long.q', 1209600)) as q (name, max_runtime_seconds)
where c.name in ('local', 'sequential', 'dummy')
order by c.id, q.name;

insert into id_allocator (name, next_id) values ('task', 1);
