import Fastify, {
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify'
import rateLimit from '@fastify/rate-limit'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import { OmnistitchError, describeError } from '../runtime/errors.ts'
import { ownValue, valueOfSecret } from '../runtime/key-lookup.ts'
import type { Logger } from '../runtime/logger.ts'
import { eventIdOf, type CapturedEvent } from '../schemas/capture-events.ts'
import type { SchemaRegistry } from '../schemas/schema-registry.ts'
import { intakeEvent, type IntakeError } from './event-intake.ts'
import type { IdentifierHasher } from './identifier-hashing.ts'
import type { TouchpointProducer } from './touchpoint-producer.ts'
import { webhookAdapters, webhookPayloadSchemas, type WebhookAdapter } from './webhook-adapters.ts'

export interface CollectorOptions {
  readonly producer: TouchpointProducer
  readonly registry: SchemaRegistry
  readonly hasher: IdentifierHasher
  /** Write key → the source it stands for. */
  readonly writeKeys: Readonly<Record<string, string>>
  readonly rateLimitPerMinute: number
  readonly maxBodyBytes: number
  readonly logger: Logger
  /** Most events one request may carry. */
  readonly maxBatch?: number
  readonly now?: () => number
  readonly adapters?: Readonly<Record<string, WebhookAdapter>>
  /** How many recently stored event ids the collector remembers to answer a retried request without storing twice. */
  readonly recentIdsCapacity?: number
}

/** The outcome of one event of a request, in request order. */
export type ItemResult =
  | { index: number; status: 'accepted'; event_id: string; duplicate?: true }
  | { index: number; status: 'rejected'; errors: IntakeError[] }

/** What a request's events came to. */
interface CollectOutcome {
  readonly accepted: number
  readonly rejected: number
  readonly results: ItemResult[]
}

const itemResultSchema = {
  type: 'object',
  properties: {
    index: { type: 'integer' },
    status: { type: 'string', enum: ['accepted', 'rejected'] },
    event_id: { type: 'string' },
    duplicate: { type: 'boolean' },
    errors: {
      type: 'array',
      items: { type: 'object', properties: { field: { type: 'string' }, message: { type: 'string' } } },
    },
  },
} as const

const collectResponse = {
  type: 'object',
  properties: {
    accepted: { type: 'integer' },
    rejected: { type: 'integer' },
    results: { type: 'array', items: itemResultSchema },
  },
} as const

const errorBody = { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' } } } as const

const errorResponse = { type: 'object', properties: { error: errorBody } } as const

/** A 400: the request's own fault, or every event of it refused (then with each event's result, as a 202 has). */
const refusedResponse = {
  type: 'object',
  properties: { error: errorBody, ...collectResponse.properties },
} as const

/** Every answer a capture route gives, for its OpenAPI document. */
const collectResponses = {
  202: { description: 'Stored: at least one event accepted; each event has its result', ...collectResponse },
  400: { description: 'A bad request, or every event refused (then with each result)', ...refusedResponse },
  401: { description: 'The write key is missing or unknown', ...errorResponse },
  413: { description: 'The body is larger than OMNISTITCH_COLLECTOR_MAX_BODY_BYTES', ...errorResponse },
  415: { description: 'The body is not application/json', ...errorResponse },
  429: { description: "Over the write key's rate limit", ...errorResponse },
  500: { description: 'A fault in the collector; nothing was stored', ...errorResponse },
  503: { description: 'Kafka did not take the events; retry the request', ...errorResponse },
} as const

/** How deep the collector reads JSON: an event nests a few levels (batch, event, items, item); 32 is ample. */
export const maxJsonDepth = 32

/**
 * Whether JSON text nests objects and arrays deeper than `limit`, found by one pass over its characters (strings
 * skipped) before it is parsed: parsing and checking a value 20,000 levels deep overflows the stack.
 */
export function nestsDeeperThan(text: string, limit: number): boolean {
  let depth = 0
  let inString = false
  for (let at = 0; at < text.length; at++) {
    const char = text.charCodeAt(at)
    if (inString) {
      if (char === 0x5c)
        at++ // backslash: the next character is escaped
      else if (char === 0x22) inString = false
    } else if (char === 0x22) inString = true
    else if (char === 0x7b || char === 0x5b) {
      if (++depth > limit) return true
    } else if (char === 0x7d || char === 0x5d) depth--
  }
  return false
}

/**
 * The capture edge over HTTP. `POST /v1/collect` takes one event, an array, or `{"batch": [...]}` from web and app
 * SDKs and servers; `POST /v1/webhooks/:source` takes the payloads of call tracking, messenger, e-mail service and
 * marketplace integrations and maps them through their adapters. Every event goes through the same intake (family,
 * hashing, event id, validation); the answer is 202 with a result for each event. Events are in Kafka before the
 * answer: a 202 means they are stored, and a client that retries a whole request after a timeout causes no
 * duplicates as long as its events carry `event_id` or `message_id`.
 */
export async function buildCollectorServer(options: CollectorOptions): Promise<FastifyInstance> {
  const logger: FastifyBaseLogger = options.logger.child({ component: 'collector' })
  const maxBatch = options.maxBatch ?? 500
  const adapters = options.adapters ?? webhookAdapters
  const app = Fastify({ loggerInstance: logger, bodyLimit: options.maxBodyBytes })
  const recent = createRecentIds(options.recentIdsCapacity ?? 1_000_000)

  const parseJson = app.getDefaultJsonParser('error', 'error')
  app.removeContentTypeParser('application/json')
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8')
    if (nestsDeeperThan(text, maxJsonDepth)) {
      done(
        new OmnistitchError(
          'OMNI_ERR_COLLECT_TOO_DEEP',
          `request body nests JSON objects and arrays deeper than ${maxJsonDepth} levels`,
        ),
        undefined,
      )
      return
    }
    void parseJson(request, text, done)
  })

  await app.register(swagger, {
    openapi: {
      info: {
        title: 'Omnistitch collector',
        version: '1',
        description:
          'Capture touchpoints from every channel. Authenticate with a write key: `Authorization: Bearer <key>`.',
      },
      components: { securitySchemes: { writeKey: { type: 'http', scheme: 'bearer' } } },
      security: [{ writeKey: [] }],
    },
  })
  await app.register(swaggerUi, { routePrefix: '/docs' })
  await app.register(rateLimit, {
    global: false,
    max: options.rateLimitPerMinute,
    timeWindow: 60_000,
    keyGenerator: (request) => writeKeyOf(request) ?? request.ip,
  })

  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error.statusCode === 413) {
      return reply.status(413).send({
        error: {
          code: 'OMNI_ERR_COLLECT_TOO_LARGE',
          message: `request body is larger than ${options.maxBodyBytes} bytes`,
        },
      })
    }
    if (error.statusCode === 429) {
      return reply.status(429).send({ error: { code: 'OMNI_ERR_COLLECT_RATE_LIMITED', message: error.message } })
    }
    if (error instanceof OmnistitchError) {
      return reply.status(error.status).send({ error: { code: error.code, message: error.message } })
    }
    if (error.statusCode !== undefined && error.statusCode < 500) {
      return reply
        .status(error.statusCode)
        .send({ error: { code: 'OMNI_ERR_COLLECT_BAD_REQUEST', message: error.message } })
    }
    // Not a client's mistake and not Kafka (that is an OmnistitchError above): a fault here. 500 says so; a 503 would
    // send clients into retrying a request that fails the same way every time.
    request.log.error({ err: error }, 'collect failed')
    return reply.status(500).send({
      error: { code: 'OMNI_ERR_INTERNAL', message: 'the request could not be processed; nothing of it was stored' },
    })
  })

  function authenticate(request: FastifyRequest): string {
    const key = writeKeyOf(request)
    const source = key === undefined ? undefined : valueOfSecret(options.writeKeys, key)
    if (source === undefined) {
      throw new OmnistitchError(
        'OMNI_ERR_COLLECT_UNAUTHORIZED',
        key === undefined
          ? 'a write key is required: send `Authorization: Bearer <key>`'
          : 'the write key is not known',
      )
    }
    return source
  }

  async function collect(inputs: unknown[], source: string): Promise<CollectOutcome> {
    if (inputs.length === 0) {
      throw new OmnistitchError('OMNI_ERR_COLLECT_BAD_REQUEST', 'the request carries no event: expected at least one')
    }
    if (inputs.length > maxBatch) {
      throw new OmnistitchError(
        'OMNI_ERR_COLLECT_BAD_REQUEST',
        `a request may carry at most ${maxBatch} events, got ${inputs.length}`,
      )
    }
    const results: ItemResult[] = []
    const events: CapturedEvent[] = []
    const inRequest = new Set<string>()
    for (const [index, input] of inputs.entries()) {
      const outcome = await intakeEvent(input, {
        registry: options.registry,
        hasher: options.hasher,
        source,
        sourceIsFixed: true,
        now: options.now,
      })
      if (!outcome.ok) {
        results.push({ index, status: 'rejected', errors: outcome.errors })
        continue
      }
      const eventId = eventIdOf(outcome.event)
      // A retried request, or the same event twice in one: acknowledged, not stored again.
      if (recent.has(eventId) || inRequest.has(eventId)) {
        results.push({ index, status: 'accepted', event_id: eventId, duplicate: true })
        continue
      }
      inRequest.add(eventId)
      events.push(outcome.event)
      results.push({ index, status: 'accepted', event_id: eventId })
    }
    try {
      await options.producer.send(events)
    } catch (error) {
      throw new OmnistitchError(
        'OMNI_ERR_KAFKA_UNAVAILABLE',
        `events could not be stored (${describeError(error)}); retry the request`,
        {
          cause: error,
        },
      )
    }
    for (const id of inRequest) recent.add(id)
    const accepted = results.filter((result) => result.status === 'accepted').length
    return { accepted, rejected: results.length - accepted, results }
  }

  app.get('/healthz', { schema: { hide: true } }, () => ({ status: 'ok' }))

  app.post(
    '/v1/collect',
    {
      config: { rateLimit: {} },
      schema: {
        summary: 'Capture one event or a batch',
        description:
          'Body: one event object, an array of events, or `{"batch": [...]}`. An event is the JSON of its family\'s ' +
          'Avro record, partial: `family` may be left out when channel and event_type name it; `identifiers.email` ' +
          'and `identifiers.phone` are hashed here; give `event_id` or `message_id` so a retried request is not ' +
          'counted twice.',
        body: {
          anyOf: [
            {
              type: 'object',
              required: ['batch'],
              properties: { batch: { type: 'array', items: { type: 'object' } } },
            },
            { type: 'array', items: { type: 'object' } },
            { type: 'object' },
          ],
        },
        response: collectResponses,
      },
    },
    async (request, reply) => {
      const source = authenticate(request)
      const body = request.body
      const inputs = Array.isArray(body)
        ? body
        : typeof body === 'object' && body !== null && Array.isArray((body as { batch?: unknown }).batch)
          ? (body as { batch: unknown[] }).batch
          : [body]
      return answer(reply, await collect(inputs, source))
    },
  )

  for (const [name, adapter] of Object.entries(adapters)) {
    app.post(
      `/v1/webhooks/${name}`,
      {
        config: { rateLimit: {} },
        // The body schema documents the payload; the adapter checks it and names a bad field as docs/WEBHOOKS.md does.
        validatorCompiler: () => () => true,
        schema: {
          summary: `Receive a ${name} payload`,
          description: `Maps the payload to events (docs/WEBHOOKS.md); the events are recorded with source "<key's source>:${name}".`,
          body: ownValue(webhookPayloadSchemas, name) ?? {},
          response: collectResponses,
        },
      },
      async (request, reply) => {
        const keySource = authenticate(request)
        const mapped = adapter(request.body)
        if (!mapped.ok) throw new OmnistitchError('OMNI_ERR_COLLECT_BAD_REQUEST', `${name} payload: ${mapped.error}`)
        return answer(reply, await collect(mapped.events, `${keySource}:${name}`))
      },
    )
  }

  app.post<{ Params: { source: string } }>(
    '/v1/webhooks/:source',
    { config: { rateLimit: {} }, schema: { hide: true } },
    (request) => {
      authenticate(request)
      throw new OmnistitchError(
        'OMNI_ERR_COLLECT_UNKNOWN_SOURCE',
        `no webhook adapter named ${JSON.stringify(request.params.source)}; expected one of ${Object.keys(adapters).join(', ')}`,
      )
    },
  )

  return app
}

/**
 * 202 when any event was accepted: the results say which were not. 400 when every event was refused, so that a client
 * that looks only at the status does not take a request that stored nothing for a success.
 */
function answer(reply: FastifyReply, outcome: CollectOutcome): FastifyReply {
  if (outcome.accepted > 0) return reply.status(202).send(outcome)
  const reasons = [
    ...new Set(
      outcome.results.flatMap((result) =>
        result.status === 'rejected' ? result.errors.map((error) => `${error.field}: ${error.message}`) : [],
      ),
    ),
  ]
  return reply.status(400).send({
    error: {
      code: 'OMNI_ERR_COLLECT_BAD_REQUEST',
      message: `every event was rejected, none stored: ${reasons.slice(0, 3).join('; ')}${reasons.length > 3 ? '; ...' : ''}`,
    },
    ...outcome,
  })
}

function writeKeyOf(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization
  if (header?.startsWith('Bearer ')) return header.slice(7).trim()
  if (header?.startsWith('Basic ')) {
    // Segment-style SDKs send the write key as the basic-auth user name.
    return Buffer.from(header.slice(6), 'base64').toString('utf8').split(':')[0]
  }
  const alternative = request.headers['x-omnistitch-write-key']
  return typeof alternative === 'string' ? alternative : undefined
}

/**
 * The ids of recently stored events, oldest evicted first. Guards against the common duplicate, a client retrying a
 * request whose answer it missed; duplicates it cannot see (another collector instance, after a restart) are removed
 * downstream by event id.
 */
function createRecentIds(capacity: number): { has(id: string): boolean; add(id: string): void } {
  const ids = new Set<string>()
  return {
    has: (id) => ids.has(id),
    add(id) {
      ids.delete(id)
      ids.add(id)
      if (ids.size > capacity) {
        const oldest = ids.values().next().value
        if (oldest !== undefined) ids.delete(oldest)
      }
    },
  }
}
