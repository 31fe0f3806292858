import { compileErrors, validate } from '@readme/openapi-parser'
import type { FastifyInstance } from 'fastify'
import { Registry } from 'prom-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildCollectorServer } from '../producers/collector-server.ts'
import { createIdentifierHasher } from '../producers/identifier-hashing.ts'
import { createTouchpointProducer } from '../producers/touchpoint-producer.ts'
import type { Store } from '../runtime/clickhouse-store.ts'
import { createEmbeddedSchemaRegistry } from '../schemas/schema-registry.ts'
import { testApiServer } from './api-fixture.ts'
import { openTestStore, testKafka, testLogger, uniqueName } from './helpers.ts'

type OpenApiDocument = Parameters<typeof validate>[0]

/**
 * The errors of a document against the OpenAPI schema of the version it declares (3.0.x here), one per line; empty
 * when it is valid. The validator is given a copy: it dereferences in place.
 */
async function openApiErrors(document: unknown): Promise<string> {
  const result = await validate(structuredClone(document) as OpenApiDocument, {
    validate: { errors: { colorize: false } },
  })
  return result.valid ? '' : compileErrors(result)
}

describe('the OpenAPI documents', () => {
  let store: Store
  let api: FastifyInstance
  let collector: FastifyInstance

  beforeAll(async () => {
    store = await openTestStore()
    // With a metrics registry, so that /metrics is among the routes documented.
    api = await testApiServer(store, { metrics: new Registry() })
    const registry = createEmbeddedSchemaRegistry()
    const topic = uniqueName('openapi')
    // Never connected: building the collector and reading its document sends nothing to Kafka.
    const producer = createTouchpointProducer({
      kafka: testKafka(),
      topic,
      adCostTopic: `${topic}.costs`,
      registry,
      logger: testLogger,
    })
    collector = await buildCollectorServer({
      producer,
      registry,
      hasher: createIdentifierHasher('openapi-test-secret-0123'),
      writeKeys: { 'openapi-write-key-0123456789': 'site' },
      rateLimitPerMinute: 10_000,
      maxBodyBytes: 2 * 1024 * 1024,
      logger: testLogger,
    })
    await collector.ready()
  })

  afterAll(async () => {
    await api?.close()
    await collector?.close()
    await store?.close()
  })

  it('of the metrics API is valid OpenAPI 3.0', async () => {
    const document = api.swagger() as { openapi: string }
    expect(document.openapi).toMatch(/^3\.0\./)
    expect(await openApiErrors(document)).toBe('')
  })

  it('of the collector is valid OpenAPI 3.0', async () => {
    const document = collector.swagger() as { openapi: string }
    expect(document.openapi).toMatch(/^3\.0\./)
    expect(await openApiErrors(document)).toBe('')
  })

  it('of the metrics API gives every route with a format its CSV and Arrow content types', async () => {
    const document = api.swagger() as unknown as {
      paths: Record<
        string,
        Record<
          string,
          { parameters?: { name: string }[]; responses: Record<string, { content?: Record<string, unknown> }> }
        >
      >
    }
    const withFormat = Object.entries(document.paths).flatMap(([path, operations]) =>
      Object.entries(operations)
        .filter(([, operation]) => operation.parameters?.some((parameter) => parameter.name === 'format'))
        .map(([method, operation]) => ({ route: `${method.toUpperCase()} ${path}`, operation })),
    )
    expect(withFormat.length).toBeGreaterThan(5)
    for (const { route, operation } of withFormat) {
      expect(Object.keys(operation.responses['200']?.content ?? {}).sort(), route).toEqual([
        'application/json',
        'application/vnd.apache.arrow.stream',
        'text/csv',
      ])
    }
  })
})
