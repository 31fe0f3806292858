import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Kafka } from 'kafkajs'
import { createTouchpointLoader } from '../consumers/touchpoint-loader.ts'
import { createDemoTouchpointGenerator } from '../producers/demo-traffic.ts'
import { createIdentifierHasher } from '../producers/identifier-hashing.ts'
import { createTouchpointProducer } from '../producers/touchpoint-producer.ts'
import { applyRetention, migrate } from '../runtime/clickhouse-migrations.ts'
import { queryRows, type Store } from '../runtime/clickhouse-store.ts'
import { ensureTopics } from '../runtime/kafka-client.ts'
import { createPipelineMetrics } from '../runtime/metrics.ts'
import type { CapturedEvent } from '../schemas/capture-events.ts'
import { createEmbeddedSchemaRegistry } from '../schemas/schema-registry.ts'
import { openTestStore, testKafka, testLogger, uniqueName, waitFor } from './helpers.ts'

describe('a store that refuses inserts for a while', () => {
  let kafka: Kafka
  let store: Store
  const topic = uniqueName('pressure')

  beforeAll(async () => {
    kafka = testKafka()
    await ensureTopics(kafka, [
      { topic, partitions: 1 },
      { topic: `${topic}.costs`, partitions: 1 },
      { topic: `${topic}.dlq`, partitions: 1 },
    ])
    store = await openTestStore()
    await migrate(store, { logger: testLogger })
  })

  afterAll(async () => {
    await store?.close()
  })

  it('pauses the partition, resumes, and loads everything once the store is back', async () => {
    const demo = createDemoTouchpointGenerator({ hasher: createIdentifierHasher('test-secret-0123456789'), seed: 3 })
    const events: CapturedEvent[] = []
    while (events.length < 300) {
      const next = demo()
      if (next.family !== 'ad-cost') events.push(next)
    }
    const producer = createTouchpointProducer({
      kafka,
      topic,
      adCostTopic: `${topic}.costs`,
      registry: createEmbeddedSchemaRegistry(),
      logger: testLogger,
    })
    await producer.connect()
    await producer.send(events)
    await producer.disconnect()

    // The real store behind a client whose first three inserts fail as a dropped connection would.
    let failures = 3
    const client = new Proxy(store.client, {
      get(target, property, receiver) {
        if (property === 'insert') {
          return async (...args: Parameters<typeof target.insert>) => {
            if (failures > 0) {
              failures -= 1
              throw new Error('socket hang up')
            }
            return target.insert(...args)
          }
        }
        return Reflect.get(target, property, receiver) as unknown
      },
    })
    const metrics = createPipelineMetrics({ defaultMetrics: false })
    const loader = createTouchpointLoader({
      kafka,
      topic,
      adCostTopic: `${topic}.costs`,
      deadLetterTopic: `${topic}.dlq`,
      groupId: uniqueName('pressure'),
      registry: createEmbeddedSchemaRegistry(),
      store: { ...store, client },
      logger: testLogger,
      metrics,
      retry: { retries: 1, initialDelayMs: 10, maxDelayMs: 10 },
      pauseMs: 200,
    })
    await loader.start()
    try {
      await waitFor(
        async () =>
          (await queryRows<{ n: number }>(store, 'SELECT count() AS n FROM {database:Identifier}.touchpoints FINAL'))[0]
            ?.n,
        (n) => n === events.length,
        { what: `${events.length} rows once the store is back` },
      )
    } finally {
      await loader.stop()
    }
    const text = await metrics.registry.metrics()
    expect(text).toMatch(new RegExp(`omnistitch_consumer_pauses_total\\{topic="${topic}"\\} [1-9]`))
    expect(text).toMatch(/omnistitch_consumer_step_retries_total\{step="load"\} [1-9]/)
    expect(failures).toBe(0)
  })

  it('sets and removes the retention TTL on touchpoints', async () => {
    const ttl = async () =>
      (
        await queryRows<{ q: string }>(
          store,
          "SELECT create_table_query AS q FROM system.tables WHERE database = {database:String} AND name = 'touchpoints'",
        )
      )[0]?.q ?? ''
    await applyRetention(store, 400)
    expect(await ttl()).toMatch(/TTL toDateTime\(event_time\) \+ (toIntervalDay\(400\)|INTERVAL 400 DAY)/)
    await applyRetention(store, 400)
    await applyRetention(store, 0)
    expect(await ttl()).not.toMatch(/TTL/)
  })
})
