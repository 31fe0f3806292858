import { OmnistitchError } from './errors.ts'

/** Where a statement runs: one server (or embedded chDB), or every node of a ClickHouse cluster. */
export interface DdlTarget {
  readonly database: string
  /** A cluster name from the servers' `remote_servers`; undefined for a single server or embedded chDB. */
  readonly cluster?: string | undefined
}

const databaseParameter = /\{database:Identifier\}/g

/** `name` quoted as a ClickHouse identifier; names are checked by the configuration, this refuses anything else. */
export function quoteIdentifier(name: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
    throw new OmnistitchError('OMNI_ERR_CONFIG_INVALID', `"${name}" is not a valid ClickHouse name`)
  }
  return `\`${name}\``
}

/**
 * A migration statement as it is sent. The database is written into the text rather than bound as a parameter:
 * ClickHouse keeps `{name:Type}` inside CREATE VIEW as a parameter of the view, so a bound database would leave views
 * that cannot be read.
 *
 * With a cluster, the single-server DDL becomes cluster DDL (docs/OPERATIONS.md, "Cluster mode"):
 * - `CREATE TABLE t (...) ENGINE = XMergeTree(args)` becomes `t_local ON CLUSTER` with
 *   `ReplicatedXMergeTree('/clickhouse/tables/{shard}/<db>/t_local', '{replica}', args)`, plus `t` as a Distributed
 *   table over it, sharded by a hash of the sorting key, so every copy of a row lands on one shard and the replacing
 *   engines can collapse them;
 * - `ALTER TABLE t` alters `t_local` and `t` on every node;
 * - views and refreshable materialized views are created on every node; they read the Distributed tables, so each
 *   node computes from all shards; a view dropped is dropped on every node, a table with its `_local` tables;
 * - inserts go to the Distributed table, unchanged.
 */
export function renderDdl(statement: string, target: DdlTarget): string[] {
  const database = quoteIdentifier(target.database)
  const sql = statement.replace(databaseParameter, database)
  if (target.cluster === undefined) return [sql]
  const cluster = quoteIdentifier(target.cluster)
  const prefix = database.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

  const table = new RegExp(`^CREATE TABLE IF NOT EXISTS ${prefix}\\.(\\w+)\\s*\\(`, 'i').exec(sql)
  if (table) {
    const name = table[1] ?? ''
    const engine = /\bENGINE\s*=\s*(\w*MergeTree)(?:\(([^)]*)\))?/i.exec(sql)
    if (!engine) throw new Error(`cluster mode: no MergeTree engine in the DDL of ${name}`)
    const [engineText, engineName, engineArgs] = engine
    const local = `${name}_local`
    const path = `'/clickhouse/tables/{shard}/${target.database}/${local}', '{replica}'`
    const replicated = `ENGINE = Replicated${engineName ?? ''}(${[path, engineArgs?.trim()].filter(Boolean).join(', ')})`
    const sortingKey = /\bORDER BY\s+(\([^\n]*\)|[^\n]+)/i.exec(sql.slice(engine.index))?.[1]?.trim() ?? 'tuple()'
    const created = sql
      .replace(table[0], `CREATE TABLE IF NOT EXISTS ${database}.${local} ON CLUSTER ${cluster} (`)
      .replace(engineText, replicated)
    const distributed =
      `CREATE TABLE IF NOT EXISTS ${database}.${name} ON CLUSTER ${cluster} AS ${database}.${local} ` +
      `ENGINE = Distributed(${cluster}, ${database}, ${local}, cityHash64(${sortingKey.replace(/^\((.*)\)$/, '$1')}))`
    return [created, distributed]
  }
  const alter = new RegExp(`^ALTER TABLE ${prefix}\\.(\\w+)\\s`, 'i').exec(sql)
  if (alter) {
    const name = alter[1] ?? ''
    const rest = sql.slice(alter[0].length)
    // Data-skipping indexes belong to the tables that hold the data; a Distributed table has none.
    if (/^\s*(ADD|MATERIALIZE|DROP) INDEX\b/i.test(rest))
      return [`ALTER TABLE ${database}.${name}_local ON CLUSTER ${cluster} ${rest}`]
    return [
      `ALTER TABLE ${database}.${name}_local ON CLUSTER ${cluster} ${rest}`,
      `ALTER TABLE ${database}.${name} ON CLUSTER ${cluster} ${rest}`,
    ]
  }
  const view = new RegExp(`^CREATE (MATERIALIZED VIEW|VIEW) IF NOT EXISTS ${prefix}\\.(\\w+)\\s`, 'i').exec(sql)
  if (view) return [sql.replace(view[0], `${view[0].trimEnd()} ON CLUSTER ${cluster}\n`)]
  const drop = new RegExp(`^DROP VIEW IF EXISTS ${prefix}\\.(\\w+)$`, 'i').exec(sql)
  if (drop) return [`${sql} ON CLUSTER ${cluster} SYNC`]
  const dropTable = new RegExp(`^DROP TABLE IF EXISTS ${prefix}\\.(\\w+)$`, 'i').exec(sql)
  if (dropTable) {
    const name = dropTable[1] ?? ''
    return [
      `DROP TABLE IF EXISTS ${database}.${name} ON CLUSTER ${cluster} SYNC`,
      `DROP TABLE IF EXISTS ${database}.${name}_local ON CLUSTER ${cluster} SYNC`,
    ]
  }
  if (/^INSERT INTO /i.test(sql)) return [sql]
  throw new Error(`cluster mode: no rule for the statement ${sql.slice(0, 80)}`)
}
