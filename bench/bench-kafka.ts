import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { Kafka } from 'kafkajs'
import { startLocalKafka } from '../infra/kafka/kafka-launcher.ts'
import { createTouchpointProducer, type TouchpointProducer } from '../producers/touchpoint-producer.ts'
import type { Config } from '../runtime/config.ts'
import { createKafkaClient, ensureTopics } from '../runtime/kafka-client.ts'
import type { Logger } from '../runtime/logger.ts'
import type { SchemaRegistry } from '../schemas/schema-registry.ts'

/**
 * The broker a benchmark runs against: KAFKA_BROKERS if set, else a local broker of its own in a temporary directory
 * (1 GiB heap), stopped and removed by `close`.
 */
export async function openBenchKafka(
  config: Config,
  logger: Logger,
): Promise<{ kafka: Kafka; workDir: string; local: boolean; close(): Promise<void> }> {
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'omnistitch-bench-'))
  const local =
    config.kafkaBrokers === undefined
      ? await startLocalKafka({
          cacheDir: config.cacheDir,
          stateDir: path.join(workDir, 'kafka'),
          port: 0,
          heapMb: 1024,
          logger,
        })
      : undefined
  const kafka = createKafkaClient({
    brokers: config.kafkaBrokers ?? local?.brokers ?? [],
    clientId: 'omnistitch-bench',
    logger,
  })
  return {
    kafka,
    workDir,
    local: local !== undefined,
    async close() {
      await local?.stop()
      fs.rmSync(workDir, { recursive: true, force: true })
    },
  }
}

/** The topics of one benchmark run, as the loader's options name them. */
export interface BenchTopics {
  readonly topic: string
  readonly adCostTopic: string
  readonly deadLetterTopic: string
}

/**
 * New topics for one run, `bench.<name>.<time>` and its `.costs` and `.dlq` (the touchpoints with `partitions`, the
 * others with one), and a connected producer to them.
 */
export async function openBenchTopics(
  kafka: Kafka,
  options: { name: string; partitions: number; registry: SchemaRegistry; logger: Logger },
): Promise<{ topics: BenchTopics; producer: TouchpointProducer }> {
  const topic = `bench.${options.name}.${Date.now()}`
  const topics = { topic, adCostTopic: `${topic}.costs`, deadLetterTopic: `${topic}.dlq` }
  await ensureTopics(kafka, [
    { topic, partitions: options.partitions },
    { topic: topics.adCostTopic, partitions: 1 },
    { topic: topics.deadLetterTopic, partitions: 1 },
  ])
  const producer = createTouchpointProducer({ kafka, ...topics, registry: options.registry, logger: options.logger })
  await producer.connect()
  return { topics, producer }
}
