// Which compression codec the producer should use, measured on this machine: per codec, the compression ratio of
// real record batches (500 encoded demo events with their keys), compress and decompress throughput, and end-to-end
// producer throughput to a real local broker. Prints one JSON line.
//   npm run bench:compression -- [--events 100000]
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import kafkajs, { CompressionTypes } from 'kafkajs'
import { createDemoTouchpointGenerator } from '../producers/demo-traffic.ts'
import { createIdentifierHasher } from '../producers/identifier-hashing.ts'
import { createTouchpointProducer } from '../producers/touchpoint-producer.ts'
import { openBenchKafka } from './bench-kafka.ts'
import { loadConfig } from '../runtime/config.ts'
import { ensureTopics, registerCompressionCodecs } from '../runtime/kafka-client.ts'
import { createLogger } from '../runtime/logger.ts'
import { eventIdOf, identifiersOf, strongestIdentifier, type CapturedEvent } from '../schemas/capture-events.ts'
import { createEmbeddedSchemaRegistry, encodeEvent } from '../schemas/schema-registry.ts'

const { values } = parseArgs({ options: { events: { type: 'string', default: '100000' } } })
const eventCount = Number(values.events)
const batchSize = 500
registerCompressionCodecs()

const registry = createEmbeddedSchemaRegistry()
const generate = createDemoTouchpointGenerator({ hasher: createIdentifierHasher('bench-secret-0123456789'), seed: 11 })
const events: CapturedEvent[] = Array.from({ length: eventCount }, generate)
const batches: Buffer[] = []
for (let start = 0; start < events.length; start += batchSize) {
  const parts: Buffer[] = []
  for (const event of events.slice(start, start + batchSize)) {
    parts.push(
      Buffer.from(strongestIdentifier(identifiersOf(event)) ?? eventIdOf(event)),
      await encodeEvent(registry, event),
    )
  }
  batches.push(Buffer.concat(parts))
}
const rawBytes = batches.reduce((sum, batch) => sum + batch.length, 0)

const codecs = [
  ['none', CompressionTypes.None],
  ['gzip', CompressionTypes.GZIP],
  ['snappy', CompressionTypes.Snappy],
] as const

const inMemory: Record<string, unknown> = {}
for (const [name, type] of codecs) {
  if (type === CompressionTypes.None) {
    inMemory[name] = { ratio: 1 }
    continue
  }
  const codec = (
    kafkajs.CompressionCodecs[type] as () => {
      compress(e: { buffer: Buffer }): Promise<Buffer>
      decompress(b: Buffer): Promise<Buffer>
    }
  )()
  let compressedBytes = 0
  const compressed: Buffer[] = []
  const compressStart = performance.now()
  for (const batch of batches) {
    const out = await codec.compress({ buffer: batch })
    compressed.push(out)
    compressedBytes += out.length
  }
  const compressSeconds = (performance.now() - compressStart) / 1000
  const decompressStart = performance.now()
  for (const out of compressed) await codec.decompress(out)
  const decompressSeconds = (performance.now() - decompressStart) / 1000
  inMemory[name] = {
    ratio: Number((rawBytes / compressedBytes).toFixed(2)),
    compress_mb_per_s: Number((rawBytes / 1e6 / compressSeconds).toFixed(1)),
    decompress_mb_per_s: Number((rawBytes / 1e6 / decompressSeconds).toFixed(1)),
    compress_events_per_s: Math.round(eventCount / compressSeconds),
  }
}

const config = loadConfig()
const logger = createLogger({ level: 'warn', name: 'bench' })
const bench = await openBenchKafka(config, logger)
const { kafka, workDir } = bench
const endToEnd: Record<string, unknown> = {}
for (const [name, type] of codecs) {
  const topic = `bench.compression.${name}.${Date.now()}`
  await ensureTopics(kafka, [
    { topic, partitions: 6 },
    { topic: `${topic}.costs`, partitions: 1 },
  ])
  const producer = createTouchpointProducer({
    kafka,
    topic,
    adCostTopic: `${topic}.costs`,
    registry,
    logger,
    compression: type,
  })
  await producer.connect()
  const start = performance.now()
  for (let offset = 0; offset < events.length; offset += batchSize)
    await producer.send(events.slice(offset, offset + batchSize))
  const seconds = (performance.now() - start) / 1000
  await producer.disconnect()
  const admin = kafka.admin()
  await admin.connect()
  const offsets = await admin.fetchTopicOffsets(topic)
  await admin.disconnect()
  const logDir = bench.local ? path.join(workDir, 'kafka', 'data') : undefined
  const onDisk =
    logDir === undefined
      ? undefined
      : fs
          .readdirSync(logDir)
          .filter((entry) => entry.startsWith(`${topic}-`))
          .reduce(
            (sum, entry) =>
              sum +
              fs
                .readdirSync(path.join(logDir, entry))
                .filter((file) => file.endsWith('.log'))
                .reduce((bytes, file) => bytes + fs.statSync(path.join(logDir, entry, file)).size, 0),
            0,
          )
  endToEnd[name] = {
    produce_events_per_s: Math.round(eventCount / seconds),
    records: offsets.reduce((sum, partition) => sum + Number(partition.high), 0),
    broker_log_bytes: onDisk,
  }
}
await bench.close()

process.stdout.write(
  `${JSON.stringify({
    bench: 'compression',
    events: eventCount,
    batch_size: batchSize,
    raw_bytes: rawBytes,
    in_memory: inMemory,
    end_to_end: endToEnd,
    machine: { cpus: os.cpus().length, memory_gib: Math.round(os.totalmem() / 2 ** 30), node: process.version },
  })}\n`,
)
