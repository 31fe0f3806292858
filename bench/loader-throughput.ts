// Throughput of the thin pipeline on this machine: produce N touchpoints to a real local Kafka broker, then time the
// loader reading them into embedded ClickHouse (chDB). Prints one JSON line.
//   npm run bench:loader -- [--events 200000] [--partitions 6]
import os from 'node:os'
import { parseArgs } from 'node:util'
import { createTouchpointLoader } from '../consumers/touchpoint-loader.ts'
import { createDemoTouchpointGenerator } from '../producers/demo-traffic.ts'
import { createIdentifierHasher } from '../producers/identifier-hashing.ts'
import { createTouchpointProducer } from '../producers/touchpoint-producer.ts'
import { migrate } from '../runtime/clickhouse-migrations.ts'
import { openStore, queryRows } from '../runtime/clickhouse-store.ts'
import { openBenchKafka } from './bench-kafka.ts'
import { loadConfig } from '../runtime/config.ts'
import { ensureTopics } from '../runtime/kafka-client.ts'
import { createLogger } from '../runtime/logger.ts'
import { createEmbeddedSchemaRegistry } from '../schemas/schema-registry.ts'

const { values } = parseArgs({
  options: { events: { type: 'string', default: '200000' }, partitions: { type: 'string', default: '6' } },
})
const events = Number(values.events)
const partitions = Number(values.partitions)
const config = loadConfig()
const logger = createLogger({ level: 'warn', name: 'bench' })
const bench = await openBenchKafka(config, logger)
const { kafka, workDir } = bench
const topic = `bench.touchpoints.${Date.now()}`
await ensureTopics(kafka, [
  { topic, partitions },
  { topic: `${topic}.dlq`, partitions: 1 },
  { topic: `${topic}.costs`, partitions: 1 },
])
const registry = createEmbeddedSchemaRegistry()
const store = await openStore({
  url: config.clickhouseUrl,
  user: config.clickhouseUser,
  password: config.clickhousePassword,
  database: `bench_${Date.now()}`,
  dataDir: workDir,
})
await migrate(store, { logger })

const demo = createDemoTouchpointGenerator({ hasher: createIdentifierHasher('bench-secret-0123456789'), seed: 7 })
// Touchpoints only: ad costs collapse by cost id, which would make the row count differ from what was sent.
const generate = (): ReturnType<typeof demo> => {
  for (;;) {
    const next = demo()
    if (next.family !== 'ad-cost') return next
  }
}
const producer = createTouchpointProducer({ kafka, topic, adCostTopic: `${topic}.costs`, registry, logger })
await producer.connect()
const produceStart = performance.now()
for (let sent = 0; sent < events; sent += 5000) {
  await producer.send(Array.from({ length: Math.min(5000, events - sent) }, generate))
}
const produceSeconds = (performance.now() - produceStart) / 1000
await producer.disconnect()

const loader = createTouchpointLoader({
  kafka,
  topic,
  adCostTopic: `${topic}.costs`,
  deadLetterTopic: `${topic}.dlq`,
  groupId: `bench-${Date.now()}`,
  registry,
  store,
  logger,
})
const loadStart = performance.now()
await loader.start()
while (loader.stats.rowsInserted < events) await new Promise((resolve) => setTimeout(resolve, 50))
const loadSeconds = (performance.now() - loadStart) / 1000
const batches = loader.stats.batches
await loader.stop()

const counted = await queryRows<{ n: number }>(
  store,
  'SELECT count() AS n FROM {database:Identifier}.touchpoints FINAL',
)
await store.close()
await bench.close()

process.stdout.write(
  `${JSON.stringify({
    bench: 'loader-throughput',
    events,
    partitions,
    rows_in_clickhouse: counted[0]?.n,
    produce_seconds: Number(produceSeconds.toFixed(2)),
    produce_events_per_s: Math.round(events / produceSeconds),
    load_seconds: Number(loadSeconds.toFixed(2)),
    load_rows_per_s: Math.round(events / loadSeconds),
    loader_batches: batches,
    store: store.mode,
    machine: { cpus: os.cpus().length, memory_gib: Math.round(os.totalmem() / 2 ** 30), node: process.version },
  })}\n`,
)
