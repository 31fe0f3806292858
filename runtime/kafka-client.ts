import kafkajs, { CompressionTypes, Kafka, logLevel } from 'kafkajs'
import SnappyCodec from 'kafkajs-snappy'
import { kafkaLogCreator, type Logger } from './logger.ts'

export interface KafkaClientOptions {
  readonly brokers: readonly string[]
  readonly clientId: string
  readonly logger: Logger
}

/**
 * Registers the codecs kafkajs does not ship, so that every producer may use them and every consumer can read
 * batches compressed with them by any client. Snappy is pure JavaScript (snappyjs); see docs/COMPRESSION.md.
 */
export function registerCompressionCodecs(): void {
  // kafkajs is CommonJS and Node cannot see this export by name from ESM.
  kafkajs.CompressionCodecs[CompressionTypes.Snappy] = SnappyCodec
}

/** A kafkajs client whose log lines go through our logger. */
export function createKafkaClient(options: KafkaClientOptions): Kafka {
  registerCompressionCodecs()
  return new Kafka({
    clientId: options.clientId,
    brokers: [...options.brokers],
    logLevel: logLevel.WARN,
    logCreator: kafkaLogCreator(options.logger),
    retry: { initialRetryTime: 200, retries: 8 },
  })
}

export interface TopicSpec {
  readonly topic: string
  readonly partitions: number
}

/**
 * Creates the topics that do not exist yet; existing topics are left as they are. Waits for leaders so that a
 * producer can write right after.
 */
export async function ensureTopics(kafka: Kafka, topics: readonly TopicSpec[]): Promise<void> {
  const admin = kafka.admin()
  await admin.connect()
  try {
    const existing = new Set(await admin.listTopics())
    const missing = topics.filter((spec) => !existing.has(spec.topic))
    if (missing.length > 0) {
      await admin.createTopics({
        waitForLeaders: true,
        topics: missing.map((spec) => ({ topic: spec.topic, numPartitions: spec.partitions, replicationFactor: -1 })),
      })
    }
  } finally {
    await admin.disconnect()
  }
}
