-- People and owners. A person is known by their user token (a subject-safe form of the
-- Unix user name, core/identity.ts); admins may act on anyone's workflows. The NATS
-- public key is what the server's configuration lists (drover admin); the secret stays
-- in the person's credentials file.
create table person (
  token text primary key check (token ~ '^([a-z0-9-]|_[0-9a-f]{2})+$'),
  user_name text not null unique,
  admin boolean not null default false,
  nkey text unique,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

-- Every workflow's owner: the token of the connection that submitted it (never what a
-- message body says). Workflows from before owners existed take their submitter's name
-- where it is already a token; the others have no owner, and only admins act on them.
alter table workflow add column owner text check (owner ~ '^([a-z0-9-]|_[0-9a-f]{2})+$');
update workflow set owner = submitted_by where submitted_by ~ '^[a-z0-9-]+$';
create index workflow_owner_idx on workflow (owner);
