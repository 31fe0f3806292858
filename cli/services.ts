import path from 'node:path'
import type { Kafka } from 'kafkajs'
import { readRunningBroker, startLocalKafka, type LocalKafka } from '../infra/kafka/kafka-launcher.ts'
import type { Config } from '../runtime/config.ts'
import { OmnistitchError, describeError } from '../runtime/errors.ts'
import { createKafkaClient, ensureTopics } from '../runtime/kafka-client.ts'
import { createTouchpointProducer, type TouchpointProducer } from '../producers/touchpoint-producer.ts'
import { createSchemaRegistry } from '../schemas/confluent-schema-registry.ts'
import type { SchemaRegistry } from '../schemas/schema-registry.ts'
import type { Logger } from '../runtime/logger.ts'

/** Where the local broker keeps its state inside the data directory. */
export function kafkaStateDir(config: Config): string {
  return path.join(config.dataDir, 'kafka')
}

/**
 * The brokers to talk to: KAFKA_BROKERS if set, else a local broker started earlier with `omnistitch kafka start`,
 * else (with `startLocal`) a new local broker tied to this process, else an error that says what to do.
 */
export async function resolveBrokers(
  config: Config,
  logger: Logger,
  options: { startLocal: boolean },
): Promise<{ brokers: string[]; localKafka: LocalKafka | undefined }> {
  if (config.kafkaBrokers !== undefined) return { brokers: config.kafkaBrokers, localKafka: undefined }
  const running = readRunningBroker(kafkaStateDir(config))
  if (running !== undefined) {
    logger.info(
      { brokers: running.brokers, pid: running.pid },
      'using the local broker started by `omnistitch kafka start`',
    )
    return { brokers: running.brokers, localKafka: undefined }
  }
  if (!options.startLocal) {
    throw new OmnistitchError(
      'OMNI_ERR_KAFKA_UNAVAILABLE',
      'No Kafka broker: set KAFKA_BROKERS=host:port, or run `omnistitch kafka start` first, or use `omnistitch start`, which starts one.',
    )
  }
  const localKafka = await startLocalKafka({
    cacheDir: config.cacheDir,
    stateDir: kafkaStateDir(config),
    port: config.localKafkaPort,
    heapMb: config.localKafkaHeapMb,
    logger,
  })
  return { brokers: localKafka.brokers, localKafka }
}

/** Creates the touchpoint, ad cost and dead-letter topics if they are missing. */
export function ensurePipelineTopics(kafka: Kafka, config: Config): Promise<void> {
  return ensureTopics(kafka, [
    { topic: config.touchpointTopic, partitions: config.topicPartitions },
    { topic: config.deadLetterTopic, partitions: config.topicPartitions },
    { topic: config.adCostTopic, partitions: config.topicPartitions },
  ])
}

/** A cheap Kafka readiness check for /readyz: one metadata request through a long-lived admin client. */
export function createKafkaCheck(kafka: Kafka): { check: () => Promise<void>; close: () => Promise<void> } {
  const admin = kafka.admin()
  let connected: Promise<void> | undefined
  return {
    async check() {
      connected ??= admin.connect().catch((error: unknown) => {
        connected = undefined
        throw error
      })
      await connected
      await admin.describeCluster()
    },
    close: () => admin.disconnect(),
  }
}

/**
 * Runs `stop` once on the first SIGINT or SIGTERM, then exits. A second signal exits at once; child processes tied to
 * this one (the local broker) still stop, because they watch this process.
 */
export function onShutdownSignal(logger: Logger, stop: () => Promise<void>): void {
  let stopping = false
  const handler = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting now')
      process.exit(130)
    }
    stopping = true
    logger.info({ signal }, 'shutting down')
    stop().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: describeError(error) }, 'shutdown failed')
        process.exit(1)
      },
    )
  }
  process.on('SIGINT', handler)
  process.on('SIGTERM', handler)
}

/** A producer of captured events to the configured touchpoint and ad cost topics. */
export function createPipelineProducer(
  kafka: Kafka,
  config: Config,
  registry: SchemaRegistry,
  logger: Logger,
): TouchpointProducer {
  return createTouchpointProducer({
    kafka,
    topic: config.touchpointTopic,
    adCostTopic: config.adCostTopic,
    registry,
    logger,
  })
}

/**
 * For commands that only produce: finds the brokers (never starting one), makes sure the topics exist, and returns a
 * connected producer with the configured schema registry.
 */
export async function connectPipelineProducer(
  config: Config,
  logger: Logger,
): Promise<{ producer: TouchpointProducer; registry: SchemaRegistry }> {
  const { brokers } = await resolveBrokers(config, logger, { startLocal: false })
  const kafka = createKafkaClient({ brokers, clientId: config.kafkaClientId, logger })
  await ensurePipelineTopics(kafka, config)
  const registry = createSchemaRegistry(config)
  const producer = createPipelineProducer(kafka, config, registry, logger)
  await producer.connect()
  return { producer, registry }
}
