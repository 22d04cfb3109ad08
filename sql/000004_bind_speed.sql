-- Binding a million tasks in seconds (DESIGN.md §6): no unique indexes on task beyond
-- the primary key.
--
-- (workflow_id, hash) and (workflow_id, name) were unique indexes on 64-character hex
-- and ~30-character names arriving in no index order: a million random btree inserts
-- made a 1M-row COPY into task take ~19 s against ~8.5 s without them (measured on a
-- 2-core machine, server-side COPY from a file). Nothing looks tasks up by hash or by
-- exact name, and both are unique by construction: bind-dag's DagReader rejects a
-- repeated task identity (the hash follows from it) or name before its COPY, inside the
-- one transaction that writes a workflow's tasks, and no other code inserts tasks or
-- changes these columns. The name keeps its drover_name check.
alter table task drop constraint task_workflow_id_hash_key;
alter table task drop constraint task_workflow_id_name_key;
