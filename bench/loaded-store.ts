// The large store the API and freshness benchmarks run against: simulator events written straight into embedded
// ClickHouse (the loader's TabSeparated lines, through the store's insert path), then identities resolved and the
// derived views built. Kept in a data directory, it is used again by the next run with the same events and days
// (loading 10 M events takes minutes).
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { defaultIdentityRules } from '../consumers/identity-graph.ts'
import { runIdentityResolution } from '../consumers/identity-resolver.ts'
import { adCostColumns, toAdCostRow, toTouchpointTsvLine, touchpointColumns } from '../consumers/touchpoint-row.ts'
import type { AdCostRow } from '../consumers/touchpoint-row.ts'
import type { IdentifierHasher } from '../producers/identifier-hashing.ts'
import { simulate } from '../producers/simulator/simulate.ts'
import { migrate, readMigrations } from '../runtime/clickhouse-migrations.ts'
import { insertRows, insertTabSeparated, openStore, queryRows, type Store } from '../runtime/clickhouse-store.ts'
import type { Logger } from '../runtime/logger.ts'

/** The seed of the loaded history; other traffic into the same store uses another one, so event ids never meet. */
export const loadedSeed = 3
/** Day 0 of the loaded history unless a benchmark asks for another. */
export const defaultLoadStart = Date.parse('2026-01-01T00:00:00Z')

/** A progress line on stderr, with the time. */
export const benchLog = (message: string): void => {
  process.stderr.write(`${new Date().toISOString()} ${message}\n`)
}

/** Customers of a loaded store: about 66 events per simulated customer over 180 days (docs/SIMULATOR.md). */
export function loadedCustomers(targetEvents: number, days: number): number {
  return Math.max(100, Math.round((targetEvents / 66) * (180 / days)))
}

export interface LoadedStoreOptions {
  readonly targetEvents: number
  readonly days: number
  /** Keep the store here and use it again when it holds the same events and days; else a temporary directory. */
  readonly dataDir: string | undefined
  readonly database: string
  /** The file in the data directory that says what the kept store holds. */
  readonly markerName: string
  /** Day 0 of the history when the store is loaded now (default 2026-01-01); a kept store keeps its own. */
  readonly start?: number
  readonly hasher: IdentifierHasher
  readonly logger: Logger
}

/** What a kept store holds, written once it is loaded. */
interface Marker {
  target_events: number
  days: number
  start?: number
  events: number
  load_seconds: number
  identities_and_views_seconds: number
  persons: number
  [more: string]: unknown
}

export interface LoadedStore {
  readonly store: Store
  readonly dataDir: string
  readonly reused: boolean
  readonly customers: number
  readonly days: number
  /** Day 0 of the loaded history (epoch milliseconds). */
  readonly start: number
  /** Events loaded by the simulator (not counting what later runs added). */
  readonly events: number
  readonly loadSeconds: number
  readonly resolveSeconds: number
  readonly persons: number
  /**
   * Stops the views' own refresh schedule (a refresh under way is cancelled; a view keeps what its last refresh
   * wrote), so that what a benchmark times is not a refresh running beside it.
   */
  pauseRefreshes(): Promise<void>
  /** Adds fields to the kept store's marker (for example what a run added to the store). */
  note(fields: Record<string, unknown>): void
  /** Closes the store, and removes it unless it is kept. */
  close(): Promise<void>
}

/**
 * Opens the benchmark store in `dataDir`, loading it first unless it already holds what is asked. The views'
 * refresh schedule is paused on return (`pauseRefreshes`): at 10 M events a refresh of them all takes minutes of both
 * cores. A kept store that is asked for other events or days is an error, not overwritten.
 */
export async function openLoadedStore(options: LoadedStoreOptions): Promise<LoadedStore> {
  const { targetEvents, days, logger } = options
  const dataDir = options.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), `omnistitch-${options.database}-`))
  fs.mkdirSync(dataDir, { recursive: true })
  const marker = path.join(dataDir, options.markerName)
  const wanted = { target_events: targetEvents, days }
  const kept = fs.existsSync(marker) ? (JSON.parse(fs.readFileSync(marker, 'utf8')) as Marker) : undefined
  const reused = kept !== undefined && kept.target_events === targetEvents && kept.days === days
  if (options.dataDir !== undefined && kept !== undefined && !reused) {
    throw new Error(`${marker}: the store there holds ${JSON.stringify(kept)}, not ${JSON.stringify(wanted)}`)
  }
  const customers = loadedCustomers(targetEvents, days)
  const start = reused ? (kept.start ?? defaultLoadStart) : (options.start ?? defaultLoadStart)
  const store = await openStore({ url: undefined, user: '', password: '', database: options.database, dataDir })
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
  // The views refresh every minute, and at once when a store is opened: paused here, built only when needed.
  await pauseRefreshes()
  const migration = await migrate(store, { logger })

  let loaded: Marker
  if (reused) {
    loaded = kept
    benchLog(`using the store in ${dataDir}: ${kept.events} events, ${kept.persons} persons`)
    if (migration.applied.length > 0) await buildAddedViews(store, migration.applied, logger)
  } else {
    const { events, loadSeconds, resolveSeconds, persons } = await load(store, { ...options, customers, start })
    loaded = {
      ...wanted,
      start,
      events,
      load_seconds: loadSeconds,
      identities_and_views_seconds: resolveSeconds,
      persons,
    }
    if (options.dataDir !== undefined) fs.writeFileSync(marker, JSON.stringify(loaded))
  }
  await pauseRefreshes()

  return {
    store,
    dataDir,
    reused,
    customers,
    days,
    start,
    events: loaded.events,
    loadSeconds: loaded.load_seconds,
    resolveSeconds: loaded.identities_and_views_seconds,
    persons: loaded.persons,
    pauseRefreshes,
    note(fields) {
      if (options.dataDir === undefined) return
      loaded = { ...loaded, ...fields }
      fs.writeFileSync(marker, JSON.stringify(loaded))
    },
    async close() {
      await store.close()
      if (options.dataDir === undefined) fs.rmSync(dataDir, { recursive: true, force: true })
    },
  }
}

/**
 * On a kept store, views added by migrations applied since it was loaded are built now (the others are as they
 * were), and the indexes they added to stored parts are waited for (MATERIALIZE INDEX runs as a background mutation).
 */
async function buildAddedViews(store: Store, applied: readonly number[], logger: Logger): Promise<void> {
  const created = readMigrations()
    .filter((migration) => applied.includes(migration.version))
    .flatMap((migration) => migration.statements)
    .map((statement) => /^CREATE MATERIALIZED VIEW IF NOT EXISTS \{database:Identifier\}\.(\w+)/.exec(statement)?.[1])
  const started = performance.now()
  for (const view of created.filter((name) => name !== undefined)) {
    const [refreshable] = await queryRows<{ n: number }>(
      store,
      'SELECT count() AS n FROM system.view_refreshes WHERE database = {database:String} AND view = {view:String}',
      { view },
    )
    if (Number(refreshable?.n ?? 0) === 0) continue
    for (const command of ['START', 'REFRESH', 'WAIT', 'STOP']) {
      await store.client.command({ query: `SYSTEM ${command} VIEW \`${store.database}\`.${view}` })
    }
    benchLog(`built ${view} (${((performance.now() - started) / 1000).toFixed(1)} s so far)`)
  }
  for (;;) {
    const [pending] = await queryRows<{ mutations: number }>(
      store,
      'SELECT count() AS mutations FROM system.mutations WHERE database = {database:String} AND NOT is_done',
    )
    if (Number(pending?.mutations ?? 0) === 0) break
    await new Promise((resolve) => setTimeout(resolve, 1000))
  }
  // A resolver cycle builds what the new migrations left empty (the identity graph, the derived tables), as the
  // pipeline's first cycle after an upgrade would, before anything is measured.
  const run = await runIdentityResolution(store, { rules: defaultIdentityRules, logger })
  benchLog(
    `migrations ${applied.join(', ')} applied to the kept store; first cycle: ${run.mode}, ${run.milliseconds} ms`,
  )
}

/** Loads the simulated history a shard of customers at a time (memory stays flat), then resolves and builds views. */
async function load(
  store: Store,
  options: LoadedStoreOptions & { customers: number; start: number },
): Promise<{ events: number; loadSeconds: number; resolveSeconds: number; persons: number }> {
  const { customers, days, start, hasher, logger } = options
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
        seed: loadedSeed,
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
    benchLog(`loaded ${events} events (${Math.min(customers, from + shard)} of ${customers} customers)`)
  }
  const loadSeconds = (performance.now() - loadStart) / 1000
  const resolveStart = performance.now()
  const resolution = await runIdentityResolution(store, { rules: defaultIdentityRules, logger })
  const resolveSeconds = (performance.now() - resolveStart) / 1000
  benchLog(`identities and views in ${resolveSeconds.toFixed(1)} s (${resolution.persons} persons)`)
  return { events, loadSeconds, resolveSeconds, persons: resolution.persons }
}
