import { tableFromIPC } from 'apache-arrow'
import { parse } from 'csv-parse/sync'
import type { FastifyInstance } from 'fastify'
import { expect } from 'vitest'
import { defaultIdentityRules } from '../consumers/identity-graph.ts'
import { runIdentityResolution } from '../consumers/identity-resolver.ts'
import { toTouchpointRow } from '../consumers/touchpoint-row.ts'
import { migrate } from '../runtime/clickhouse-migrations.ts'
import type { Store } from '../runtime/clickhouse-store.ts'
import type { CapturedEvent } from '../schemas/capture-events.ts'
import { buildApiServer, type ApiServerOptions } from '../queries/api-server.ts'
import { arrowStreamType } from '../queries/tabular.ts'
import { asReader, openTestStore, testApiKeys, testHasher, testLogger } from './helpers.ts'

/** Stores events as the loader would (one partition, offsets in order), without Kafka. */
export async function storeEvents(store: Store, events: readonly Exclude<CapturedEvent, { family: 'ad-cost' }>[]) {
  const rows = events.map((item, index) =>
    toTouchpointRow(item, { topic: 't', partition: 0, offset: String(index), schemaId: 1 }),
  )
  await store.client.insert({ table: `${store.database}.touchpoints`, values: rows, format: 'JSONEachRow' })
}

/** The metrics API on a store, with the test keys and hasher and Kafka taken as up, ready for `inject`. */
export async function testApiServer(store: Store, options: Partial<ApiServerOptions> = {}) {
  const app = await buildApiServer({
    store,
    logger: testLogger,
    checkKafka: async () => undefined,
    apiKeys: testApiKeys,
    hasher: testHasher,
    ...options,
  })
  await app.ready()
  return app
}

/** A row with each value as its column's type, whether it came as JSON, CSV text or Arrow: null for an empty number. */
export const typedRow =
  (columns: readonly { readonly name: string; readonly type: 'number' | 'text' }[]) =>
  (row: object): Record<string, string | number | null> => {
    const values = row as Record<string, unknown>
    return Object.fromEntries(
      columns.map((column): [string, string | number | null] => {
        const raw = values[column.name]
        if (column.type === 'text') return [column.name, String(raw)]
        return [column.name, raw === null || raw === '' || raw === undefined ? null : Number(raw)]
      }),
    )
  }

/**
 * Expects a metric route to give `expected` (the rows of its JSON answer) as CSV and as an Arrow stream alike, each
 * asked for by the `format` parameter and by the Accept header, with the columns in order.
 */
export async function expectRowsAsCsvAndArrow(
  app: FastifyInstance,
  url: string,
  columns: readonly { readonly name: string; readonly type: 'number' | 'text' }[],
  expected: readonly object[],
): Promise<void> {
  const names = columns.map((column) => column.name)
  const typed = typedRow(columns)
  const separator = url.includes('?') ? '&' : '?'
  for (const request of [
    { url: `${url}${separator}format=csv`, headers: asReader },
    { url, headers: { ...asReader, accept: 'text/csv' } },
  ]) {
    const response = await app.inject(request)
    expect(response.headers['content-type'], request.url).toMatch(/^text\/csv/)
    const rows = parse<Record<string, string>>(response.body, { columns: true })
    expect(Object.keys(rows[0] ?? {})).toEqual(names)
    expect(rows.map(typed)).toEqual(expected.map(typed))
  }
  for (const request of [
    { url: `${url}${separator}format=arrow`, headers: asReader },
    { url, headers: { ...asReader, accept: arrowStreamType } },
  ]) {
    const response = await app.inject(request)
    expect(response.headers['content-type'], request.url).toBe(arrowStreamType)
    const table = tableFromIPC(response.rawPayload)
    expect(table.schema.fields.map((field) => field.name)).toEqual(names)
    const rows = (table.toArray() as { toJSON(): Record<string, unknown> }[]).map((row) => typed(row.toJSON()))
    expect(rows).toEqual(expected.map(typed))
  }
}

/**
 * A freshly migrated store holding `events`, identities resolved (which refreshes the views), and the API on it: what
 * a route test sets up before its cases. `close` closes both.
 */
export async function apiOnEvents(
  events: readonly Exclude<CapturedEvent, { family: 'ad-cost' }>[],
  options: Partial<ApiServerOptions> = {},
): Promise<{ store: Store; app: FastifyInstance; close: () => Promise<void> }> {
  const store = await openTestStore()
  await migrate(store, { logger: testLogger })
  await storeEvents(store, events)
  await runIdentityResolution(store, { rules: defaultIdentityRules, logger: testLogger })
  const app = await testApiServer(store, options)
  return {
    store,
    app,
    close: async () => {
      await app.close()
      await store.close()
    },
  }
}
