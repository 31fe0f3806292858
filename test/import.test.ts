import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import type { Kafka } from 'kafkajs'
import { checkpointFile, runImport, type Checkpoint, type ImportOptions } from '../producers/batch-import.ts'
import { deterministicEventId } from '../producers/event-intake.ts'
import { createIdentifierHasher } from '../producers/identifier-hashing.ts'
import { createTouchpointProducer, type TouchpointProducer } from '../producers/touchpoint-producer.ts'
import { ensureTopics } from '../runtime/kafka-client.ts'
import type { CapturedEvent } from '../schemas/capture-events.ts'
import { createEmbeddedSchemaRegistry, decodeEvent } from '../schemas/schema-registry.ts'
import { testKafka, testLogger, uniqueName, waitFor } from './helpers.ts'
import { collectOutput, exited, spawnTs } from './processes.ts'

const registry = createEmbeddedSchemaRegistry()
const hasher = createIdentifierHasher('import-test-secret-0123')
const header =
  'receipt_number,type,time,store_id,terminal_id,cashier_id,loyalty_card,phone,email,customer_id,sku,name,category,quantity,price,line_amount,total,discount,currency,payment_method,acquirer,promo_code,original_receipt_number'

function receiptsCsv(count: number, badAt: readonly number[] = []): string {
  const lines = [header]
  for (let index = 1; index <= count; index += 1) {
    const price = badAt.includes(index) ? 'abc' : `${index}.50`
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

  it('imports receipts, rejects bad ones with their line, resumes after a crash and sends nothing twice', async () => {
    const file = path.join(dir, 'receipts.csv')
    // R-7 is rejected before the crash, R-13 in the batch that crashes: each must be listed once in the end.
    fs.writeFileSync(file, receiptsCsv(30, [7, 13]))
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
    // Batches of 5 receipts: R-1..5 and R-6, 8..11 were acknowledged; R-12..17 were not.
    const state = JSON.parse(fs.readFileSync(checkpointFile(file), 'utf8')) as Checkpoint
    expect(state).toMatchObject({ done_through_line: 23, last_receipt: 'msk-01:R-11' })
    expect(await recordCount(kafka, topic)).toBe(10)

    const notices: string[] = []
    const resumed = await runImport({
      ...base(),
      file,
      kind: 'receipts',
      format: 'csv',
      batchSize: 5,
      onNotice: (message) => notices.push(message),
    })
    expect(resumed).toEqual({ file, kind: 'receipts', sent: 18, rejected: 1, skipped_by_checkpoint: 11 })
    expect(notices.join('\n')).toMatch(/resuming: skipping lines 1-23 \(through receipt msk-01:R-11\)/)
    const again = await runImport({ ...base(), file, kind: 'receipts', format: 'csv' })
    expect(again).toEqual({ file, kind: 'receipts', sent: 0, rejected: 0, skipped_by_checkpoint: 30 })

    expect(await recordCount(kafka, topic)).toBe(28)
    const events = await readAll(kafka, topic)
    const numbers = events.map((event) => (event.family === 'receipt' ? event.value.receipt_number : ''))
    expect(numbers.length).toBe(28)
    expect(new Set(numbers).size).toBe(28)
    expect(numbers).not.toContain('R-7')
    expect(numbers).not.toContain('R-13')
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
    expect(rejects.map((entry) => entry.line)).toEqual([14, 26])
    expect(rejects[0]?.reason).toMatch(/^items\[0\]\.price: expected an amount in roubles/)
  })

  it('reads a CRLF file with semicolons and quoted line breaks, giving rejects their true line numbers', async () => {
    const file = path.join(dir, 'excel.csv')
    const row = (number: string, sku: string, price: string, name = 'Item') =>
      `${number};sale;2026-11-20T10:00:00Z;spb-02;T1;K7;;;;;${sku};${name};shoes;1;${price};;;0;RUB;card;;;`
    fs.writeFileSync(
      file,
      [
        header.replaceAll(',', ';'),
        row('S-1', 'A', '10,00', '"Boots\r\nblack"'), // lines 2-3
        '',
        row('S-2', 'B', '5,00').slice(0, -1), // line 5: one field short
        row('S-3', 'C', '1 299,50'),
        row('S-1', 'D', '1,00'), // line 7: S-1 again, apart from its first row
        '',
      ].join('\r\n'),
    )
    const summary = await runImport({ ...base(), file, kind: 'receipts', format: 'csv' })
    expect(summary).toEqual({ file, kind: 'receipts', sent: 2, rejected: 2, skipped_by_checkpoint: 0 })
    const rejects = fs
      .readFileSync(`${file}.rejects.ndjson`, 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { line: number; reason: string })
    expect(rejects).toEqual([
      expect.objectContaining({ line: 5, reason: 'items[0]: expected 23 fields as in the header (got 22)' }),
      expect.objectContaining({
        line: 7,
        reason:
          'receipt_number: expected the rows of one receipt to be consecutive (receipt spb-02:S-1 also began at line 2)',
      }),
    ])
    expect(JSON.parse(fs.readFileSync(checkpointFile(file), 'utf8'))).toMatchObject({ done_through_line: 7 })
    const events = (await readAll(kafka, topic)).flatMap((event) =>
      event.family === 'receipt' && event.value.store_id === 'spb-02' ? [event.value] : [],
    )
    expect(events.map((event) => [event.receipt_number, event.items[0]?.name, event.total_minor]).sort()).toEqual([
      ['S-1', 'Boots\r\nblack', 1000],
      ['S-3', 'Item', 129_950],
    ])
  })

  it('sends again everything of a file that changed since the checkpoint, under the same event ids', async () => {
    const file = path.join(dir, 'changing.csv')
    fs.writeFileSync(file, receiptsCsv(2))
    const first = await runImport({ ...base(), file, kind: 'receipts', format: 'csv' })
    expect(first.sent).toBe(2)
    fs.appendFileSync(file, receiptsCsv(3).split('\n').slice(5).join('\n'))
    const notices: string[] = []
    const second = await runImport({
      ...base(),
      file,
      kind: 'receipts',
      format: 'csv',
      onNotice: (m) => notices.push(m),
    })
    expect(second).toEqual({ file, kind: 'receipts', sent: 3, rejected: 0, skipped_by_checkpoint: 0 })
    expect(notices.join('\n')).toMatch(
      /ignoring the checkpoint .*another version of the file \(file_size, file_mtime_ms/,
    )
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
        JSON.stringify({ date: '2026-11-20', source: 'vk_ads', campaign: 'c3', spend: '12.34', clicks: 2 }),
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
    expect(summary).toEqual({ file, kind: 'costs', sent: 2, rejected: 2, skipped_by_checkpoint: 0 })
    const rejects = fs
      .readFileSync(`${file}.rejects.ndjson`, 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { line: number; reason: string })
    expect(rejects.map((entry) => [entry.line, entry.reason.split(':')[0]])).toEqual([
      [2, 'not JSON'],
      [4, 'spend_minor'],
    ])
    const restarted = await runImport({
      ...base(),
      file,
      kind: 'costs',
      format: 'ndjson',
      restart: true,
      rejectsFile: path.join(dir, 'r2.ndjson'),
    })
    expect(restarted.sent).toBe(2)
    const costs = await readAll(kafka, adCostTopic)
    expect(costs.length).toBe(4)
    const ids = costs.map((event) => (event.family === 'ad-cost' ? event.value.cost_id : ''))
    expect(ids.sort()).toEqual(['vk_ads:c1:20777', 'vk_ads:c1:20777', 'vk_ads:c3:2026-11-20', 'vk_ads:c3:2026-11-20'])
    expect(costs.find((event) => event.family === 'ad-cost' && event.value.campaign === 'c3')?.value).toMatchObject({
      date: 20_777,
      spend_minor: 1234,
      clicks: 2,
    })
  })
})

describe('omnistitch import (the command)', () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'omnistitch-import-cli-'))
  const touchpointTopic = uniqueName('import_cli')
  const adCostTopic = `${touchpointTopic}.costs`
  const env = {
    ...process.env,
    OMNISTITCH_LOG_LEVEL: 'warn',
    OMNISTITCH_DATA_DIR: dataDir,
    KAFKA_BROKERS: inject('kafkaBrokers').join(','),
    KAFKA_TOPIC_TOUCHPOINTS: touchpointTopic,
    KAFKA_TOPIC_AD_COSTS: adCostTopic,
    KAFKA_TOPIC_DEAD_LETTER: `${touchpointTopic}.dlq`,
    KAFKA_TOPIC_PARTITIONS: '2',
    SCHEMA_REGISTRY_URL: '',
  }

  async function omnistitch(...args: string[]) {
    const child = spawnTs('cli/omnistitch.ts', args, env)
    const output = collectOutput(child)
    const code = await exited(child)
    return { code, stdout: output.stdout(), stderr: output.stderr() }
  }

  it('imports receipts and costs from CSV, lists the bad row, and on a second run skips all by the checkpoint', async () => {
    const receipts = path.join(dataDir, 'receipts.csv')
    fs.writeFileSync(
      receipts,
      [
        header,
        // line 2-3: a sale of two items, 199.99 + 2 x 49.50 = 298.99, with a phone to hash
        'R-1,sale,2026-11-20T10:15:00+03:00,msk-01,T1,K7,2770000000001,+7 916 555-00-01,,,A-1,Boots,shoes,1,199.99,199.99,298.99,0,RUB,card,sber,,',
        'R-1,sale,2026-11-20T10:15:00+03:00,msk-01,T1,K7,2770000000001,+7 916 555-00-01,,,B-2,Socks,shoes,2,49.50,99.00,298.99,0,RUB,card,sber,,',
        // line 4: a price that is not an amount: the whole receipt R-2 is rejected
        'R-2,sale,2026-11-20T11:00:00+03:00,msk-01,T1,K7,,,,,C-3,Hat,hats,1,12.34.5,,,0,RUB,cash,,,',
        // line 5: a return of one pair of socks
        'R-3,return,2026-11-21T09:00:00Z,msk-01,T2,K8,,,buyer@example.com,,B-2,Socks,shoes,1,49.50,49.50,49.50,0,RUB,card,sber,,R-1',
        '',
      ].join('\n'),
    )
    const costs = path.join(dataDir, 'costs.csv')
    fs.writeFileSync(
      costs,
      [
        'date,channel,source,medium,campaign,campaign_id,spend,currency,impressions,clicks',
        '2026-11-20,ads,yandex_direct,cpc,autumn,777,12345.67,RUB,10000,250',
        '2026-11-20,,vk_ads,cpm,boots,,0.29,RUB,500,3',
      ].join('\n'),
    )

    const first = await omnistitch('import', 'receipts', receipts)
    expect(first.stderr).toMatch(/1 rejected, with reasons, in .*receipts\.csv\.rejects\.ndjson/)
    expect(first.code).toBe(0)
    expect(JSON.parse(first.stdout)).toEqual({
      file: receipts,
      kind: 'receipts',
      sent: 2,
      rejected: 1,
      skipped_by_checkpoint: 0,
    })
    const rejectsText = fs.readFileSync(`${receipts}.rejects.ndjson`, 'utf8')
    const rejects = rejectsText
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { line: number; reason: string; input: Record<string, string>[] })
    expect(rejects).toHaveLength(1)
    expect(rejects[0]).toMatchObject({ line: 4, input: [{ receipt_number: 'R-2', price: '12.34.5' }] })
    expect(rejects[0]?.reason).toMatch(/^items\[0\]\.price: expected an amount in roubles such as 199\.99/)

    const costsRun = await omnistitch('import', 'costs', costs, '--quiet')
    expect(costsRun.code).toBe(0)
    expect(JSON.parse(costsRun.stdout)).toEqual({
      file: costs,
      kind: 'costs',
      sent: 2,
      rejected: 0,
      skipped_by_checkpoint: 0,
    })
    expect(fs.existsSync(`${costs}.rejects.ndjson`)).toBe(false)

    const kafka = testKafka()
    const events = await readAll(kafka, touchpointTopic)
    const byNumber = new Map(
      events.flatMap((event) => (event.family === 'receipt' ? [[event.value.receipt_number, event.value]] : [])),
    )
    expect([...byNumber.keys()].sort()).toEqual(['R-1', 'R-3'])
    expect(byNumber.get('R-1')).toMatchObject({
      event_id: deterministicEventId('import', 'receipt:msk-01:R-1'),
      event_time: Date.UTC(2026, 10, 20, 7, 15),
      channel: 'store',
      event_type: 'pos_receipt',
      source: 'import:receipts.csv',
      store_id: 'msk-01',
      total_minor: 29_899,
      discount_minor: 0,
      payment_method: 'card',
      items: [
        { sku: 'A-1', quantity: 1, price_minor: 19_999, amount_minor: 19_999 },
        { sku: 'B-2', quantity: 2, price_minor: 4950, amount_minor: 9900 },
      ],
      identifiers: { loyalty_card: '2770000000001' },
    })
    expect(byNumber.get('R-1')?.identifiers.phone_hash).toMatch(/^[0-9a-f]{64}$/)
    expect(byNumber.get('R-3')).toMatchObject({
      event_type: 'pos_return',
      total_minor: 4950,
      original_receipt_number: 'R-1',
      items: [{ sku: 'B-2', quantity: 1, price_minor: 4950 }],
    })
    expect(byNumber.get('R-3')?.identifiers.email_hash).toMatch(/^[0-9a-f]{64}$/)
    expect(JSON.stringify(events)).not.toMatch(/916 555|buyer@example/)

    const adCosts = await readAll(kafka, adCostTopic)
    expect(
      adCosts
        .map((event) => event.family === 'ad-cost' && event.value)
        .sort((a, b) => (a && b && a.source < b.source ? 1 : -1)),
    ).toMatchObject([
      { cost_id: 'yandex_direct:777:2026-11-20', date: 20_777, channel: 'ads', spend_minor: 1_234_567, clicks: 250 },
      { cost_id: 'vk_ads:boots:2026-11-20', date: 20_777, campaign_id: null, spend_minor: 29, impressions: 500 },
    ])

    const checkpoint = JSON.parse(fs.readFileSync(checkpointFile(receipts), 'utf8')) as Checkpoint
    expect(checkpoint).toMatchObject({
      kind: 'receipts',
      file_size: fs.statSync(receipts).size,
      done_through_line: 5,
      last_receipt: 'msk-01:R-3',
    })
    expect(checkpoint.head_sha256).toMatch(/^[0-9a-f]{64}$/)

    // The same files again: everything is skipped by the checkpoint and nothing is sent.
    const again = await omnistitch('import', 'receipts', receipts)
    expect(again.code).toBe(0)
    expect(JSON.parse(again.stdout)).toEqual({
      file: receipts,
      kind: 'receipts',
      sent: 0,
      rejected: 0,
      skipped_by_checkpoint: 3,
    })
    expect(again.stderr).toMatch(/resuming: skipping lines 1-5 \(through receipt msk-01:R-3\), sent by an earlier run/)
    expect(fs.readFileSync(`${receipts}.rejects.ndjson`, 'utf8')).toBe(rejectsText)
    const costsAgain = await omnistitch('import', 'costs', costs)
    expect(JSON.parse(costsAgain.stdout)).toMatchObject({ sent: 0, skipped_by_checkpoint: 2 })
    expect(await recordCount(kafka, touchpointTopic)).toBe(2)
    expect(await recordCount(kafka, adCostTopic)).toBe(2)
  })

  it('refuses a file it cannot read, or a header that lacks a needed column, before sending anything', async () => {
    const missing = await omnistitch('import', 'receipts', path.join(dataDir, 'nothing.csv'))
    expect(missing.code).toBe(1)
    expect(missing.stderr).toMatch(/omnistitch: cannot read .*nothing\.csv/)
    const unknown = await omnistitch('import', 'costs', path.join(dataDir, 'costs.xlsx'))
    expect(unknown.stderr).toMatch(/cannot tell the format .*--format csv\|ndjson/)

    const wrong = path.join(dataDir, 'wrong.csv')
    fs.writeFileSync(wrong, 'date,source,campaign,spend\n2026-11-20,vk_ads,c,1.00\n')
    const result = await omnistitch('import', 'receipts', wrong)
    expect(result.code).toBe(1)
    expect(result.stderr).toMatch(/the header \(line 1\) lacks receipt_number, time, store_id, sku, price/)
    expect(result.stdout).toBe('')
  })
})
