import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Kafka } from 'kafkajs'
import { runImport, type ImportOptions } from '../producers/batch-import.ts'
import { createIdentifierHasher } from '../producers/identifier-hashing.ts'
import { createTouchpointProducer, type TouchpointProducer } from '../producers/touchpoint-producer.ts'
import { ensureTopics } from '../runtime/kafka-client.ts'
import type { CapturedEvent } from '../schemas/capture-events.ts'
import { createEmbeddedSchemaRegistry, decodeEvent } from '../schemas/schema-registry.ts'
import { testKafka, testLogger, uniqueName, waitFor } from './helpers.ts'

const registry = createEmbeddedSchemaRegistry()
const hasher = createIdentifierHasher('import-test-secret-0123')
const header =
  'receipt_number,type,time,store_id,terminal_id,cashier_id,loyalty_card,phone,email,customer_id,sku,name,category,quantity,price,line_amount,total,discount,currency,payment_method,acquirer,promo_code,original_receipt_number'

function receiptsCsv(count: number, badAt?: number): string {
  const lines = [header]
  for (let index = 1; index <= count; index += 1) {
    const price = index === badAt ? 'abc' : `${index}.50`
    lines.push(
      `R-${index},sale,2026-11-20T10:00:00Z,msk-01,T1,K7,27700000${index},+7 916 555-00-${String(index % 100).padStart(2, '0')},,,A-${index},Item,shoes,1,${price},,,0,RUB,card,sber,,`,
    )
    lines.push(
      `R-${index},sale,2026-11-20T10:00:00Z,msk-01,T1,K7,27700000${index},,,,B-${index},Item,shoes,2,1.00,,,0,RUB,card,sber,,`,
    )
  }
  return `${lines.join('\n')}\n`
}

/** How many records a topic holds: the sum of its partitions' end offsets. */
async function recordCount(kafka: Kafka, topic: string): Promise<number> {
  const admin = kafka.admin()
  await admin.connect()
  const offsets = await admin.fetchTopicOffsets(topic)
  await admin.disconnect()
  return offsets.reduce((sum, partition) => sum + Number(partition.high), 0)
}

/** Every record of a topic, decoded. */
async function readAll(kafka: Kafka, topic: string): Promise<CapturedEvent[]> {
  const count = await recordCount(kafka, topic)
  const events: CapturedEvent[] = []
  const consumer = kafka.consumer({ groupId: uniqueName('reader') })
  await consumer.connect()
  await consumer.subscribe({ topic, fromBeginning: true })
  await consumer.run({
    eachMessage: async ({ message }) => {
      events.push((await decodeEvent(registry, message.value)).event)
    },
  })
  await waitFor(
    async () => events.length,
    (n) => n >= count,
    { what: `${count} events in ${topic}` },
  )
  await consumer.disconnect()
  return events
}

describe('batch import', () => {
  let kafka: Kafka
  let producer: TouchpointProducer
  const topic = uniqueName('imported')
  const adCostTopic = `${topic}.costs`
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'omnistitch-import-'))
  const base = (): Omit<ImportOptions, 'file' | 'kind' | 'format'> => ({
    producer,
    registry,
    hasher,
    source: 'import:test',
  })

  beforeAll(async () => {
    kafka = testKafka()
    await ensureTopics(kafka, [
      { topic, partitions: 2 },
      { topic: adCostTopic, partitions: 1 },
    ])
    producer = createTouchpointProducer({ kafka, topic, adCostTopic, registry, logger: testLogger })
    await producer.connect()
  })

  afterAll(async () => {
    await producer?.disconnect()
  })

  it('imports receipts, rejects a bad one with its line, resumes after a crash and sends nothing twice', async () => {
    const file = path.join(dir, 'receipts.csv')
    fs.writeFileSync(file, receiptsCsv(30, 7))
    // A producer that dies on its third batch, as a crash would.
    let sends = 0
    const crashing: TouchpointProducer = {
      ...producer,
      send: async (events) => {
        sends += 1
        if (sends === 3) throw new Error('simulated crash')
        await producer.send(events)
      },
    }
    await expect(
      runImport({ ...base(), producer: crashing, file, kind: 'receipts', format: 'csv', batchSize: 5 }),
    ).rejects.toThrow('simulated crash')
    const state = JSON.parse(fs.readFileSync(`${file}.import-state.json`, 'utf8')) as { done_through_line: number }
    expect(state.done_through_line).toBeGreaterThan(1)

    const resumed = await runImport({ ...base(), file, kind: 'receipts', format: 'csv', batchSize: 5 })
    expect(resumed.skipped_by_checkpoint).toBeGreaterThan(0)
    const again = await runImport({ ...base(), file, kind: 'receipts', format: 'csv' })
    expect(again).toEqual({ file, kind: 'receipts', sent: 0, rejected: 0, skipped_by_checkpoint: 30 })

    expect(await recordCount(kafka, topic)).toBe(29)
    const events = await readAll(kafka, topic)
    const numbers = events.map((event) => (event.family === 'receipt' ? event.value.receipt_number : ''))
    expect(numbers.length).toBe(29)
    expect(new Set(numbers).size).toBe(29)
    expect(numbers).not.toContain('R-7')
    const first = events.find((event) => event.family === 'receipt' && event.value.receipt_number === 'R-3')
    expect(first?.family === 'receipt' && first.value).toMatchObject({
      total_minor: 550,
      items: [{ price_minor: 350 }, { price_minor: 100 }],
    })
    expect(JSON.stringify(events)).not.toMatch(/916 555/)

    const rejects = fs
      .readFileSync(`${file}.rejects.ndjson`, 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { line: number; reason: string })
    expect(rejects.map((entry) => entry.line)).toEqual([14])
    expect(rejects[0]?.reason).toMatch(/items\[0\]\.price: expected an amount in roubles/)
  })

  it('imports ad costs from NDJSON, and sends again with --restart', async () => {
    const file = path.join(dir, 'costs.ndjson')
    fs.writeFileSync(
      file,
      [
        JSON.stringify({
          cost_id: 'vk_ads:c1:20777',
          date: 20777,
          channel: 'ads',
          source: 'vk_ads',
          campaign: 'c1',
          spend_minor: 100_00,
          currency: 'RUB',
          impressions: 10,
          clicks: 1,
        }),
        'not json',
        JSON.stringify({
          cost_id: 'vk_ads:c2:20777',
          date: 20777,
          channel: 'ads',
          source: 'vk_ads',
          campaign: 'c2',
          spend_minor: 'lots',
          currency: 'RUB',
        }),
      ].join('\n'),
    )
    const summary = await runImport({ ...base(), file, kind: 'costs', format: 'ndjson' })
    expect(summary).toEqual({ file, kind: 'costs', sent: 1, rejected: 2, skipped_by_checkpoint: 0 })
    const rejects = fs
      .readFileSync(`${file}.rejects.ndjson`, 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { line: number; reason: string })
    expect(rejects.map((entry) => [entry.line, entry.reason.split(':')[0]])).toEqual([
      [2, 'not JSON'],
      [3, 'spend_minor'],
    ])
    const restarted = await runImport({
      ...base(),
      file,
      kind: 'costs',
      format: 'ndjson',
      restart: true,
      rejectsFile: path.join(dir, 'r2.ndjson'),
    })
    expect(restarted.sent).toBe(1)
    const costs = await readAll(kafka, adCostTopic)
    expect(costs.length).toBe(2)
    expect(costs.every((event) => event.family === 'ad-cost' && event.value.cost_id === 'vk_ads:c1:20777')).toBe(true)
  })
})
