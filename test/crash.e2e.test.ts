import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, describe, expect, inject, it } from 'vitest'
import { createIdentifierHasher } from '../producers/identifier-hashing.ts'
import { simulate } from '../producers/simulator/simulate.ts'
import { createTouchpointProducer } from '../producers/touchpoint-producer.ts'
import { openStore, queryRows } from '../runtime/clickhouse-store.ts'
import { ensureTopics } from '../runtime/kafka-client.ts'
import type { CapturedEvent } from '../schemas/capture-events.ts'
import { createEmbeddedSchemaRegistry } from '../schemas/schema-registry.ts'
import { testKafka, testLogger, uniqueName, waitFor } from './helpers.ts'
import { collectOutput, exited, spawnTs } from './processes.ts'

describe('omnistitch consume killed with SIGKILL in the middle of its work', () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'omnistitch-crash-'))
  const topic = uniqueName('crash')
  const groupId = uniqueName('crash-group')
  const kafka = testKafka()
  const admin = kafka.admin()

  afterAll(async () => {
    await admin.disconnect()
    fs.rmSync(dataDir, { recursive: true, force: true })
  })

  const consume = () => {
    const child = spawnTs('cli/omnistitch.ts', ['consume'], {
      ...process.env,
      KAFKA_BROKERS: inject('kafkaBrokers').join(','),
      CLICKHOUSE_URL: '',
      OMNISTITCH_DATA_DIR: dataDir,
      KAFKA_TOPIC_TOUCHPOINTS: topic,
      KAFKA_TOPIC_AD_COSTS: `${topic}.costs`,
      KAFKA_TOPIC_DEAD_LETTER: `${topic}.dlq`,
      KAFKA_CONSUMER_GROUP: groupId,
      OMNISTITCH_METRICS_PORT: '0',
      OMNISTITCH_IDENTITY_INTERVAL_SECONDS: '0',
      OMNISTITCH_LOG_LEVEL: 'warn',
    })
    return { child, output: collectOutput(child) }
  }

  /** Records committed by the group, and records in the topics. */
  const progress = async () => {
    let committed = 0
    let total = 0
    for (const name of [topic, `${topic}.costs`]) {
      const [offsets] = await admin.fetchOffsets({ groupId, topics: [name] })
      for (const end of await admin.fetchTopicOffsets(name)) {
        total += Number(end.high)
        const done = offsets?.partitions.find((entry) => entry.partition === end.partition)?.offset ?? '-1'
        committed += Math.max(0, Number(done))
      }
    }
    return { committed, total }
  }

  it('ends, after a restart, with every event loaded exactly once', async () => {
    const events: CapturedEvent[] = []
    simulate(
      { customers: 1500, days: 180, seed: 21, hasher: createIdentifierHasher('test-secret-0123456789') },
      { event: (event) => events.push(event) },
    )
    const touchpoints = events.filter((event) => event.family !== 'ad-cost').length
    await admin.connect()
    await ensureTopics(kafka, [
      { topic, partitions: 3 },
      { topic: `${topic}.costs`, partitions: 1 },
      { topic: `${topic}.dlq`, partitions: 1 },
    ])
    const producer = createTouchpointProducer({
      kafka,
      topic,
      adCostTopic: `${topic}.costs`,
      registry: createEmbeddedSchemaRegistry(),
      logger: testLogger,
    })
    await producer.connect()
    for (let sent = 0; sent < events.length; sent += 5000) await producer.send(events.slice(sent, sent + 5000))
    await producer.disconnect()

    // Kill it as soon as its first batch is committed: the others are being decoded or inserted at that moment.
    const first = consume()
    const atKill = await waitFor(progress, (value) => value.committed > 0 || first.child.exitCode !== null, {
      timeoutMs: 120_000,
      intervalMs: 20,
      what: 'a first commit',
    })
    first.child.kill('SIGKILL')
    expect(await exited(first.child), first.output.stderr()).toBe('SIGKILL')
    expect(atKill.committed).toBeGreaterThan(0)
    expect(atKill.committed).toBeLessThan(atKill.total)

    // Restarted, it reads the uncommitted batches again; then a SIGTERM finishes the batch in hand and exits.
    const second = consume()
    await waitFor(progress, (value) => value.committed === value.total || second.child.exitCode !== null, {
      timeoutMs: 180_000,
      what: 'every record committed after the restart',
    })
    second.child.kill('SIGTERM')
    expect(await exited(second.child), second.output.stderr()).toBe(0)

    const store = await openStore({ url: undefined, user: '', password: '', database: 'omnistitch', dataDir })
    try {
      const [counts] = await queryRows<{ final: number; distinct: number; ledger: number; costs: number }>(
        store,
        `SELECT (SELECT count() FROM {database:Identifier}.touchpoints FINAL) AS final,
                (SELECT uniqExact(event_id) FROM {database:Identifier}.touchpoints) AS distinct,
                (SELECT sum(received) FROM {database:Identifier}.stage_ledger FINAL) AS ledger,
                (SELECT count() FROM {database:Identifier}.ad_costs FINAL) AS costs`,
      )
      expect(counts).toEqual({
        final: touchpoints,
        distinct: touchpoints,
        ledger: events.length,
        costs: events.length - touchpoints,
      })
    } finally {
      await store.close()
    }
  }, 300_000)
})
