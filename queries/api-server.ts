import rateLimit from '@fastify/rate-limit'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import Fastify, { type FastifyBaseLogger, type FastifyError, type FastifyInstance } from 'fastify'
import { derivedViews, refreshDerivedViews } from '../consumers/identity-resolver.ts'
import type { IdentifierHasher } from '../producers/identifier-hashing.ts'
import { queryRows, type Store } from '../runtime/clickhouse-store.ts'
import { OmnistitchError, describeError } from '../runtime/errors.ts'
import type { Logger } from '../runtime/logger.ts'
import type { Registry } from 'prom-client'
import { apiKeyOf, authorize, type ApiScope } from './api-keys.ts'
import { registerAttributionRoute } from './attribution-route.ts'
import { registerChannelSwitchRoute } from './channel-switch-route.ts'
import { registerDashboard, type DashboardOptions } from '../dashboards/server.ts'
import { registerLtvRoute, registerPredictiveLtvRoute } from './ltv-route.ts'
import { registerOverviewRoute } from './overview-route.ts'
import { registerPathAndFunnelRoutes } from './paths-funnels-route.ts'
import { registerPersonListRoute } from './person-list-route.ts'
import { registerPersonRoute } from './person-route.ts'
import { registerPipelineHealthRoute } from './pipeline-health-route.ts'
import { loadRangeSql } from './sql-files.ts'
import { rangeAndFormatQuerystring, requestedFormat, sendTable, type TableFormat } from './tabular.ts'
import { timeRangeOf } from './time-range.ts'

export interface ApiServerOptions {
  readonly store: Store
  readonly logger: Logger
  /** Resolves when Kafka answers a metadata request; rejects with the reason otherwise. */
  readonly checkKafka: () => Promise<void>
  /** Served at `/metrics` in the Prometheus text format when given. */
  readonly metrics?: Registry | undefined
  /** The keys that may call `/v1/*`, with their scopes (see resolveApiKeys). */
  readonly apiKeys: Readonly<Record<string, ApiScope>>
  /**
   * Where metric queries run: a client as a read-only ClickHouse user (server mode with CLICKHOUSE_API_USER). Without
   * it they run on `store`, each with `readonly = 2`, so the engine refuses any write or DDL in them.
   */
  readonly readOnlyStore?: Store | undefined
  /** Hashes e-mails and phones in person lookups exactly as the collector does. */
  readonly hasher: IdentifierHasher
  /** Requests a minute one key may make before 429 (default 600). */
  readonly rateLimitPerMinute?: number
  /**
   * Serves the web dashboard (`dashboards/web`) at `/` when given (`start` and `serve` turn it on): `true`, or its
   * options (a reader key for browsers on this machine).
   */
  readonly dashboard?: boolean | DashboardOptions
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The scope a route needs; routes without one (health, readiness, metrics, docs) are open. */
    scope?: ApiScope
  }
}

const channelStatsSql = loadRangeSql('channel-stats')
const channelStatsColumns = [
  { name: 'channel', type: 'text' },
  { name: 'events', type: 'number' },
  { name: 'persons', type: 'number' },
] as const

/** Settings on every metric query: a bounded cost, whatever the request. */
const boundedCost = { max_execution_time: 30, max_memory_usage: '2000000000' } as const

const errorSchema = {
  type: 'object',
  properties: {
    error: {
      type: 'object',
      properties: { code: { type: 'string' }, message: { type: 'string' } },
      required: ['code', 'message'],
    },
  },
} as const

/**
 * The HTTP API. Routes are defined with JSON schemas for their input and output (OpenAPI at `/docs`); bad input is
 * answered with 400 and an error naming the parameter. `/v1/*` needs an API key (`Authorization: Bearer <key>`) whose
 * scope reaches the route, and is rate-limited per key; every metric query runs with time and memory limits.
 */
export async function buildApiServer(options: ApiServerOptions): Promise<FastifyInstance> {
  const logger: FastifyBaseLogger = options.logger.child({ component: 'api' })
  const metricsStore = options.readOnlyStore ?? options.store
  // A user whose profile says readonly = 1 may not set readonly at all; anyone else gets readonly = 2 per query.
  const metricQuerySettings = options.readOnlyStore === undefined ? { ...boundedCost, readonly: '2' } : boundedCost
  const app = Fastify({
    loggerInstance: logger,
    bodyLimit: 1024 * 1024,
    ajv: { customOptions: { allErrors: false, coerceTypes: true, removeAdditional: false } },
  })

  await app.register(swagger, {
    openapi: {
      info: {
        title: 'Omnistitch metrics API',
        version: '1',
        description:
          'Attribution and channel metrics over stitched customer journeys. Authenticate with an API key: ' +
          '`Authorization: Bearer <key>`; scope `reader` reads, `admin` also runs admin routes. Metric routes answer ' +
          'JSON, or their rows as CSV or an Apache Arrow stream (`format`, or the Accept header).',
      },
      components: { securitySchemes: { apiKey: { type: 'http', scheme: 'bearer' } } },
    },
    transform: ({ schema, url, route }) => ({
      schema: route.config?.scope === undefined ? schema : { ...schema, security: [{ apiKey: [] }] },
      url,
    }),
  })
  await app.register(swaggerUi, { routePrefix: '/docs' })
  await app.register(rateLimit, {
    global: false,
    max: options.rateLimitPerMinute ?? 600,
    timeWindow: 60_000,
    keyGenerator: (request) => apiKeyOf(request) ?? request.ip,
  })
  // Keys first, then the rate limit of the key (the rate-limit plugin runs on onRequest too, after this hook).
  app.addHook('onRequest', async (request) => {
    const scope = request.routeOptions.config.scope
    if (scope !== undefined) authorize(request, options.apiKeys, scope)
  })

  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error.validation) {
      const first = error.validation[0]
      const where = error.validationContext ?? 'request'
      const params = (first?.params ?? {}) as { missingProperty?: string; additionalProperty?: string }
      const message =
        params.additionalProperty !== undefined
          ? `${where} parameter "${params.additionalProperty}" is not accepted here`
          : `${where} parameter "${first?.instancePath.replace(/^\//, '').replace(/\//g, '.') || params.missingProperty || '?'}" ${first?.message ?? 'is invalid'}`
      return reply.status(400).send({ error: { code: 'OMNI_ERR_API_BAD_PARAMETER', message } })
    }
    if (error instanceof OmnistitchError) {
      return reply.status(error.status).send({ error: { code: error.code, message: error.message } })
    }
    if (error.statusCode === 429) {
      return reply.status(429).send({ error: { code: 'OMNI_ERR_API_RATE_LIMITED', message: error.message } })
    }
    request.log.error({ err: error }, 'request failed')
    return reply
      .status(500)
      .send({ error: { code: 'OMNI_ERR_INTERNAL', message: 'internal error; see the server log' } })
  })

  app.get(
    '/healthz',
    { schema: { response: { 200: { type: 'object', properties: { status: { type: 'string' } } } } } },
    () => ({
      status: 'ok',
    }),
  )

  const metrics = options.metrics
  if (metrics !== undefined) {
    app.get('/metrics', { logLevel: 'warn' }, async (_request, reply) =>
      reply.type(metrics.contentType).send(await metrics.metrics()),
    )
  }

  app.get('/readyz', async (_request, reply) => {
    const [kafka, clickhouse] = await Promise.all([
      settle(options.checkKafka()),
      settle(
        options.store.client
          .query({ query: 'SELECT 1', format: 'JSONEachRow' })
          .then((result) => result.json())
          .then(() => undefined),
      ),
    ])
    const ready = kafka === 'ok' && clickhouse === 'ok'
    return reply
      .status(ready ? 200 : 503)
      .send({ status: ready ? 'ready' : 'not ready', checks: { kafka, clickhouse } })
  })

  app.get<{ Querystring: { from?: string; to?: string; format?: TableFormat } }>(
    '/v1/stats/channels',
    {
      config: { scope: 'reader', rateLimit: {} },
      schema: {
        description: 'Events and distinct persons per channel in a time range.',
        querystring: rangeAndFormatQuerystring,
        response: {
          200: {
            type: 'object',
            properties: {
              from: { type: 'string' },
              to: { type: 'string' },
              channels: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: {
                    channel: { type: 'string' },
                    events: { type: 'integer' },
                    persons: { type: 'integer' },
                  },
                },
              },
            },
          },
          400: errorSchema,
        },
      },
    },
    async (request, reply) => {
      const range = timeRangeOf(request.query)
      const channels = await queryRows<{ channel: string; events: number; persons: number }>(
        metricsStore,
        channelStatsSql.for(range),
        range.params,
        metricQuerySettings,
      )
      const format = requestedFormat(request)
      if (format === 'json') return { from: range.from, to: range.to, channels }
      return sendTable(reply, format, channelStatsColumns, channels)
    },
  )

  registerAttributionRoute(app, metricsStore, metricQuerySettings)
  registerChannelSwitchRoute(app, metricsStore, metricQuerySettings)
  registerPersonListRoute(app, metricsStore, metricQuerySettings)
  registerPersonRoute(app, metricsStore, options.hasher, metricQuerySettings)
  registerPathAndFunnelRoutes(app, metricsStore, metricQuerySettings)
  registerLtvRoute(app, metricsStore, metricQuerySettings)
  registerPredictiveLtvRoute(app, metricsStore, metricQuerySettings)
  registerOverviewRoute(app, metricsStore, metricQuerySettings)
  registerPipelineHealthRoute(app, metricsStore, metricQuerySettings, options.metrics)

  app.post(
    '/v1/admin/refresh',
    {
      config: { scope: 'admin', rateLimit: {} },
      schema: {
        description:
          'Recompute orders, journeys, persons and daily channel figures now, instead of at the next refresh.',
        response: {
          200: {
            type: 'object',
            properties: { refreshed: { type: 'array', items: { type: 'string' } }, seconds: { type: 'number' } },
          },
        },
      },
    },
    async () => {
      const started = performance.now()
      await refreshDerivedViews(options.store)
      return { refreshed: [...derivedViews], seconds: Number(((performance.now() - started) / 1000).toFixed(3)) }
    },
  )

  if (options.dashboard !== undefined && options.dashboard !== false) {
    await registerDashboard(app, options.dashboard === true ? {} : options.dashboard)
  }

  return app
}

async function settle(check: Promise<void>): Promise<string> {
  try {
    await check
    return 'ok'
  } catch (error) {
    return describeError(error)
  }
}
