-- The role the functions and services run as on a site (README, Deployment): rows only,
-- never the schema. It may read and write every table and sequence, now and later, and
-- nothing else: no superuser, no CREATEROLE, no CREATEDB, and no CREATE in the schema,
-- so it cannot run a program through COPY … PROGRAM or change a table. It logs in
-- through a member role the site makes with a password of its own:
--   create role drover_fn login password '…' in role drover_function;
-- Migrations stay with the owner (`drover migrate` with DROVER_MIGRATE_DATABASE_URL).
--
-- Roles are cluster-wide and several databases may run this at once: created under a
-- guard, as drover_gui is (000005). Grants are per database and idempotent.
do $$
begin
  if not exists (select from pg_roles where rolname = 'drover_function') then
    create role drover_function nologin nosuperuser nocreatedb nocreaterole noinherit;
  end if;
exception
  when duplicate_object or unique_violation then null;
end
$$;

grant usage on schema public to drover_function;
grant select, insert, update, delete on all tables in schema public to drover_function;
grant usage, select, update on all sequences in schema public to drover_function;
-- Tables and sequences created by later migrations (run by the migrating role) too.
alter default privileges in schema public
  grant select, insert, update, delete on tables to drover_function;
alter default privileges in schema public
  grant usage, select, update on sequences to drover_function;
