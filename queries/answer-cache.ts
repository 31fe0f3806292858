import type { FastifyInstance, FastifyRequest } from 'fastify'
import { queryRows, type Store } from '../runtime/clickhouse-store.ts'
import { timeRangeOf } from './time-range.ts'

/**
 * The answers of metric routes over whole days, kept per version of the data they read (docs/ARCHITECTURE.md, D23).
 * Over whole days these routes read only the tables a resolver cycle writes, plus ad costs: their answer cannot change
 * until a cycle finishes or costs arrive, however many events are loaded meanwhile. A dashboard asking again gets the
 * same bytes without running the queries again, which embedded mode would queue in front of the cycle's own
 * statements (one statement at a time). The version is read for every request (the newest finished cycle and the
 * newest cost row), so an answer is never older than the data it stands for.
 */

/** The routes, and which of their requests are answered from the cycle's tables (the others read events). */
const cachedRoutes: Readonly<Record<string, (query: Record<string, unknown>) => boolean>> = {
  // Journeys cut another way than the stored settings are built from the events for the request.
  '/v1/attribution': (query) => query['conversion_types'] === undefined && query['lookback_days'] === undefined,
  '/v1/channel-switch': () => true,
  '/v1/paths/top': () => true,
  '/v1/funnels': () => true,
  '/v1/stats/channels': () => true,
  '/v1/ltv': () => true,
}

const versionSql = `SELECT
    toString((SELECT max(version) FROM {database:Identifier}.identity_runs WHERE finished = 1)) AS cycle,
    toString((SELECT max(loaded_at) FROM {database:Identifier}.ad_costs)) AS costs,
    toString((SELECT count() FROM {database:Identifier}.ad_costs)) AS cost_rows`

interface Answer {
  readonly type: string
  readonly payload: string | Buffer
}

/** The key of a request's answer, or undefined when the request is not answered from the cycle's tables. */
function keyOf(request: FastifyRequest): string | undefined {
  const route = request.routeOptions.url ?? ''
  const query = (request.query ?? {}) as Record<string, unknown>
  if (request.method !== 'GET' || cachedRoutes[route]?.(query) !== true) return undefined
  let range
  try {
    range = timeRangeOf(query)
  } catch {
    return undefined
  }
  if (!range.wholeDays) return undefined
  // The range as resolved (a missing `to` is the end of today, which moves at midnight), then the other parameters.
  const rest = Object.entries(query).filter(([name]) => name !== 'from' && name !== 'to')
  rest.sort(([a], [b]) => a.localeCompare(b))
  return JSON.stringify([route, range.from, range.to, rest, request.headers.accept ?? ''])
}

/**
 * Serves repeated whole-day metric requests from memory while the data version holds. At most `entries` answers
 * (and `maxBytes` in all) are kept, the least recently used going first; an answer is kept only for the version read
 * before it was computed. Says `x-omnistitch-cache: hit` or `miss`.
 */
export function registerAnswerCache(
  app: FastifyInstance,
  store: Store,
  settings: Record<string, string | number>,
  { entries = 200, maxBytes = 64 * 2 ** 20 }: { entries?: number; maxBytes?: number } = {},
): void {
  const kept = new Map<string, Answer>()
  let keptBytes = 0
  const pending = new WeakMap<FastifyRequest, string>()
  const sizeOf = (answer: Answer) =>
    typeof answer.payload === 'string' ? answer.payload.length : answer.payload.length

  app.addHook('preHandler', async (request, reply) => {
    const key = keyOf(request)
    if (key === undefined) return undefined
    // Without a version nothing is kept or served: the route answers as it would without the cache.
    const [version] = await queryRows<{ cycle: string; costs: string; cost_rows: string }>(
      store,
      versionSql,
      {},
      settings,
    ).catch((error: unknown) => {
      request.log.warn({ err: error }, 'answer cache: data version not read')
      return []
    })
    if (version === undefined) return undefined
    const versioned = `${version?.cycle ?? ''}/${version?.costs ?? ''}/${version?.cost_rows ?? ''}\n${key}`
    const answer = kept.get(versioned)
    if (answer === undefined) {
      pending.set(request, versioned)
      void reply.header('x-omnistitch-cache', 'miss')
      return undefined
    }
    kept.delete(versioned)
    kept.set(versioned, answer)
    return reply.header('x-omnistitch-cache', 'hit').type(answer.type).send(answer.payload)
  })

  app.addHook('onSend', async (request, reply, payload) => {
    const key = pending.get(request)
    if (key === undefined || reply.statusCode !== 200) return payload
    if (typeof payload !== 'string' && !Buffer.isBuffer(payload)) return payload
    const answer = { type: String(reply.getHeader('content-type') ?? 'application/json'), payload }
    if (sizeOf(answer) > maxBytes / 4) return payload
    kept.set(key, answer)
    keptBytes += sizeOf(answer)
    for (const [old, oldAnswer] of kept) {
      if (kept.size <= entries && keptBytes <= maxBytes) break
      kept.delete(old)
      keptBytes -= sizeOf(oldAnswer)
    }
    return payload
  })
}
