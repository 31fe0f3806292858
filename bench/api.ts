// Latency of the metrics API on a large store (bench/loaded-store.ts: simulator events written straight into embedded
// ClickHouse through the store's insert path, identities resolved and the derived views built): each endpoint is
// called repeatedly through the real server (fastify inject: no network in the way), and, in the same run, its bare
// SQL is run with the same parameters. The last line printed is one JSON object.
//   npm run bench:api -- [--events 10000000] [--days 180] [--runs 30] [--only person,ltv] [--data-dir DIR]
// --data-dir keeps the loaded store in DIR and uses it again on the next run with the same events and days (loading
// 10 M events takes minutes); --only times those endpoints alone.
import fs from 'node:fs'
import os from 'node:os'
import { parseArgs } from 'node:util'
import { createIdentifierHasher } from '../producers/identifier-hashing.ts'
import { journeySettingsSql } from '../queries/attribution-route.ts'
import { customersDigestSql } from '../queries/ltv-route.ts'
import { loadRangeSql, loadSql } from '../queries/sql-files.ts'
import { queryRows } from '../runtime/clickhouse-store.ts'
import { formatDateTime64 } from '../runtime/clickhouse-values.ts'
import { createLogger } from '../runtime/logger.ts'
import { benchEndpointUrls, openBenchApi, percentile, someCustomerIdentifier } from './bench-api-server.ts'
import type { EndpointName } from './bench-api-server.ts'
import { benchLog as log, openLoadedStore } from './loaded-store.ts'

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '10000000' },
    days: { type: 'string', default: '180' },
    runs: { type: 'string', default: '30' },
    only: { type: 'string' },
    'data-dir': { type: 'string' },
  },
})
const runs = Number(values.runs)
const logger = createLogger({ level: 'warn', name: 'bench' })
const hasher = createIdentifierHasher('bench-secret-0123456789')
const loaded = await openLoadedStore({
  targetEvents: Number(values.events),
  days: Number(values.days),
  dataDir: values['data-dir'],
  database: 'bench_api',
  markerName: 'bench-api.json',
  hasher,
  logger,
})
const { store, customers, days, start, events, loadSeconds, resolveSeconds, persons } = loaded

const api = await openBenchApi(store, hasher, logger)
const someone = await someCustomerIdentifier(store)
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

/** Each endpoint's SQL, run the way it runs them (together). */
const endpointSql: Record<EndpointName, (() => Promise<unknown>)[]> = {
  // The journey settings, then the rest together: the models and the Markov chain worked out in the engine, spend.
  attribution: [attributionSql(false)],
  attribution_all_models: [attributionSql(true)],
  channel_switch: [
    ...['channel-transitions', 'channel-switchers'].map((name) => sql(name, range)),
    sql('channel-paths', { ...range, outcome: 'all', limit: 20, min_channels: 2 }),
    sql('channel-flows', { ...range, flow_steps: 5 }),
  ],
  ltv: [sql('ltv-historical', range)],
  // Every request reads a digest of the customers' rows; the rows themselves only when the digest is new (a refit).
  ltv_predictive: [() => queryRows(store, customersDigestSql, range, settings), sql('ltv-customers', range)],
  paths_top: [sql('channel-paths', { ...range, outcome: 'all', limit: 20, min_channels: 1 })],
  funnels: [
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
  stats_channels: [sql('channel-stats', range)],
  // As the route runs them: the identifier's person, then the five parts of the profile together.
  person: [
    async () => {
      const [found] = await queryRows<{ person_id: string }>(
        store,
        loadSql('person-of-identifier'),
        { identifier: someone },
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
}
const urls = benchEndpointUrls(query, someone)

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
for (const [name, url] of Object.entries(urls) as [EndpointName, string][]) {
  if (only !== undefined && !only.includes(name)) continue
  const sqlRuns = endpointSql[name]
  const timed = await time(async () => {
    const response = await api.get(url)
    if (response.statusCode !== 200) throw new Error(`${name}: ${response.statusCode} ${response.body.slice(0, 300)}`)
  })
  const bare = sqlRuns.length === 0 ? undefined : await time(() => Promise.all(sqlRuns.map((run) => run())))
  figures[name] = {
    p50_ms: Math.round(percentile(timed.times, 0.5)),
    p95_ms: Math.round(percentile(timed.times, 0.95)),
    sql_p50_ms: bare === undefined ? null : Math.round(percentile(bare.times, 0.5)),
    first_ms: Math.round(timed.first),
  }
  log(`${name}: ${JSON.stringify(figures[name])}`)
}
await api.close()
await loaded.close()

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
