import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { Kafka } from 'kafkajs'
import { startLocalKafka } from '../infra/kafka/kafka-launcher.ts'
import type { Config } from '../runtime/config.ts'
import { createKafkaClient } from '../runtime/kafka-client.ts'
import type { Logger } from '../runtime/logger.ts'

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
