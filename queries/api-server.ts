import rateLimit from '@fastify/rate-limit'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify'
import { derivedTables } from '../consumers/derived-data.ts'
import { resolveUnderLease } from '../consumers/identity-scheduler.ts'
import type { IdentifierHasher } from '../producers/identifier-hashing.ts'
import { queryRows, type Store } from '../runtime/clickhouse-store.ts'
import { OmnistitchError, describeError, errorCatalogue, type ErrorCode } from '../runtime/errors.ts'
import type { Logger } from '../runtime/logger.ts'
import type { Registry } from 'prom-client'
import { apiKeyOf, authorize, type ApiScope } from './api-keys.ts'
import { registerAnswerCache } from './answer-cache.ts'
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
import {
  errorAnswers,
  metricAnswers,
  rangeAndFormatQuerystring,
  requestedFormat,
  sendTable,
  type TableFormat,
} from './tabular.ts'
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
  /**
   * Runs a resolver cycle now (identities, then orders, journeys, persons and daily figures), for `POST
   * /v1/admin/refresh`: the consumer's scheduler in `start`. Without it the route runs one itself when no consumer holds
   * the identity lease.
   */
  readonly refresh?: (() => Promise<unknown>) | undefined
  /** How long at least between two background refits of one predictive LTV range (default a minute; D28). */
  readonly ltvRefitMs?: number
  /** Whole-day metric answers kept per data version (queries/answer-cache.ts; default on). */
  readonly answerCache?: boolean
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

/** The longest path parameter the router takes; the route's schema may allow less (a person identifier: 512). */
const maxParamLength = 1024

/** What a refused request is answered with: an error of the catalogue and a message naming what is wrong. */
interface ClientError {
  readonly code: ErrorCode
  readonly message: string
}

const badParameter = (message: string): ClientError => ({ code: 'OMNI_ERR_API_BAD_PARAMETER', message })

/** The message of a schema validation failure: where, which parameter, and what it must be. */
function validationMessage(error: FastifyError): string {
  const first = error.validation?.[0]
  const where = error.validationContext === 'params' ? 'path' : (error.validationContext ?? 'request')
  const params = (first?.params ?? {}) as {
    missingProperty?: string
    additionalProperty?: string
    allowedValues?: readonly unknown[]
  }
  if (params.additionalProperty !== undefined)
    return `${where} parameter "${params.additionalProperty}" is not accepted here`
  const name = first?.instancePath.replace(/^\//, '').replace(/\//g, '.') || params.missingProperty || '?'
  const allowed = params.allowedValues === undefined ? '' : `: ${params.allowedValues.join(', ')}`
  return `${where} parameter "${name}" ${first?.message ?? 'is invalid'}${allowed}`
}

/**
 * The client error a failure is, or undefined for a failure of the server (answered 500 and logged as an error).
 * Fastify and its plugins raise 4xx errors of their own (a body that is not JSON, a content type no parser reads, a
 * body over the limit, `..` in a static path): each is mapped to a code of the catalogue, so that every refusal has
 * the API's shape and none is taken for a server error.
 */
function clientErrorOf(error: FastifyError, request: FastifyRequest, bodyLimit: number): ClientError | undefined {
  if (error.validation) return badParameter(validationMessage(error))
  if (error instanceof OmnistitchError) return { code: error.code, message: error.message }
  const status = error.statusCode ?? 500
  if (status === 429) return { code: 'OMNI_ERR_API_RATE_LIMITED', message: error.message }
  if (status === 413) {
    return { code: 'OMNI_ERR_API_TOO_LARGE', message: `the request body is over the limit of ${bodyLimit} bytes` }
  }
  if (status === 415) {
    const type = String(request.headers['content-type'] ?? 'none').slice(0, 100)
    return {
      code: 'OMNI_ERR_API_UNSUPPORTED_MEDIA_TYPE',
      message: `request body: content-type "${type}" is not read here; send application/json, or no body`,
    }
  }
  if (status === 404 || error.code === 'FST_STATIC_FORBIDDEN_PATH') {
    return { code: 'OMNI_ERR_API_NOT_FOUND', message: 'no such file' }
  }
  if (error.code === 'FST_ERR_MAX_PARAM_LENGTH') {
    return badParameter(`path parameter: expected at most ${maxParamLength} characters`)
  }
  if (error.code === 'FST_ERR_BAD_URL') {
    return { code: 'OMNI_ERR_API_BAD_REQUEST', message: 'the URL path is not valid percent-encoding' }
  }
  if (error.code === 'FST_ERR_CTP_INVALID_JSON_BODY') {
    return {
      code: 'OMNI_ERR_API_BAD_REQUEST',
      message: 'request body: expected JSON, as its content-type says, without __proto__ or constructor.prototype keys',
    }
  }
  if (status >= 400 && status < 500) {
    const where = error.code?.startsWith('FST_ERR_CTP_') === true ? 'request body: ' : ''
    return { code: 'OMNI_ERR_API_BAD_REQUEST', message: `${where}${error.message}` }
  }
  return undefined
}

/**
 * Answers a failed request: a client error with its status and `{ error: { code, message } }`, logged at info like
 * any refused request; anything else with 500 and a message that gives nothing away, logged as an error.
 */
function answerError(error: FastifyError, request: FastifyRequest, reply: FastifyReply, bodyLimit: number) {
  const refused = clientErrorOf(error, request, bodyLimit)
  if (refused !== undefined) {
    request.log.info({ code: refused.code }, 'request refused')
    return reply.status(errorCatalogue[refused.code].status).send({ error: refused })
  }
  request.log.error({ err: error }, 'request failed')
  return reply.status(500).send({ error: { code: 'OMNI_ERR_INTERNAL', message: 'internal error; see the server log' } })
}

/** `> 0`, `>= 1 and <= 3`: the bounds a number schema sets, for a message. */
function boundsOf(schema: Record<string, unknown> | undefined): string {
  const bounds: [string, unknown][] = [
    ['>', schema?.['exclusiveMinimum']],
    ['>=', schema?.['minimum']],
    ['<', schema?.['exclusiveMaximum']],
    ['<=', schema?.['maximum']],
  ]
  return bounds
    .filter((bound): bound is [string, number] => typeof bound[1] === 'number')
    .map(([relation, value]) => ` ${relation} ${value}`)
    .join(' and')
}

/**
 * Ajv turns "Infinity", "-Infinity" or "1e400" in a querystring into a non-finite number and then checks `minimum`
 * and `maximum` on finite numbers only, so such a value would pass the schema and reach the SQL parameters. Refused
 * here, after validation, naming the parameter and the bounds its schema sets.
 */
function refuseNonFiniteNumbers(request: FastifyRequest): void {
  const schema = request.routeOptions.schema as
    { querystring?: { properties?: Record<string, Record<string, unknown>> } } | undefined
  for (const [where, values] of [
    ['querystring', request.query],
    ['path', request.params],
  ] as const) {
    for (const [name, value] of Object.entries((values ?? {}) as Record<string, unknown>)) {
      if (typeof value === 'number' && !Number.isFinite(value)) {
        const property = where === 'querystring' ? schema?.querystring?.properties?.[name] : undefined
        throw new OmnistitchError(
          'OMNI_ERR_API_BAD_PARAMETER',
          `${where} parameter "${name}" must be a finite number${boundsOf(property)}`,
        )
      }
    }
  }
}

/**
 * A route schema in the form of OpenAPI 3.0, for the document: Fastify validates with JSON Schema draft 7, whose
 * `exclusiveMinimum: 0` is a number; in OpenAPI 3.0 it is a boolean beside `minimum`. (@fastify/swagger turns
 * `type: [x, 'null']` into `nullable` itself.)
 */
export function openApi30Schema(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(openApi30Schema)
  if (typeof schema !== 'object' || schema === null) return schema
  const converted: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(schema)) converted[key] = openApi30Schema(value)
  for (const [exclusive, inclusive, stricter] of [
    ['exclusiveMinimum', 'minimum', (a: number, b: number) => a >= b],
    ['exclusiveMaximum', 'maximum', (a: number, b: number) => a <= b],
  ] as const) {
    const bound = converted[exclusive]
    if (typeof bound !== 'number') continue
    const other = converted[inclusive]
    if (typeof other === 'number' && !stricter(bound, other)) delete converted[exclusive]
    else Object.assign(converted, { [inclusive]: bound, [exclusive]: true })
  }
  return converted
}

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
  const bodyLimit = 1024 * 1024
  const app = Fastify({
    loggerInstance: logger,
    bodyLimit,
    routerOptions: { maxParamLength },
    // A person lookup's path can hold a raw e-mail or phone number: its route logs at warn, and a lookup refused
    // before routing (a bad URL encoding, an over-long identifier) must not log the path at info either.
    logController: new LogController({ disableRequestLogging: (request) => request.url.startsWith('/v1/persons/') }),
    ajv: { customOptions: { allErrors: false, coerceTypes: true, removeAdditional: false } },
    // A URL the router cannot decode, or a path parameter over maxParamLength: refused in the API's error shape too.
    frameworkErrors: (error, request, reply) => void answerError(error, request, reply, bodyLimit),
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
      schema: openApi30Schema(
        route.config?.scope === undefined ? schema : { ...schema, security: [{ apiKey: [] }] },
      ) as typeof schema,
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

  app.addHook('preHandler', async (request) => refuseNonFiniteNumbers(request))
  if (options.answerCache !== false) registerAnswerCache(app, metricsStore, metricQuerySettings)

  app.setErrorHandler((error: FastifyError, request, reply) => answerError(error, request, reply, bodyLimit))
  app.setNotFoundHandler((request, reply) => {
    request.log.info({ code: 'OMNI_ERR_API_NOT_FOUND' }, 'request refused')
    const path = request.url.split('?')[0]?.slice(0, 200) ?? ''
    return reply.status(404).send({
      error: {
        code: 'OMNI_ERR_API_NOT_FOUND',
        message: `no route ${request.method} ${path}; the routes are listed at /docs`,
      },
    })
  })

  app.get(
    '/healthz',
    {
      schema: {
        description: 'Liveness: answers while the process serves requests.',
        response: { 200: { description: 'Alive.', type: 'object', properties: { status: { type: 'string' } } } },
      },
    },
    () => ({
      status: 'ok',
    }),
  )

  const metrics = options.metrics
  if (metrics !== undefined) {
    app.get(
      '/metrics',
      {
        logLevel: 'warn',
        schema: {
          description: "This process's metrics in the Prometheus text format.",
          response: {
            200: {
              description: 'The metrics.',
              content: { 'text/plain': { schema: { type: 'string' } } },
            },
          },
        },
      },
      async (_request, reply) => reply.type(metrics.contentType).send(await metrics.metrics()),
    )
  }

  const readiness = {
    type: 'object',
    properties: {
      status: { type: 'string', enum: ['ready', 'not ready'] },
      checks: {
        type: 'object',
        description: 'Per dependency (kafka, clickhouse): ok, or why it is not reachable.',
        additionalProperties: { type: 'string' },
      },
    },
  } as const
  app.get(
    '/readyz',
    {
      schema: {
        description: 'Readiness: whether Kafka and ClickHouse answer.',
        response: {
          200: { description: 'Both answer.', ...readiness },
          503: { description: 'One of them does not; its check says why.', ...readiness },
        },
      },
    },
    async (_request, reply) => {
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
    },
  )

  app.get<{ Querystring: { from?: string; to?: string; format?: TableFormat } }>(
    '/v1/stats/channels',
    {
      config: { scope: 'reader', rateLimit: {} },
      schema: {
        description: 'Events and distinct persons per channel in a time range.',
        querystring: rangeAndFormatQuerystring,
        response: metricAnswers('Per channel: events and distinct persons.', {
          json: {
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
        }),
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
  registerPredictiveLtvRoute(app, metricsStore, metricQuerySettings, options.ltvRefitMs)
  registerOverviewRoute(app, metricsStore, metricQuerySettings)
  registerPipelineHealthRoute(app, metricsStore, metricQuerySettings, options.metrics)

  app.post(
    '/v1/admin/refresh',
    {
      config: { scope: 'admin', rateLimit: {} },
      schema: {
        description:
          'Run a resolver cycle now (identities, then orders, journeys, persons and daily channel figures for what arrived), instead of at the next interval. When another process leads the resolver, nothing is run here (refreshed is empty): it runs at its own next interval.',
        response: {
          200: {
            description: 'The tables refreshed, and how long it took.',
            type: 'object',
            properties: { refreshed: { type: 'array', items: { type: 'string' } }, seconds: { type: 'number' } },
          },
          ...errorAnswers([
            'OMNI_ERR_API_BAD_REQUEST',
            'OMNI_ERR_API_UNAUTHORIZED',
            'OMNI_ERR_API_FORBIDDEN',
            'OMNI_ERR_API_TOO_LARGE',
            'OMNI_ERR_API_UNSUPPORTED_MEDIA_TYPE',
            'OMNI_ERR_API_RATE_LIMITED',
          ]),
        },
      },
    },
    async () => {
      const started = performance.now()
      const ran =
        options.refresh === undefined
          ? (await resolveUnderLease(options.store, options.logger)) !== undefined
          : (await options.refresh(), true)
      // When another process leads the resolver, it refreshes at its next interval: nothing was refreshed here.
      return {
        refreshed: ran ? [...derivedTables] : [],
        seconds: Number(((performance.now() - started) / 1000).toFixed(3)),
      }
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
