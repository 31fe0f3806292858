import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { queryRows, type Store } from './clickhouse-store.ts'
import { OmnistitchError, describeError } from './errors.ts'
import type { Logger } from './logger.ts'
import { quoteIdentifier, renderDdl } from './cluster-ddl.ts'

/** Where the versioned `.sql` migrations live: `schemas/clickhouse/NNNN_name.sql`. */
export const defaultMigrationsDir = fileURLToPath(new URL('../schemas/clickhouse/', import.meta.url))

export interface Migration {
  readonly version: number
  readonly name: string
  readonly checksum: string
  readonly statements: readonly string[]
}

/**
 * Splits a migration file into statements: a statement ends with `;` at the end of a line. Comment lines
 * (`-- ...`) are dropped. Migrations therefore keep `;` out of the middle of lines' ends inside string literals.
 */
export function splitStatements(sql: string): string[] {
  const withoutComments = sql
    .split('\n')
    .filter((line) => !line.trimStart().startsWith('--'))
    .join('\n')
  return withoutComments
    .split(/;\s*$/m)
    .map((statement) => statement.trim())
    .filter((statement) => statement.length > 0)
}

/** Reads `NNNN_name.sql` files in version order; a gap or a duplicate version is an error. */
export function readMigrations(dir: string = defaultMigrationsDir): Migration[] {
  const files = fs
    .readdirSync(dir)
    .filter((file) => file.endsWith('.sql'))
    .sort()
  const migrations = files.map((file) => {
    const match = /^(\d{4})_([a-z0-9_]+)\.sql$/.exec(file)
    if (!match) {
      throw new OmnistitchError(
        'OMNI_ERR_MIGRATION_FAILED',
        `Migration file ${file} is misnamed: expected NNNN_lower_snake_name.sql, such as 0001_touchpoints.sql`,
      )
    }
    const sql = fs.readFileSync(path.join(dir, file), 'utf8')
    return {
      version: Number(match[1]),
      name: match[2] ?? '',
      checksum: crypto.createHash('sha256').update(sql).digest('hex'),
      statements: splitStatements(sql),
    }
  })
  migrations.forEach((migration, index) => {
    if (migration.version !== index + 1) {
      throw new OmnistitchError(
        'OMNI_ERR_MIGRATION_FAILED',
        `Migrations must be numbered 0001, 0002, ... without gaps; found version ${migration.version} at position ${index + 1}`,
      )
    }
  })
  return migrations
}

export interface MigrationResult {
  readonly applied: readonly number[]
  readonly alreadyApplied: readonly number[]
}

/**
 * Applies the migrations that are not yet recorded in `<database>.schema_migrations`, in order. Safe to run twice:
 * recorded versions are skipped, and every statement is written to be idempotent (`IF NOT EXISTS`), so a run that
 * died halfway through a migration completes it on the next run. An applied migration whose file has changed since
 * is an error: write a new migration instead.
 */
export async function migrate(
  store: Store,
  options: { logger: Logger; dir?: string; cluster?: string | undefined },
): Promise<MigrationResult> {
  const { client, database } = store
  const target = { database, cluster: options.cluster ?? store.cluster }
  const run = async (statement: string) => {
    for (const sql of renderDdl(statement, target)) await client.command({ query: sql })
  }
  const onCluster = target.cluster === undefined ? '' : ` ON CLUSTER ${quoteIdentifier(target.cluster)}`
  await client.command({ query: `CREATE DATABASE IF NOT EXISTS ${quoteIdentifier(database)}${onCluster}` })
  await run(`CREATE TABLE IF NOT EXISTS {database:Identifier}.schema_migrations (
      version UInt32, name String, checksum String, applied_at DateTime64(3, 'UTC') DEFAULT now64(3)
    ) ENGINE = MergeTree ORDER BY version`)
  const recorded = await queryRows<{ version: number; checksum: string }>(
    store,
    'SELECT version, checksum FROM {database:Identifier}.schema_migrations ORDER BY version',
  )
  const recordedChecksums = new Map(recorded.map((row) => [Number(row.version), row.checksum]))

  const applied: number[] = []
  const alreadyApplied: number[] = []
  for (const migration of readMigrations(options.dir)) {
    const label = `${String(migration.version).padStart(4, '0')}_${migration.name}`
    const known = recordedChecksums.get(migration.version)
    if (known !== undefined) {
      if (known !== migration.checksum) {
        throw new OmnistitchError(
          'OMNI_ERR_MIGRATION_CHANGED',
          `Migration ${label} was applied to ${database} but its file has changed since; add a new migration instead of editing an applied one`,
        )
      }
      alreadyApplied.push(migration.version)
      continue
    }
    for (const statement of migration.statements) {
      try {
        await run(statement)
      } catch (error) {
        throw new OmnistitchError('OMNI_ERR_MIGRATION_FAILED', `Migration ${label} failed: ${describeError(error)}`, {
          cause: error,
        })
      }
    }
    await client.insert({
      table: `${database}.schema_migrations`,
      values: [{ version: migration.version, name: migration.name, checksum: migration.checksum }],
      format: 'JSONEachRow',
    })
    options.logger.info({ migration: label, database }, 'migration applied')
    applied.push(migration.version)
  }
  return { applied, alreadyApplied }
}

/**
 * Sets how long raw touchpoints are kept: a TTL on event_time, or none for 0. Applied when the pipeline starts
 * (`start`, `consume`) and by `omnistitch settings apply`, so changing OMNISTITCH_RETENTION_DAYS and restarting the
 * pipeline is enough; readers (`serve`, `sql`, `identity`) leave it as it is. ClickHouse drops expired rows in its
 * background merges.
 */
export async function applyRetention(store: Store, days: number): Promise<void> {
  const [table] = await queryRows<{ create_table_query: string }>(
    store,
    'SELECT create_table_query FROM system.tables WHERE database = {database:String} AND name = {table:String}',
    { table: store.cluster === undefined ? 'touchpoints' : 'touchpoints_local' },
  )
  const ttl = /\bTTL .*?(?:INTERVAL (\d+) DAY|toIntervalDay\((\d+)\))/.exec(table?.create_table_query ?? '')
  const current = Number(ttl?.[1] ?? ttl?.[2] ?? 0)
  if (current === days) return
  const statement =
    days === 0
      ? 'ALTER TABLE {database:Identifier}.touchpoints REMOVE TTL'
      : `ALTER TABLE {database:Identifier}.touchpoints MODIFY TTL toDateTime(event_time) + INTERVAL ${Math.trunc(days)} DAY`
  // In a cluster the TTL belongs to the local tables, not the Distributed one over them.
  const [local] = renderDdl(statement, { database: store.database, cluster: store.cluster })
  if (local !== undefined) await store.client.command({ query: local })
}
