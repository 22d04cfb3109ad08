-- How many times a task was queued, over its whole life. attempts goes back to 0 when a
-- workflow is resumed or a task is reset by hand, so it cannot tell a new queueing of a
-- task from a redelivered one; this count never goes back. The task.queued message id
-- is built from it: a re-queue after a resume must not look like a duplicate to
-- JetStream's dedupe window (it would be dropped, and the task would wait for the reaper).
alter table task add column queued_count int not null default 0;
