import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openTestStore } from '../test/helpers.ts'
import { readMigrations } from './clickhouse-migrations.ts'
import type { Store } from './clickhouse-store.ts'
import { renderDdl } from './cluster-ddl.ts'

const target = { database: 'omnistitch', cluster: 'retail' }
const rendered = readMigrations().flatMap((migration) =>
  migration.statements.flatMap((statement) => renderDdl(statement, target)),
)

describe('cluster mode DDL', () => {
  let store: Store
  beforeAll(async () => {
    store = await openTestStore()
  })
  afterAll(async () => {
    await store?.close()
  })

  it('gives every table a Replicated engine on every node and a Distributed table over it', () => {
    const locals = rendered.filter((sql) => /^CREATE TABLE IF NOT EXISTS `omnistitch`\.\w+_local /.test(sql))
    expect(locals.length).toBeGreaterThanOrEqual(9)
    for (const sql of locals) {
      const name = /`omnistitch`\.(\w+)_local/.exec(sql)?.[1] ?? ''
      expect(sql).toContain(' ON CLUSTER `retail` (')
      expect(sql).toMatch(
        new RegExp(
          `ENGINE = Replicated\\w*MergeTree\\('/clickhouse/tables/\\{shard\\}/omnistitch/${name}_local', '\\{replica\\}'`,
        ),
      )
      const distributed = rendered.find((other) =>
        other.startsWith(`CREATE TABLE IF NOT EXISTS \`omnistitch\`.${name} ON CLUSTER`),
      )
      expect(distributed, `a Distributed table for ${name}`).toMatch(
        new RegExp(
          `AS \`omnistitch\`\\.${name}_local ENGINE = Distributed\\(\`retail\`, \`omnistitch\`, ${name}_local, cityHash64\\(`,
        ),
      )
    }
    // The replacing engines keep their version column after the replication arguments.
    expect(rendered.join('\n')).toContain(
      "ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/omnistitch/identity_map_local', '{replica}', version)",
    )
    // Every copy of a touchpoint lands on one shard: the shard key is the whole sorting key, event_id included.
    expect(rendered.join('\n')).toContain('touchpoints_local, cityHash64(channel, toDate(event_time), event_id))')
  })

  it('alters the local and the Distributed table, and creates and drops views and tables on every node', () => {
    const alters = rendered.filter((sql) => sql.startsWith('ALTER TABLE'))
    expect(alters.length).toBeGreaterThan(0)
    for (const sql of alters) expect(sql).toMatch(/^ALTER TABLE `omnistitch`\.\w+ ON CLUSTER `retail` /)
    // Column changes go to both; a data-skipping index only to the local table (a Distributed table holds no data).
    expect(alters.filter((sql) => sql.includes('touchpoints_local ON CLUSTER') && !/ INDEX /.test(sql))).toHaveLength(2)
    const indexes = alters.filter((sql) => / (ADD|MATERIALIZE) INDEX /.test(sql))
    expect(indexes.length).toBeGreaterThan(0)
    for (const sql of indexes) expect(sql).toMatch(/^ALTER TABLE `omnistitch`\.touchpoints_local ON CLUSTER /)
    const views = rendered.filter((sql) => /^CREATE (MATERIALIZED )?VIEW/.test(sql))
    expect(views.length).toBeGreaterThanOrEqual(6)
    for (const sql of views)
      expect(sql).toMatch(/^CREATE (MATERIALIZED )?VIEW IF NOT EXISTS `omnistitch`\.\w+ ON CLUSTER `retail`\n/)
    const drops = rendered.filter((sql) => sql.startsWith('DROP'))
    expect(drops.length).toBeGreaterThan(0)
    for (const sql of drops)
      expect(sql).toMatch(/^DROP (VIEW|TABLE) IF EXISTS `omnistitch`\.\w+ ON CLUSTER `retail` SYNC$/)
    // A table is dropped with its local tables, on every node.
    expect(drops).toContain('DROP TABLE IF EXISTS `omnistitch`.funnel_events ON CLUSTER `retail` SYNC')
    expect(drops).toContain('DROP TABLE IF EXISTS `omnistitch`.funnel_events_local ON CLUSTER `retail` SYNC')
  })

  it('is valid ClickHouse SQL: the real engine parses every statement', async () => {
    for (const sql of rendered) {
      await expect(
        store.client.query({ query: `EXPLAIN AST ${sql}`, format: 'TabSeparated' }).then((result) => result.text()),
        sql.slice(0, 120),
      ).resolves.toContain('Query')
    }
  })

  it('leaves single-server DDL as written, with the database named', () => {
    expect(
      renderDdl('CREATE TABLE IF NOT EXISTS {database:Identifier}.t (x UInt8) ENGINE = MergeTree ORDER BY x', {
        database: 'db',
      }),
    ).toEqual(['CREATE TABLE IF NOT EXISTS `db`.t (x UInt8) ENGINE = MergeTree ORDER BY x'])
    expect(() => renderDdl('SELECT 1', { database: 'a-b' })).toThrow(/not a valid ClickHouse name/)
  })
})
