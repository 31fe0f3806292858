import { toTouchpointRow } from '../consumers/touchpoint-row.ts'
import type { Store } from '../runtime/clickhouse-store.ts'
import type { CapturedEvent } from '../schemas/capture-events.ts'
import { buildApiServer, type ApiServerOptions } from '../queries/api-server.ts'
import { testApiKeys, testHasher, testLogger } from './helpers.ts'

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
