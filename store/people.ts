import type { Sql, TransactionSql } from "postgres";

type Tx = Sql | TransactionSql;

/** People as the site knows them (drover admin), and the owners of workflows. */

export interface Person {
  token: string;
  user_name: string;
  admin: boolean;
  nkey: string | null;
}

export async function listPeople(sql: Tx): Promise<Person[]> {
  return sql<Person[]>`select token, user_name, admin, nkey from person order by user_name`;
}

export async function findPerson(sql: Tx, token: string): Promise<Person | undefined> {
  const [p] = await sql<Person[]>`
    select token, user_name, admin, nkey from person where token = ${token}`;
  return p;
}

/** Adds or updates a person (a new key replaces the old one). */
export async function savePerson(sql: Tx, p: Person): Promise<void> {
  await sql`
    insert into person (token, user_name, admin, nkey)
    values (${p.token}, ${p.user_name}, ${p.admin}, ${p.nkey})
    on conflict (token) do update set user_name = excluded.user_name,
      admin = excluded.admin, nkey = excluded.nkey, updated_at = now()`;
}

export async function removePerson(sql: Tx, token: string): Promise<boolean> {
  const rows = await sql`delete from person where token = ${token}`;
  return rows.count > 0;
}

export async function isAdmin(sql: Tx, token: string): Promise<boolean> {
  const [row] = await sql<{ admin: boolean }[]>`select admin from person where token = ${token}`;
  return row?.admin ?? false;
}

/** The owner token of each workflow given (workflows without one are left out). */
export async function workflowOwners(
  sql: Tx,
  workflowIds: readonly number[],
): Promise<Map<number, string>> {
  if (workflowIds.length === 0) return new Map();
  const rows = await sql<{ id: number; owner: string }[]>`
    select id, owner from workflow
    where id = any(${[...new Set(workflowIds)]}::bigint[]) and owner is not null`;
  return new Map(rows.map((r) => [Number(r.id), r.owner]));
}

/** The owner token of each instance's workflow (instances without one are left out). */
export async function instanceOwners(
  sql: Tx,
  instanceIds: readonly number[],
): Promise<Map<number, string>> {
  if (instanceIds.length === 0) return new Map();
  const rows = await sql<{ id: number; owner: string }[]>`
    select i.id, w.owner from task_instance i join workflow w on w.id = i.workflow_id
    where i.id = any(${[...new Set(instanceIds)]}::bigint[]) and w.owner is not null`;
  return new Map(rows.map((r) => [Number(r.id), r.owner]));
}

/**
 * The instances among those given whose workflow is not `token`'s: a result reported under
 * one person's token for another person's instance.
 */
export async function instancesNotOwnedBy(
  sql: Tx,
  token: string,
  instanceIds: readonly number[],
): Promise<{ instance_id: number; owner: string | null }[]> {
  if (instanceIds.length === 0) return [];
  return sql<{ instance_id: number; owner: string | null }[]>`
    select i.id as instance_id, w.owner
    from task_instance i join workflow w on w.id = i.workflow_id
    where i.id = any(${[...instanceIds]}::bigint[]) and w.owner is distinct from ${token}`;
}

/** Workflows of a person that have not ended (bound or running): their share of the site. */
export async function activeWorkflowCount(sql: Tx, owner: string): Promise<number> {
  const [row] = await sql<{ n: number }[]>`
    select count(*)::int as n from workflow
    where owner = ${owner} and status in ('REGISTERING', 'QUEUED', 'RUNNING')`;
  return row?.n ?? 0;
}
