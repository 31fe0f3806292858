import fs from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openTestStore } from '../test/helpers.ts'
import { insertRows, queryRows, type Store } from './clickhouse-store.ts'

interface Row {
  id: string
  at: string
  amount: string
  note: string
}

const columns = ['id', 'at', 'amount', 'note'] as const

describe('TabSeparated inserts against the real ClickHouse engine', () => {
  let store: Store
  /** Embedded mode: where insert bodies are spooled (see openStore). */
  let spoolRoot: string | undefined
  const spooled = () => (spoolRoot === undefined ? [] : fs.readdirSync(spoolRoot, { recursive: true }))
  const spooledFiles = () => spooled().filter((entry) => String(entry).endsWith('.tsv'))

  beforeAll(async () => {
    store = await openTestStore()
    if (store.embeddedPath !== undefined) spoolRoot = path.join(store.embeddedPath, '..', 'insert-spool')
    await store.client.command({
      query: 'CREATE DATABASE IF NOT EXISTS {database:Identifier}',
      query_params: { database: store.database },
    })
    await store.client.command({
      query: `CREATE TABLE {database:Identifier}.notes (id UUID, at DateTime64(3, 'UTC'), amount Decimal(18, 2),
              note String) ENGINE = MergeTree ORDER BY id`,
      query_params: { database: store.database },
    })
  })

  afterAll(async () => {
    await store?.close()
  })

  it('stores every value as written, tabs, newlines and backslashes included, and leaves no spool file', async () => {
    const rows: Row[] = [
      { id: '00000000-0000-4000-8000-000000000001', at: '2026-03-01 10:00:00.123', amount: '-12.50', note: 'plain' },
      {
        id: '00000000-0000-4000-8000-000000000002',
        at: '2026-03-02 23:59:59.999',
        amount: '1000000.01',
        note: 'a\tb\nc\\d\re \'quoted\' "double"',
      },
      { id: '00000000-0000-4000-8000-000000000003', at: '1970-01-01 00:00:00.000', amount: '0.00', note: '' },
    ]
    await insertRows(store, 'notes', columns, rows, { insert_deduplication_token: "it's a token" })
    const stored = await queryRows<Row>(
      store,
      `SELECT toString(id) AS id, toString(at) AS at, toString(amount) AS amount, note
       FROM {database:Identifier}.notes ORDER BY id`,
    )
    expect(stored).toEqual(rows.map((row) => ({ ...row, amount: String(Number(row.amount)) })))
    expect(spooledFiles()).toEqual([])
  })

  it("refuses a value the column's type cannot take with the engine's error, and leaves no spool file", async () => {
    const bad: Row = { id: 'not-a-uuid', at: '2026-03-01 10:00:00.000', amount: '1.00', note: 'x' }
    await expect(insertRows(store, 'notes', columns, [bad])).rejects.toThrow(/UUID|pars/i)
    expect(spooledFiles()).toEqual([])
  })

  it("applies a query's settings to that query alone, not to what the process runs next", async () => {
    const setting = async (extra: Record<string, string | number> = {}) =>
      (await queryRows<{ value: string }>(store, "SELECT getSetting('max_memory_usage') AS value", {}, extra))[0]?.value
    const before = await setting()
    expect(Number(await setting({ max_memory_usage: '123456789', readonly: '2' }))).toBe(123456789)
    expect(await setting()).toBe(before)
    // A read-only query leaves the store writable.
    await insertRows(store, 'notes', columns, [
      { id: '00000000-0000-4000-8000-000000000009', at: '2026-03-04 00:00:00.000', amount: '1.00', note: 'still' },
    ])
  })

  it('answers the next query with its own rows after a query that failed once it had written output', async () => {
    // chDB hands what a failed statement had written to the next one (seen with chdb 3.4); the store flushes it.
    await expect(
      queryRows(store, 'SELECT throwIf(number = 900000) AS x, toString(number) AS s FROM numbers(2000000)'),
    ).rejects.toThrow(/throwIf|non-zero/)
    expect(await queryRows(store, 'SELECT number FROM numbers(3)')).toEqual([
      { number: 0 },
      { number: 1 },
      { number: 2 },
    ])
    await expect(
      store.client.command({ query: 'SELECT throwIf(number = 900000) FROM numbers(2000000) FORMAT TabSeparated' }),
    ).rejects.toThrow(/throwIf|non-zero/)
    expect(await queryRows(store, 'SELECT 7 AS seven')).toEqual([{ seven: 7 }])
    // Also when the next query was sent while the failing one ran (two requests at once).
    const [failed, next] = await Promise.allSettled([
      queryRows(store, 'SELECT throwIf(number = 900000) AS x, toString(number) AS s FROM numbers(2000000)'),
      queryRows(store, 'SELECT 8 AS eight'),
    ])
    expect(failed.status).toBe('rejected')
    expect(next).toEqual({ status: 'fulfilled', value: [{ eight: 8 }] })
  })

  it('clears what a crashed process left in the spool when a store opens', async () => {
    if (spoolRoot === undefined) return // server mode spools nothing
    const leftover = path.join(spoolRoot, 'crashed-process')
    fs.mkdirSync(leftover, { recursive: true })
    fs.writeFileSync(path.join(leftover, 'batch.tsv'), 'half a batch\n')
    const other = await openTestStore()
    try {
      expect(fs.existsSync(leftover)).toBe(false)
      // The spools of the stores this process has open are left alone: the first store's and the new one's.
      expect(fs.readdirSync(spoolRoot)).toHaveLength(2)
      await insertRows(store, 'notes', columns, [
        { id: '00000000-0000-4000-8000-000000000004', at: '2026-03-03 00:00:00.000', amount: '2.00', note: 'after' },
      ])
      expect(
        (await queryRows<{ n: number }>(store, 'SELECT count() AS n FROM {database:Identifier}.notes'))[0]?.n,
      ).toBe(5)
    } finally {
      await other.close()
    }
  })
})
