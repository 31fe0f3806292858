// Ingest throughput on this machine: simulator events are produced to a real Kafka broker, then, in the same run,
// (1) a consumer that only reads and discards them measures the ceiling, and (2) the consumer pipeline (decode,
// validate, normalise, load, ledger, commit) loads them into ClickHouse; its clock stops when every event is
// queryable. Then one identity resolver run (with the refresh of orders, journeys and persons) is timed.
// The last line printed is one JSON object.
//   npm run bench:ingest -- [--customers 7500] [--days 180] [--partitions 6]
import os from 'node:os'
import { parseArgs } from 'node:util'
import { identityRulesFrom, runIdentityResolution } from '../consumers/identity-resolver.ts'
import { createTouchpointLoader } from '../consumers/touchpoint-loader.ts'
import { createIdentifierHasher } from '../producers/identifier-hashing.ts'
import { simulate } from '../producers/simulator/simulate.ts'
import { migrate } from '../runtime/clickhouse-migrations.ts'
import { openStore, queryRows } from '../runtime/clickhouse-store.ts'
import { loadConfig } from '../runtime/config.ts'
import { createLogger } from '../runtime/logger.ts'
import type { CapturedEvent } from '../schemas/capture-events.ts'
import { createEmbeddedSchemaRegistry } from '../schemas/schema-registry.ts'
import { openBenchKafka, openBenchTopics } from './bench-kafka.ts'

const { values } = parseArgs({
  options: {
    customers: { type: 'string', default: '7500' },
    days: { type: 'string', default: '180' },
    partitions: { type: 'string', default: '6' },
  },
})
const partitions = Number(values.partitions)
const config = loadConfig()
const logger = createLogger({ level: 'warn', name: 'bench' })
const log = (message: string) => process.stderr.write(`${new Date().toISOString()} ${message}\n`)

const events: CapturedEvent[] = []
simulate(
  {
    customers: Number(values.customers),
    days: Number(values.days),
    seed: 11,
    hasher: createIdentifierHasher('bench-secret-0123456789'),
  },
  { event: (event) => events.push(event) },
)
const costs = events.filter((event) => event.family === 'ad-cost').length
const touchpoints = events.length - costs
log(`simulated ${events.length} events (${touchpoints} touchpoints, ${costs} ad costs)`)

const bench = await openBenchKafka(config, logger)
const { kafka, workDir } = bench
const registry = createEmbeddedSchemaRegistry()
const { topics, producer } = await openBenchTopics(kafka, { name: 'ingest', partitions, registry, logger })
const produceStart = performance.now()
for (let sent = 0; sent < events.length; sent += 5000) await producer.send(events.slice(sent, sent + 5000))
const produceSeconds = (performance.now() - produceStart) / 1000
await producer.disconnect()
log(`produced in ${produceSeconds.toFixed(1)} s`)

// (1) The ceiling: read every record of both topics and discard it, with the loader's fetch settings.
const reader = kafka.consumer({
  groupId: `bench-read-${Date.now()}`,
  maxBytesPerPartition: 4 * 1024 * 1024,
  maxBytes: 32 * 1024 * 1024,
})
let read = 0
await reader.connect()
await reader.subscribe({ topics: [topics.topic, topics.adCostTopic], fromBeginning: true })
const readStart = performance.now()
await reader.run({
  autoCommit: false,
  partitionsConsumedConcurrently: 2,
  eachBatch: async ({ batch }) => {
    read += batch.messages.length
  },
})
while (read < events.length) await new Promise((resolve) => setTimeout(resolve, 20))
const readSeconds = (performance.now() - readStart) / 1000
await reader.disconnect()
log(`read-only consumer: ${readSeconds.toFixed(1)} s`)

// (2) The pipeline, until every event is queryable.
const store = await openStore({
  url: config.clickhouseUrl,
  user: config.clickhouseUser,
  password: config.clickhousePassword,
  database: `bench_${Date.now()}`,
  dataDir: workDir,
})
await migrate(store, { logger })
const loader = createTouchpointLoader({
  kafka,
  ...topics,
  groupId: `bench-load-${Date.now()}`,
  registry,
  store,
  logger,
})
const count = async () =>
  (
    await queryRows<{ touchpoints: number; costs: number }>(
      store,
      `SELECT (SELECT count() FROM {database:Identifier}.touchpoints) AS touchpoints,
              (SELECT count() FROM {database:Identifier}.ad_costs) AS costs`,
    )
  )[0] ?? { touchpoints: 0, costs: 0 }
const loadStart = performance.now()
const cpuStart = process.cpuUsage()
await loader.start()
for (;;) {
  const counted = await count()
  if (counted.touchpoints >= touchpoints && counted.costs >= costs) break
  await new Promise((resolve) => setTimeout(resolve, 100))
}
const loadSeconds = (performance.now() - loadStart) / 1000
const cpu = process.cpuUsage(cpuStart)
const batches = loader.stats.batches
await loader.stop()
log(`pipeline: ${loadSeconds.toFixed(1)} s`)

const run = await runIdentityResolution(store, { rules: identityRulesFrom(config), logger, deriveTables: false })
const refreshStart = performance.now()
// The next cycle finds the derived tables never built (the run above left them) and builds them in full.
await runIdentityResolution(store, { rules: identityRulesFrom(config), logger })
const refreshSeconds = (performance.now() - refreshStart) / 1000
const [final] = await queryRows<{ touchpoints: number; journeys: number; persons: number }>(
  store,
  `SELECT (SELECT count() FROM {database:Identifier}.touchpoints FINAL) AS touchpoints,
          (SELECT count() FROM {database:Identifier}.journeys) AS journeys,
          (SELECT count() FROM {database:Identifier}.persons) AS persons`,
)
await store.close()
await bench.close()

const perSecond = (seconds: number) => Math.round(events.length / seconds)
process.stdout.write(
  `${JSON.stringify({
    bench: 'ingest',
    events: events.length,
    events_per_second: perSecond(loadSeconds),
    read_only_events_per_second: perSecond(readSeconds),
    ratio_to_read_only: Number((readSeconds / loadSeconds).toFixed(3)),
    seconds: Number(loadSeconds.toFixed(2)),
    // CPU of this process (the Node thread and the embedded engine's threads) while the pipeline ran; not the broker's.
    pipeline_cpu_seconds: Number(((cpu.user + cpu.system) / 1e6).toFixed(2)),
    read_only_seconds: Number(readSeconds.toFixed(2)),
    produce_events_per_second: perSecond(produceSeconds),
    partitions,
    loader_batches: batches,
    rows_in_clickhouse: final?.touchpoints,
    identity: {
      seconds: Number((run.milliseconds / 1000).toFixed(2)),
      combos: run.combos,
      persons: run.persons,
      quarantined: run.quarantined,
    },
    views_refresh_seconds: Number(refreshSeconds.toFixed(2)),
    journeys: final?.journeys,
    persons: final?.persons,
    store: store.mode,
    machine: { cpus: os.cpus().length, memory_gib: Math.round(os.totalmem() / 2 ** 30), node: process.version },
  })}\n`,
)
