-- A read-only role for the web GUI (gui/db.ts): SELECT on every table, now and later.
-- The GUI logs in as drover_gui on the same server when the server lets it in without a
-- password (trust/peer on loopback, as on a local stack); elsewhere it falls back to the
-- main URL with default_transaction_read_only (gui/db.ts says which is in force).
--
-- Roles are cluster-wide, and several databases (test clones, parallel runners) may run
-- this at once: the role is created under a guard, and losing the creation race is fine.
-- Grants are per database and idempotent.
do $$
begin
  if not exists (select from pg_roles where rolname = 'drover_gui') then
    create role drover_gui login nosuperuser nocreatedb nocreaterole noinherit;
  end if;
exception
  when duplicate_object or unique_violation then null;
end
$$;

grant usage on schema public to drover_gui;
grant select on all tables in schema public to drover_gui;
-- Tables created by later migrations (run by the migrating role) are readable too.
alter default privileges in schema public grant select on tables to drover_gui;
