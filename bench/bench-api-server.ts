// The metrics API as the API and freshness benchmarks call it: the real server, called through fastify inject (no
// network in the way) with a reader key, and the endpoints bench:api times.
import type { FastifyInstance } from 'fastify'
import type { IdentifierHasher } from '../producers/identifier-hashing.ts'
import { buildApiServer } from '../queries/api-server.ts'
import { queryRows, type Store } from '../runtime/clickhouse-store.ts'
import type { Logger } from '../runtime/logger.ts'

const key = 'bench-reader-key-0123456789'

export interface BenchApi {
  readonly app: FastifyInstance
  /** GET `url` with the reader key; answers the status and the body. */
  get(url: string): Promise<{ statusCode: number; body: string }>
  close(): Promise<void>
}

/** The API server over `store` with a reader key and no rate limit to speak of. */
export async function openBenchApi(store: Store, hasher: IdentifierHasher, logger: Logger): Promise<BenchApi> {
  const app = await buildApiServer({
    store,
    logger,
    checkKafka: async () => undefined,
    apiKeys: { [key]: 'reader' },
    hasher,
    rateLimitPerMinute: 1_000_000,
  })
  return {
    app,
    get: (url) => app.inject({ url, headers: { authorization: `Bearer ${key}` } }),
    close: () => app.close(),
  }
}

/** A stored customer id (`customer_id:…`, as in identity_map) for the person endpoint, or '' in an empty store. */
export async function someCustomerIdentifier(store: Store): Promise<string> {
  const [someone] = await queryRows<{ identifier: string }>(
    store,
    "SELECT identifier FROM {database:Identifier}.identity_map WHERE kind = 'customer_id' LIMIT 1",
  )
  return someone?.identifier ?? ''
}

/** The timed endpoints, by name. */
export type EndpointName =
  | 'attribution'
  | 'attribution_all_models'
  | 'channel_switch'
  | 'ltv'
  | 'ltv_predictive'
  | 'paths_top'
  | 'funnels'
  | 'stats_channels'
  | 'person'

/**
 * The URL of each endpoint bench:api times, over the range in `query` (`from=…&to=…`), the person one for
 * `identifier` (as stored: `customer_id:…`).
 */
export function benchEndpointUrls(query: string, identifier: string): Record<EndpointName, string> {
  const personId = identifier.replace(/^customer_id:/, 'customer:')
  return {
    attribution: `/v1/attribution?${query}&models=last_touch,linear,markov,shapley`,
    // A request without `models`: all nine, time decay and ordered Shapley included.
    attribution_all_models: `/v1/attribution?${query}`,
    channel_switch: `/v1/channel-switch?${query}`,
    ltv: `/v1/ltv?${query}`,
    ltv_predictive: `/v1/ltv/predictive?${query}`,
    paths_top: `/v1/paths/top?${query}`,
    funnels: `/v1/funnels?${query}&steps=page_view,add_to_cart,order_created`,
    stats_channels: `/v1/stats/channels?${query}`,
    person: `/v1/persons/${encodeURIComponent(personId)}`,
  }
}

/** The value at quantile `p` of sorted numbers (the nearest rank below), 0 for none. */
export function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0
}
