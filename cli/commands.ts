import type { Registry } from 'prom-client'
import fs from 'node:fs'
import Fastify from 'fastify'
import readline from 'node:readline'
import { createIdentityScheduler } from '../consumers/identity-scheduler.ts'
import { describeSettings, readStoredSettings, settingsFrom, storeSettings } from '../consumers/stored-settings.ts'
import { createTouchpointLoader } from '../consumers/touchpoint-loader.ts'
import { createPipelineMetrics, type PipelineMetrics } from '../runtime/metrics.ts'
import {
  brokerStateFile,
  ensureKafkaInstalled,
  readRunningBroker,
  startLocalKafka,
  terminate,
} from '../infra/kafka/kafka-launcher.ts'
import { createDemoTouchpointGenerator } from '../producers/demo-traffic.ts'
import { startSimulatedTraffic, type SimulatedTraffic } from '../producers/simulator/simulated-traffic.ts'
import { buildCollectorServer } from '../producers/collector-server.ts'
import { intakeEvent } from '../producers/event-intake.ts'
import { createIdentifierHasher, resolveHashSecret, resolveWriteKeys } from '../producers/identifier-hashing.ts'
import type { CapturedEvent } from '../schemas/capture-events.ts'
import { dashboardAddress, isLoopbackHost, readerKeyOf, resolveApiKeys } from '../queries/api-keys.ts'
import { buildApiServer } from '../queries/api-server.ts'
import { applyRetention, migrate } from '../runtime/clickhouse-migrations.ts'
import { openStore, type Store } from '../runtime/clickhouse-store.ts'
import type { Config } from '../runtime/config.ts'
import { createKafkaClient } from '../runtime/kafka-client.ts'
import type { Logger } from '../runtime/logger.ts'
import { createSchemaRegistry } from '../schemas/confluent-schema-registry.ts'
import {
  createKafkaCheck,
  ensurePipelineTopics,
  kafkaStateDir,
  onShutdownSignal,
  resolveBrokers,
  connectPipelineProducer,
  createPipelineProducer,
} from './services.ts'

interface Context {
  readonly config: Config
  readonly logger: Logger
}

function storeOptions(config: Config) {
  return {
    url: config.clickhouseUrl,
    user: config.clickhouseUser,
    password: config.clickhousePassword,
    database: config.clickhouseDatabase,
    cluster: config.clickhouseCluster,
    dataDir: config.dataDir,
  }
}

/**
 * The API's client for metric queries as CLICKHOUSE_API_USER, a read-only user (server mode only); undefined otherwise,
 * and then the API runs each metric query with readonly = 2 on the main client.
 */
async function openReadOnlyStore(config: Config): Promise<Store | undefined> {
  if (config.clickhouseUrl === undefined || config.clickhouseApiUser === undefined) return undefined
  return openStore({ ...storeOptions(config), user: config.clickhouseApiUser, password: config.clickhouseApiPassword })
}

/**
 * The metrics API as the configuration says: its keys (or the kept local one), the hasher of e-mail and phone lookups,
 * the read-only client for metric queries where one is configured, and the per-key rate limit.
 */
async function buildApiFromConfig(
  config: Config,
  logger: Logger,
  store: Store,
  checkKafka: () => Promise<void>,
  metrics?: Registry,
  refresh?: () => Promise<unknown>,
) {
  const apiKeys = resolveApiKeys(config.apiKeys, config.dataDir)
  const hasher = createIdentifierHasher(resolveHashSecret(config.hashSecret, config.dataDir))
  const readOnlyStore = await openReadOnlyStore(config)
  const api = await buildApiServer({
    store,
    readOnlyStore,
    logger,
    checkKafka,
    metrics,
    hasher,
    apiKeys,
    rateLimitPerMinute: config.apiRateLimit,
    dashboard: { localReaderKey: localReaderKeyOf(config, apiKeys) },
    refresh,
  })
  return { api, apiKeys, hasher, readOnlyStore }
}

/**
 * The reader key the dashboard may hand to a browser on this machine: only when the API listens on a loopback address
 * and OMNISTITCH_DASHBOARD_LOCAL_SIGN_IN is on (docs/DASHBOARDS.md).
 */
export function localReaderKeyOf(
  config: Pick<Config, 'apiHost' | 'dashboardLocalSignIn'>,
  apiKeys: Parameters<typeof readerKeyOf>[0],
): string | undefined {
  return config.dashboardLocalSignIn === 'on' && isLoopbackHost(config.apiHost) ? readerKeyOf(apiKeys) : undefined
}

/**
 * Opens the store with its tables up to date (migrations). It writes no setting: the journey settings, identity rules
 * and retention stay as stored, whatever this process's environment says, so that a reader (`serve`, `sql`,
 * `identity`) never changes what the pipeline computes. Only `applyPipelineSettings` writes them.
 */
export async function openMigratedStore(config: Config, logger: Logger): Promise<Store> {
  const store = await openStore(storeOptions(config))
  await migrate(store, { logger })
  return store
}

/** Runs `use` on the migrated store (`openMigratedStore`) and closes the store after, whatever happens. */
export async function withMigratedStore<T>(
  config: Config,
  logger: Logger,
  use: (store: Store) => Promise<T>,
): Promise<T> {
  const store = await openMigratedStore(config, logger)
  try {
    return await use(store)
  } finally {
    await store.close()
  }
}

/**
 * Makes this process's configuration the pipeline's: retention, journey settings and identity rules, each written
 * only where it differs from what is stored. Run by the pipeline's start (`start`, `consume`), whose environment the
 * operator configured, and by `omnistitch settings apply`; never by a reader.
 */
export async function applyPipelineSettings(store: Store, config: Config, logger: Logger) {
  await applyRetention(store, config.retentionDays)
  return storeSettings(store, settingsFrom(config), logger)
}

/** The store for the pipeline's start: migrated, with the configuration's settings applied. */
async function openPipelineStore(config: Config, logger: Logger): Promise<Store> {
  const store = await openMigratedStore(config, logger)
  try {
    await applyPipelineSettings(store, config, logger)
  } catch (error) {
    await store.close()
    throw error
  }
  return store
}

/** The loader and the identity scheduler it feeds: what `start` and `consume` run (and bench:freshness). */
export function createConsumer(
  { config, logger }: Context,
  kafka: ReturnType<typeof createKafkaClient>,
  store: Store,
  registry: ReturnType<typeof createSchemaRegistry>,
  metrics: PipelineMetrics,
) {
  const identities = createIdentityScheduler({
    store,
    logger,
    intervalSeconds: config.identityIntervalSeconds,
    metrics,
  })
  const loader = createTouchpointLoader({
    kafka,
    topic: config.touchpointTopic,
    adCostTopic: config.adCostTopic,
    deadLetterTopic: config.deadLetterTopic,
    groupId: config.consumerGroup,
    registry,
    store,
    logger,
    metrics,
    onBatchLoaded: (loaded) => identities.notify(loaded),
  })
  return {
    loader,
    identities,
    async stop() {
      await loader.stop()
      await identities.stop()
    },
  }
}

/** `omnistitch start`: the whole pipeline in one process, plus demo traffic. */
export async function startCommand({ config, logger }: Context, options: { demo: boolean }): Promise<void> {
  const { brokers, localKafka } = await resolveBrokers(config, logger, { startLocal: true })
  const kafka = createKafkaClient({ brokers, clientId: config.kafkaClientId, logger })
  await ensurePipelineTopics(kafka, config)
  const store = await openPipelineStore(config, logger)
  const registry = createSchemaRegistry(config)
  const metrics = createPipelineMetrics()
  const consumer = createConsumer({ config, logger }, kafka, store, registry, metrics)
  await consumer.loader.start()
  const kafkaCheck = createKafkaCheck(kafka)
  const { api, apiKeys, hasher, readOnlyStore } = await buildApiFromConfig(
    config,
    logger,
    store,
    kafkaCheck.check,
    metrics.registry,
    () => consumer.identities.runNow(),
  )
  const address = await api.listen({ host: config.apiHost, port: config.apiPort })

  const producer = createPipelineProducer(kafka, config, registry, logger)
  await producer.connect()
  const writeKeys = resolveWriteKeys(config.writeKeys, config.dataDir)
  const collector = await buildCollectorServer({
    producer,
    registry,
    hasher,
    writeKeys,
    rateLimitPerMinute: config.collectorRateLimit,
    maxBodyBytes: config.collectorMaxBodyBytes,
    logger,
  })
  const collectorAddress = await collector.listen({ host: config.apiHost, port: config.collectorPort })
  let demo: SimulatedTraffic | undefined
  if (options.demo && config.demoRate > 0) {
    demo = startSimulatedTraffic({
      producer,
      hasher,
      logger,
      rate: config.demoRate,
      seed: 1,
      customers: 5000,
      // Half a year, so that cohorts reach the 30- and 90-day LTV horizons; the first 400 customers at once, so
      // that every dashboard page has data to show as soon as the loader has them.
      days: 180,
      backlogCustomers: 400,
    })
  }

  const lines = [
    '',
    'Omnistitch is running.',
    `  Dashboard       ${dashboardAddress(address, apiKeys)}`,
    `  API             ${address}`,
    `  Attribution     ${address}/v1/attribution (API docs: ${address}/docs)`,
    `  Channel stats   ${address}/v1/stats/channels`,
    `  API key         ${config.apiKeys === undefined ? `${Object.keys(apiKeys)[0] ?? ''} (admin, kept in the data directory)` : 'from OMNISTITCH_API_KEYS'}`,
    `  Metrics         ${address}/metrics (Prometheus)`,
    `  Readiness       ${address}/readyz`,
    `  Collector       ${collectorAddress}/v1/collect (API docs: ${collectorAddress}/docs)`,
    `  Write key       ${config.writeKeys === undefined ? `${Object.keys(writeKeys)[0] ?? ''} (source "default", kept in the data directory)` : 'from OMNISTITCH_WRITE_KEYS'}`,
    `  Kafka           ${brokers.join(',')}${localKafka ? ` (local broker, log: ${localKafka.logFile})` : ''}`,
    `  ClickHouse      ${store.mode === 'embedded' ? `embedded chDB at ${store.embeddedPath}` : config.clickhouseUrl}, database ${store.database}`,
    `  Demo traffic    ${demo ? `the simulated retailer's last 180 days (omnistitch simulate): 400 customers at once, then ${config.demoRate} events/s` : 'off'}`,
    'Press Ctrl-C to stop.',
    '',
  ]
  process.stdout.write(lines.join('\n'))

  onShutdownSignal(logger, async () => {
    await demo?.stop()
    await collector.close()
    await producer.disconnect()
    await api.close()
    await consumer.stop()
    await kafkaCheck.close().catch(() => undefined)
    await readOnlyStore?.close()
    await store.close()
    await localKafka?.stop()
  })
}

/**
 * `omnistitch consume`: the consumer alone (loader, identity resolver, journeys), with Prometheus metrics on
 * OMNISTITCH_METRICS_PORT. SIGTERM or SIGINT finishes the batch in hand, commits it and leaves the group.
 */
export async function consumeCommand({ config, logger }: Context): Promise<void> {
  const { brokers } = await resolveBrokers(config, logger, { startLocal: false })
  const kafka = createKafkaClient({ brokers, clientId: config.kafkaClientId, logger })
  await ensurePipelineTopics(kafka, config)
  const store = await openPipelineStore(config, logger)
  const metrics = createPipelineMetrics()
  const consumer = createConsumer({ config, logger }, kafka, store, createSchemaRegistry(config), metrics)
  await consumer.loader.start()
  const metricsServer = Fastify({ loggerInstance: logger.child({ component: 'metrics' }) })
  metricsServer.get('/metrics', async (_request, reply) =>
    reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()),
  )
  metricsServer.get('/healthz', async () => ({ status: 'ok' }))
  const address = await metricsServer.listen({ host: config.apiHost, port: config.metricsPort })
  process.stdout.write(`Consuming ${config.touchpointTopic} and ${config.adCostTopic}; metrics at ${address}/metrics\n`)
  onShutdownSignal(logger, async () => {
    await metricsServer.close()
    await consumer.stop()
    await store.close()
  })
}

/**
 * What `omnistitch serve` runs, not yet listening: the API over the store as it is (a reader: it writes no setting),
 * and how to close both.
 */
export async function openApiService({ config, logger }: Context) {
  const { brokers } = await resolveBrokers(config, logger, { startLocal: false })
  const kafka = createKafkaClient({ brokers, clientId: config.kafkaClientId, logger })
  const store = await openMigratedStore(config, logger)
  const kafkaCheck = createKafkaCheck(kafka)
  const { api, apiKeys, readOnlyStore } = await buildApiFromConfig(config, logger, store, kafkaCheck.check)
  return {
    api,
    apiKeys,
    close: async () => {
      await api.close()
      await kafkaCheck.close().catch(() => undefined)
      await readOnlyStore?.close()
      await store.close()
    },
  }
}

/** `omnistitch serve`: the API alone. */
export async function serveCommand(context: Context): Promise<void> {
  const { api, apiKeys, close } = await openApiService(context)
  const address = await api.listen({ host: context.config.apiHost, port: context.config.apiPort })
  process.stdout.write(`API listening at ${address}\nDashboard at ${dashboardAddress(address, apiKeys)}\n`)
  onShutdownSignal(context.logger, close)
}

/** `omnistitch settings show`: the journey settings and identity rules in force, as stored. */
export async function settingsShowCommand(
  { config, logger }: Context,
  out: NodeJS.WritableStream = process.stdout,
): Promise<void> {
  await withMigratedStore(config, logger, async (store) => {
    out.write(`${JSON.stringify(describeSettings(await readStoredSettings(store)), null, 2)}\n`)
  })
}

/**
 * `omnistitch settings apply`: make this environment's journey settings, identity rules and retention the
 * pipeline's, as `start` and `consume` do when they start, and print what is stored now and what was written.
 * Journeys follow at the next refresh of the views, people at the next resolver run.
 */
export async function settingsApplyCommand(
  { config, logger }: Context,
  out: NodeJS.WritableStream = process.stdout,
): Promise<void> {
  await withMigratedStore(config, logger, async (store) => {
    const { written } = await applyPipelineSettings(store, config, logger)
    out.write(`${JSON.stringify({ written, ...describeSettings(await readStoredSettings(store)) }, null, 2)}\n`)
  })
}

/** `omnistitch migrate`: apply pending ClickHouse migrations and print what was done. */
export async function migrateCommand({ config, logger }: Context): Promise<void> {
  const store = await openStore(storeOptions(config))
  try {
    const result = await migrate(store, { logger })
    process.stdout.write(`${JSON.stringify({ database: store.database, ...result })}\n`)
  } finally {
    await store.close()
  }
}

/**
 * `omnistitch produce`: send touchpoints from an NDJSON file (one JSON touchpoint a line) or `--count` demo
 * touchpoints. Lines that are not valid touchpoints are not sent; they go to the rejects file with the reason.
 */
export async function produceCommand(
  { config, logger }: Context,
  options: { file?: string; count: number; rejects?: string },
): Promise<void> {
  const { producer, registry } = await connectPipelineProducer(config, logger)
  let sent = 0
  let rejected = 0
  try {
    if (options.file === undefined) {
      const generate = createDemoTouchpointGenerator({
        hasher: createIdentifierHasher(resolveHashSecret(config.hashSecret, config.dataDir)),
      })
      for (let offset = 0; offset < options.count; offset += 500) {
        const batch = Array.from({ length: Math.min(500, options.count - offset) }, generate)
        await producer.send(batch)
        sent += batch.length
      }
    } else {
      const rejectsFile = options.rejects ?? `${options.file}.rejects.ndjson`
      let rejects: fs.WriteStream | undefined
      let batch: CapturedEvent[] = []
      let lineNumber = 0
      const context = {
        registry,
        hasher: createIdentifierHasher(resolveHashSecret(config.hashSecret, config.dataDir)),
        source: 'file',
      }
      const input = readline.createInterface({ input: fs.createReadStream(options.file), crlfDelay: Infinity })
      for await (const line of input) {
        lineNumber += 1
        if (line.trim() === '') continue
        const problem = await readLine(line, context)
        if (typeof problem === 'string') {
          rejects ??= fs.createWriteStream(rejectsFile, { flags: 'a' })
          rejects.write(`${JSON.stringify({ line: lineNumber, reason: problem, input: line })}\n`)
          rejected += 1
          continue
        }
        batch.push(problem)
        if (batch.length === 500) {
          await producer.send(batch)
          sent += batch.length
          batch = []
        }
      }
      await producer.send(batch)
      sent += batch.length
      if (rejects) await new Promise((resolve) => rejects.end(resolve))
      if (rejected > 0) logger.warn({ rejected, rejectsFile }, 'some lines were not valid touchpoints')
    }
  } finally {
    await producer.disconnect()
  }
  process.stdout.write(`${JSON.stringify({ topic: config.touchpointTopic, sent, rejected })}\n`)
}

/** A line of an NDJSON file as an event, or the reason it cannot be one. */
async function readLine(line: string, context: Parameters<typeof intakeEvent>[1]): Promise<CapturedEvent | string> {
  let value: unknown
  try {
    value = JSON.parse(line)
  } catch (error) {
    return `not JSON: ${(error as Error).message}`
  }
  const outcome = await intakeEvent(value, context)
  return outcome.ok ? outcome.event : outcome.errors.map((error) => `${error.field}: ${error.message}`).join('; ')
}

/** `omnistitch kafka start`: a local broker that runs in the background until `omnistitch kafka stop`. */
export async function kafkaStartCommand({ config, logger }: Context): Promise<void> {
  const stateDir = kafkaStateDir(config)
  const running = readRunningBroker(stateDir)
  if (running !== undefined) {
    process.stdout.write(`Local Kafka is already running at ${running.brokers.join(',')} (pid ${running.pid})\n`)
    return
  }
  const kafka = await startLocalKafka({
    cacheDir: config.cacheDir,
    stateDir,
    port: config.localKafkaPort,
    heapMb: config.localKafkaHeapMb,
    logger,
    tiedToParent: false,
  })
  const state = { pid: kafka.pid, brokers: kafka.brokers, logFile: kafka.logFile, startedAt: new Date().toISOString() }
  fs.writeFileSync(brokerStateFile(stateDir), `${JSON.stringify(state, null, 2)}\n`)
  process.stdout.write(
    `Local Kafka is running at ${kafka.brokers.join(',')} (pid ${kafka.pid}, log ${kafka.logFile}).\n` +
      'Other omnistitch commands with the same OMNISTITCH_DATA_DIR find it; stop it with `omnistitch kafka stop`.\n',
  )
}

/** `omnistitch kafka stop`: stops the broker started by `kafka start`. */
export async function kafkaStopCommand({ config }: Context): Promise<void> {
  const stateDir = kafkaStateDir(config)
  const running = readRunningBroker(stateDir)
  fs.rmSync(brokerStateFile(stateDir), { force: true })
  if (running === undefined) {
    process.stdout.write('No local Kafka broker is running.\n')
    return
  }
  await terminate(running.pid, 20_000)
  process.stdout.write(`Stopped local Kafka (pid ${running.pid}).\n`)
}

/** `omnistitch kafka fetch`: fetch the Kafka jars into the cache without starting anything. */
export function kafkaFetchCommand({ config, logger }: Context): void {
  const libs = ensureKafkaInstalled({ cacheDir: config.cacheDir, logger })
  process.stdout.write(`Apache Kafka jars are in ${libs}\n`)
}
