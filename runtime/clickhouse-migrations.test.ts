import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openTestStore, testLogger } from '../test/helpers.ts'
import { migrate, readMigrations, splitStatements } from './clickhouse-migrations.ts'
import { queryRows, type Store } from './clickhouse-store.ts'
import { hasErrorCode } from './errors.ts'

describe('splitStatements', () => {
  it('splits on a semicolon at the end of a line and drops comment lines', () => {
    const sql = "-- header\nCREATE TABLE a (x String DEFAULT 'a;b');\n\n-- next\nCREATE TABLE b (y UInt8)\n;\n"
    expect(splitStatements(sql)).toEqual(["CREATE TABLE a (x String DEFAULT 'a;b')", 'CREATE TABLE b (y UInt8)'])
  })
})

describe('readMigrations', () => {
  it('reads the shipped migrations in order, numbered from 1 without gaps', () => {
    const migrations = readMigrations()
    expect(migrations.length).toBeGreaterThan(0)
    migrations.forEach((migration, index) => expect(migration.version).toBe(index + 1))
  })

  it('refuses a misnamed file and a gap', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'omnistitch-migrations-'))
    fs.writeFileSync(path.join(dir, 'first.sql'), 'SELECT 1;')
    expect(() => readMigrations(dir)).toThrow(/first\.sql is misnamed: expected NNNN_lower_snake_name\.sql/)
    fs.rmSync(path.join(dir, 'first.sql'))
    fs.writeFileSync(path.join(dir, '0002_second.sql'), 'SELECT 1;')
    expect(() => readMigrations(dir)).toThrow(/without gaps; found version 2 at position 1/)
  })
})

describe('migrate against the real ClickHouse engine', () => {
  let store: Store
  let dir: string

  beforeAll(async () => {
    store = await openTestStore()
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'omnistitch-migrations-'))
    fs.writeFileSync(
      path.join(dir, '0001_things.sql'),
      'CREATE TABLE IF NOT EXISTS {database:Identifier}.things (id UInt32) ENGINE = MergeTree ORDER BY id;\n',
    )
  })

  afterAll(async () => {
    await store?.close()
  })

  const tables = async () =>
    store.client
      .query({
        query: 'SELECT name FROM system.tables WHERE database = {database:String} ORDER BY name',
        query_params: { database: store.database },
        format: 'JSONEachRow',
      })
      .then((result) => result.json<{ name: string }>())
      .then((rows) => rows.map((row) => row.name))

  it('applies pending migrations in order and records them', async () => {
    expect(await migrate(store, { logger: testLogger, dir })).toEqual({ applied: [1], alreadyApplied: [] })
    expect(await tables()).toEqual(['schema_migrations', 'things'])
  })

  it('is safe to run twice', async () => {
    fs.writeFileSync(
      path.join(dir, '0002_more_things.sql'),
      'CREATE TABLE IF NOT EXISTS {database:Identifier}.more_things (id UInt32) ENGINE = MergeTree ORDER BY id;\n',
    )
    expect(await migrate(store, { logger: testLogger, dir })).toEqual({ applied: [2], alreadyApplied: [1] })
    expect(await migrate(store, { logger: testLogger, dir })).toEqual({ applied: [], alreadyApplied: [1, 2] })
    const recorded = await queryRows(store, 'SELECT count() AS n FROM {database:Identifier}.schema_migrations')
    expect(recorded).toEqual([{ n: 2 }])
  })

  it('refuses to run when an applied migration was edited', async () => {
    fs.appendFileSync(path.join(dir, '0001_things.sql'), '-- edited\n')
    const error = await migrate(store, { logger: testLogger, dir }).catch((caught: unknown) => caught)
    expect(hasErrorCode(error, 'OMNI_ERR_MIGRATION_CHANGED')).toBe(true)
    expect((error as Error).message).toMatch(/Migration 0001_things was applied .* has changed/)
  })

  it('names the migration whose statement failed', async () => {
    const other = fs.mkdtempSync(path.join(os.tmpdir(), 'omnistitch-migrations-'))
    fs.writeFileSync(
      path.join(other, '0001_broken.sql'),
      'CREATE TABLE {database:Identifier}.broken (id NoSuchType) ENGINE = Memory;\n',
    )
    const fresh = await openTestStore()
    const error = await migrate(fresh, { logger: testLogger, dir: other }).catch((caught: unknown) => caught)
    expect(hasErrorCode(error, 'OMNI_ERR_MIGRATION_FAILED')).toBe(true)
    expect((error as Error).message).toMatch(/Migration 0001_broken failed: .*NoSuchType/)
  })

  it('applies the shipped schema', async () => {
    const fresh = await openTestStore()
    const result = await migrate(fresh, { logger: testLogger })
    expect(result.applied.length).toBe(readMigrations().length)
    const engine = await fresh.client
      .query({
        query: "SELECT engine FROM system.tables WHERE database = {database:String} AND name = 'touchpoints'",
        query_params: { database: fresh.database },
        format: 'JSONEachRow',
      })
      .then((rows) => rows.json<{ engine: string }>())
    expect(engine).toEqual([{ engine: 'ReplacingMergeTree' }])
  })
})
