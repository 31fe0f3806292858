// Latency of the metrics API on a large store: simulator events are written straight into embedded ClickHouse (the
// loader's TabSeparated lines, through the store's insert path), identities are resolved and the derived views built,
// then each endpoint is called repeatedly through the real server (fastify inject: no network in the way), and, in
// the same run, its bare SQL is run with the same parameters. The last line printed is one JSON object.
//   npm run bench:api -- [--events 10000000] [--days 180] [--runs 30] [--only person,ltv] [--data-dir DIR]
// --data-dir keeps the loaded store in DIR and uses it again on the next run with the same events and days (loading
// 10 M events takes minutes); --only times those endpoints alone.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { defaultIdentityRules } from '../consumers/identity-graph.ts'
import { derivedViews, runIdentityResolution } from '../consumers/identity-resolver.ts'
import { toAdCostRow, toTouchpointTsvLine, touchpointColumns, adCostColumns } from '../consumers/touchpoint-row.ts'
import { createIdentifierHasher } from '../producers/identifier-hashing.ts'
import { simulate } from '../producers/simulator/simulate.ts'
import { buildApiServer } from '../queries/api-server.ts'
import { journeySettingsSql } from '../queries/attribution-route.ts'
import { customersDigestSql } from '../queries/ltv-route.ts'
import { loadRangeSql, loadSql } from '../queries/sql-files.ts'
import { migrate, readMigrations } from '../runtime/clickhouse-migrations.ts'
import { insertRows, insertTabSeparated, openStore, queryRows } from '../runtime/clickhouse-store.ts'
import { formatDateTime64 } from '../runtime/clickhouse-values.ts'
import { createLogger } from '../runtime/logger.ts'
import type { AdCostRow } from '../consumers/touchpoint-row.ts'

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '10000000' },
    days: { type: 'string', default: '180' },
    runs: { type: 'string', default: '30' },
    only: { type: 'string' },
    'data-dir': { type: 'string' },
  },
})
const targetEvents = Number(values.events)
const days = Number(values.days)
const runs = Number(values.runs)
const log = (message: string) => process.stderr.write(`${new Date().toISOString()} ${message}\n`)
const logger = createLogger({ level: 'warn', name: 'bench' })
const hasher = createIdentifierHasher('bench-secret-0123456789')
// About 66 events per simulated customer over 180 days (docs/SIMULATOR.md).
const customers = Math.max(100, Math.round((targetEvents / 66) * (180 / days)))
const start = Date.parse('2026-01-01T00:00:00Z')

const keptDir = values['data-dir']
const dataDir = keptDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'omnistitch-bench-api-'))
fs.mkdirSync(dataDir, { recursive: true })
/** What a kept store holds, written once it is loaded: a run with the same events and days uses it as it is. */
const marker = path.join(dataDir, 'bench-api.json')
const wanted = { target_events: targetEvents, days }
const kept = fs.existsSync(marker)
  ? (JSON.parse(fs.readFileSync(marker, 'utf8')) as typeof wanted & {
      events: number
      load_seconds: number
      identities_and_views_seconds: number
      persons: number
    })
  : undefined
const reuse = kept !== undefined && kept.target_events === targetEvents && kept.days === days
if (keptDir !== undefined && kept !== undefined && !reuse) {
  throw new Error(`${marker}: the store there holds ${JSON.stringify(kept)}, not ${JSON.stringify(wanted)}`)
}
const store = await openStore({ url: undefined, user: '', password: '', database: 'bench_api', dataDir })
// The views refresh every minute, and at once when a store is opened: at 10 M events a refresh of them all takes
// minutes of both cores. They are paused here (a refresh under way is cancelled; a view keeps what its last refresh
// wrote) and built only when this run needs them, so that the endpoints' figures are the API's, not the refresh's.
const pauseRefreshes = async () => {
  await store.client.command({ query: 'SYSTEM STOP VIEWS' })
  const views = await queryRows<{ view: string }>(
    store,
    'SELECT view FROM system.view_refreshes WHERE database = {database:String}',
  )
  for (const { view } of views) {
    await store.client.command({ query: `SYSTEM CANCEL VIEW \`${store.database}\`.${view}` })
  }
}
await pauseRefreshes()
const migration = await migrate(store, { logger })

let events: number
let loadSeconds: number
let resolveSeconds: number
let persons: number
if (reuse) {
  ;({ events, load_seconds: loadSeconds, identities_and_views_seconds: resolveSeconds, persons } = kept)
  log(`using the store in ${dataDir}: ${events} events, ${persons} persons`)
  // Views added by migrations applied since the store was loaded are built now (the others are as they were).
  if (migration.applied.length > 0) {
    const created = readMigrations()
      .filter((applied) => migration.applied.includes(applied.version))
      .flatMap((applied) => applied.statements)
      .map((statement) => /^CREATE MATERIALIZED VIEW IF NOT EXISTS \{database:Identifier\}\.(\w+)/.exec(statement)?.[1])
    const started = performance.now()
    for (const view of derivedViews.filter((name) => created.includes(name))) {
      for (const command of ['START', 'REFRESH', 'WAIT', 'STOP']) {
        await store.client.command({ query: `SYSTEM ${command} VIEW \`${store.database}\`.${view}` })
      }
      log(`built ${view} (${((performance.now() - started) / 1000).toFixed(1)} s so far)`)
    }
    // ... and indexes they added to stored parts (MATERIALIZE INDEX runs as a mutation in the background).
    for (;;) {
      const [pending] = await queryRows<{ mutations: number }>(
        store,
        'SELECT count() AS mutations FROM system.mutations WHERE database = {database:String} AND NOT is_done',
      )
      if (Number(pending?.mutations ?? 0) === 0) break
      await new Promise((resolve) => setTimeout(resolve, 1000))
    }
    log(`migrations ${migration.applied.join(', ')} applied to the kept store`)
  }
} else {
  ;({ events, loadSeconds, resolveSeconds, persons } = await load())
  if (keptDir !== undefined) {
    const loaded = {
      ...wanted,
      events,
      load_seconds: loadSeconds,
      identities_and_views_seconds: resolveSeconds,
      persons,
    }
    fs.writeFileSync(marker, JSON.stringify(loaded))
  }
}

async function load() {
  // Load, a shard of customers at a time so that memory stays flat.
  const loadStart = performance.now()
  let events = 0
  const shard = 5000
  for (let from = 0; from < customers; from += shard) {
    const lines: string[] = []
    const costs: AdCostRow[] = []
    simulate(
      {
        customers,
        days,
        seed: 3,
        hasher,
        start,
        range: { from, to: Math.min(customers, from + shard) },
        trailers: from === 0,
      },
      {
        event: (event) => {
          const source = { topic: 'bench', partition: 0, offset: String(events), schemaId: 1 }
          events += 1
          if (event.family === 'ad-cost') costs.push(toAdCostRow(event.value, source))
          else lines.push(toTouchpointTsvLine(event, source))
        },
      },
    )
    for (let at = 0; at < lines.length; at += 200_000) {
      await insertTabSeparated(store, 'touchpoints', touchpointColumns, lines.slice(at, at + 200_000))
    }
    if (costs.length > 0) await insertRows(store, 'ad_costs', adCostColumns, costs)
    log(`loaded ${events} events (${Math.min(customers, from + shard)} of ${customers} customers)`)
  }
  const loadSeconds = (performance.now() - loadStart) / 1000
  const resolveStart = performance.now()
  const resolution = await runIdentityResolution(store, { rules: defaultIdentityRules, logger })
  const resolveSeconds = (performance.now() - resolveStart) / 1000
  log(`identities and views in ${resolveSeconds.toFixed(1)} s (${resolution.persons} persons)`)
  return { events, loadSeconds, resolveSeconds, persons: resolution.persons }
}

await pauseRefreshes()

const key = 'bench-reader-key-0123456789'
const app = await buildApiServer({
  store,
  logger,
  checkKafka: async () => undefined,
  apiKeys: { [key]: 'reader' },
  hasher,
  rateLimitPerMinute: 1_000_000,
})
const [someone] = await queryRows<{ identifier: string }>(
  store,
  "SELECT identifier FROM {database:Identifier}.identity_map WHERE kind = 'customer_id' LIMIT 1",
)
const range = { from: formatDateTime64(start), to: formatDateTime64(start + days * 86_400_000) }
const query = `from=${new Date(start).toISOString()}&to=${new Date(start + days * 86_400_000).toISOString()}`
const settings = { max_execution_time: 30, max_memory_usage: '2000000000', readonly: '2' }
// The SQL a route runs for the bench's range: NAME-days.sql where there is one, as the range is whole days.
const wholeDays = { wholeDays: start % 86_400_000 === 0 }
const sqlFor = (name: string) =>
  fs.existsSync(new URL(`../queries/sql/${name}-days.sql`, import.meta.url))
    ? loadRangeSql(name).for(wholeDays)
    : loadSql(name)
const sql = (name: string, params: Record<string, unknown>) => () => queryRows(store, sqlFor(name), params, settings)
const personId = someone === undefined ? '' : someone.identifier.replace(/^customer_id:/, 'customer:')

/** The SQL of /v1/attribution over the bench's range with default settings, with or without the models of their own. */
function attributionSql(allModels: boolean): () => Promise<unknown> {
  const paths = { ...range, group_by: 'channel', channels: [], collapse_repeats: 0 }
  return async () => {
    await queryRows(store, journeySettingsSql, {}, settings)
    await Promise.all([
      sql('attribution-days', {
        ...paths,
        order: 1,
        direct: ['direct'],
        first: 0.4,
        middle: 0.2,
        last: 0.4,
        ordered: allModels ? 1 : 0,
      })(),
      sql('ad-spend', { ...range, group_by: 'channel' })(),
      ...(allModels ? [sql('attribution-time-decay-days', { ...paths, half_life_days: 7 })()] : []),
    ])
  }
}

/** Each endpoint: its URL, and the SQL it runs, run the way it runs them (together). */
const endpoints: Record<string, { url: string; sql: (() => Promise<unknown>)[] }> = {
  attribution: {
    url: `/v1/attribution?${query}&models=last_touch,linear,markov,shapley`,
    // The journey settings, then the rest together: the models and the Markov chain worked out in the engine, spend.
    sql: [attributionSql(false)],
  },
  // A request without `models`: all nine, time decay and ordered Shapley included.
  attribution_all_models: { url: `/v1/attribution?${query}`, sql: [attributionSql(true)] },
  channel_switch: {
    url: `/v1/channel-switch?${query}`,
    sql: [
      ...['channel-transitions', 'channel-switchers'].map((name) => sql(name, range)),
      sql('channel-paths', { ...range, outcome: 'all', limit: 20, min_channels: 2 }),
      sql('channel-flows', { ...range, flow_steps: 5 }),
    ],
  },
  ltv: { url: `/v1/ltv?${query}`, sql: [sql('ltv-historical', range)] },
  // Every request reads a digest of the customers' rows; the rows themselves only when the digest is new (a refit).
  ltv_predictive: {
    url: `/v1/ltv/predictive?${query}`,
    sql: [() => queryRows(store, customersDigestSql, range, settings), sql('ltv-customers', range)],
  },
  paths_top: {
    url: `/v1/paths/top?${query}`,
    sql: [sql('channel-paths', { ...range, outcome: 'all', limit: 20, min_channels: 1 })],
  },
  funnels: {
    url: `/v1/funnels?${query}&steps=page_view,add_to_cart,order_created`,
    sql: [
      sql('funnel', {
        ...range,
        window_seconds: 7 * 86_400,
        channel: '',
        step_1: 'page_view',
        step_2: 'add_to_cart',
        step_3: 'order_created',
        ...Object.fromEntries([4, 5, 6, 7, 8].map((step) => [`step_${step}`, '\u0000'])),
      }),
    ],
  },
  stats_channels: { url: `/v1/stats/channels?${query}`, sql: [sql('channel-stats', range)] },
  person: {
    url: `/v1/persons/${encodeURIComponent(personId)}`,
    // As the route runs them: the identifier's person, then the five parts of the profile together.
    sql: [
      async () => {
        const identifier = someone?.identifier ?? ''
        const [found] = await queryRows<{ person_id: string }>(
          store,
          loadSql('person-of-identifier'),
          { identifier },
          settings,
        )
        const params = { person_id: found?.person_id ?? '' }
        await Promise.all([
          sql('person-identifiers', params)(),
          sql('person-profile', params)(),
          sql('person-categories', params)(),
          sql('person-timeline', { ...params, limit: 100 })(),
          sql('person-orders', params)(),
        ])
      },
    ],
  },
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0
}
/** The times of `runs` calls, sorted, after a first call (timed apart: it may fill caches, such as a model fit). */
async function time(run: () => Promise<unknown>): Promise<{ first: number; times: number[] }> {
  const began = performance.now()
  await run()
  const first = performance.now() - began
  const times: number[] = []
  for (let i = 0; i < runs; i++) {
    const started = performance.now()
    await run()
    times.push(performance.now() - started)
  }
  return { first, times: times.sort((a, b) => a - b) }
}

const figures: Record<string, { p50_ms: number; p95_ms: number; sql_p50_ms: number | null; first_ms: number }> = {}
const only = values.only?.split(',')
for (const [name, endpoint] of Object.entries(endpoints)) {
  if (only !== undefined && !only.includes(name)) continue
  const api = await time(async () => {
    const response = await app.inject({ url: endpoint.url, headers: { authorization: `Bearer ${key}` } })
    if (response.statusCode !== 200) throw new Error(`${name}: ${response.statusCode} ${response.body.slice(0, 300)}`)
  })
  const bare = endpoint.sql.length === 0 ? undefined : await time(() => Promise.all(endpoint.sql.map((run) => run())))
  figures[name] = {
    p50_ms: Math.round(percentile(api.times, 0.5)),
    p95_ms: Math.round(percentile(api.times, 0.95)),
    sql_p50_ms: bare === undefined ? null : Math.round(percentile(bare.times, 0.5)),
    first_ms: Math.round(api.first),
  }
  log(`${name}: ${JSON.stringify(figures[name])}`)
}
await app.close()
await store.close()
if (keptDir === undefined) fs.rmSync(dataDir, { recursive: true, force: true })

process.stdout.write(
  `${JSON.stringify({
    bench: 'api',
    events,
    customers,
    days,
    runs,
    load_seconds: Number(loadSeconds.toFixed(1)),
    identities_and_views_seconds: Number(resolveSeconds.toFixed(1)),
    persons,
    endpoints: figures,
    machine: { cpus: os.cpus().length, memory_gib: Math.round(os.totalmem() / 2 ** 30), node: process.version },
  })}\n`,
)
