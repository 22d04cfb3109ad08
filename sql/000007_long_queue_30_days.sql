-- long.q on the built-in clusters (local, sequential, dummy) allows runs of 30 days.
--
-- Its seeded limit (14 days, 000002_seed.sql) refused any task asking for more, so a
-- runtime of 30 days, common for long simulations on clusters whose long partitions
-- allow a month, fitted no queue of these clusters and could not even be tried on
-- `dummy`. 30 days is what such partitions typically allow. all.q keeps its 24 hours:
-- it stays the default queue, and retries that outgrow it move to long.q as before.
--
-- Only a limit below 30 days is raised: one an operator raised further or removed
-- (null = unlimited) is left alone.
update queue q
set max_runtime_seconds = 30 * 86400
from cluster c
where c.id = q.cluster_id
  and c.name in ('local', 'sequential', 'dummy')
  and q.name = 'long.q'
  and q.max_runtime_seconds < 30 * 86400;
