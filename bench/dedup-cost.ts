// What exactly-once costs in ClickHouse: the same simulated touchpoints inserted into the real `touchpoints` table
// (ReplacingMergeTree, insert deduplication window, a token per insert) and into a plain MergeTree copy without
// either; then 10% of them inserted again in differently cut batches, as after a crash; then a per-channel query read
// with FINAL (exact) and without (counts the repeats). Prints one JSON line.
//   npm run bench:dedup -- [--customers 3000] [--days 180]
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { toTouchpointRow, touchpointColumns, type TouchpointRow } from '../consumers/touchpoint-row.ts'
import { createIdentifierHasher } from '../producers/identifier-hashing.ts'
import { simulate } from '../producers/simulator/simulate.ts'
import { migrate } from '../runtime/clickhouse-migrations.ts'
import { insertRows, openStore, queryRows } from '../runtime/clickhouse-store.ts'
import { createLogger } from '../runtime/logger.ts'

const { values } = parseArgs({
  options: { customers: { type: 'string', default: '3000' }, days: { type: 'string', default: '180' } },
})
const rows: TouchpointRow[] = []
simulate(
  {
    customers: Number(values.customers),
    days: Number(values.days),
    seed: 13,
    hasher: createIdentifierHasher('bench-secret-0123456789'),
  },
  {
    event: (event) => {
      if (event.family === 'ad-cost') return
      const offset = String(rows.length)
      rows.push(toTouchpointRow(event, { topic: 'bench', partition: 0, offset, schemaId: 1 }))
    },
  },
)
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'omnistitch-dedup-'))
const store = await openStore({ url: undefined, user: '', password: '', database: 'dedup', dataDir })
await migrate(store, { logger: createLogger({ level: 'warn', name: 'bench' }) })
await store.client.command({
  query: `CREATE TABLE dedup.plain AS dedup.touchpoints ENGINE = MergeTree PARTITION BY toYYYYMM(event_time)
          ORDER BY (channel, toDate(event_time), event_id)`,
})
const batch = 30_000
const load = async (table: string, list: TouchpointRow[], cut: number, tokens: boolean) => {
  const began = performance.now()
  for (let index = 0; index < list.length; index += cut) {
    const settings = tokens ? { insert_deduplication_token: `${table}:${cut}:${index}` } : {}
    await insertRows(store, table, touchpointColumns, list.slice(index, index + cut), settings)
  }
  return (performance.now() - began) / 1000
}
const timed = async (query: string) => {
  const began = performance.now()
  const result = await queryRows<{ events: number }>(store, query)
  return { seconds: (performance.now() - began) / 1000, events: result.reduce((sum, row) => sum + row.events, 0) }
}
const perChannel = (table: string, final: boolean) =>
  `SELECT channel, count() AS events, uniqExact(person_key) AS persons, sum(revenue) AS revenue
   FROM {database:Identifier}.${table}${final ? ' FINAL' : ''} GROUP BY channel`

// Best of three for the inserts of a fresh copy is not possible without three copies; one pass each, the plain
// table first so it does not profit from a warm page cache.
const plainInsert = await load('plain', rows, batch, false)
const replacingInsert = await load('touchpoints', rows, batch, true)
const repeats = rows.filter((_row, index) => index % 10 === 0)
await load('plain', repeats, 7_000, false)
await load('touchpoints', repeats, 7_000, true)
const runs = async (query: string) => {
  const results = [await timed(query), await timed(query), await timed(query)]
  return { seconds: Math.min(...results.map((result) => result.seconds)), events: results[0]?.events ?? 0 }
}
const plain = await runs(perChannel('plain', false))
const replacingFinal = await runs(perChannel('touchpoints', true))
const replacingRaw = await runs(perChannel('touchpoints', false))
await store.close()
fs.rmSync(dataDir, { recursive: true, force: true })

const round = (seconds: number) => Number(seconds.toFixed(3))
process.stdout.write(
  `${JSON.stringify({
    bench: 'dedup-cost',
    events: rows.length,
    repeated: repeats.length,
    insert_seconds: { plain_mergetree: round(plainInsert), replacing_with_tokens: round(replacingInsert) },
    per_channel_query: {
      plain_mergetree: { seconds: round(plain.seconds), events: plain.events },
      replacing_without_final: { seconds: round(replacingRaw.seconds), events: replacingRaw.events },
      replacing_final: { seconds: round(replacingFinal.seconds), events: replacingFinal.events },
    },
    machine: { cpus: os.cpus().length, node: process.version },
  })}\n`,
)
