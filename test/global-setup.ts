import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { TestProject } from 'vitest/node'
import { startLocalKafka, type LocalKafka } from '../infra/kafka/kafka-launcher.ts'
import { loadConfig } from '../runtime/config.ts'
import { createLogger } from '../runtime/logger.ts'

declare module 'vitest' {
  export interface ProvidedContext {
    kafkaBrokers: string[]
  }
}

let kafka: LocalKafka | undefined
let stateDir: string | undefined

/**
 * Starts one real Kafka broker for the test run, unless KAFKA_BROKERS points at an existing one. Tests read the
 * brokers with `inject('kafkaBrokers')`.
 */
export async function setup(project: TestProject): Promise<void> {
  const config = loadConfig()
  if (config.kafkaBrokers !== undefined) {
    project.provide('kafkaBrokers', config.kafkaBrokers)
    return
  }
  stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'omnistitch-test-kafka-'))
  kafka = await startLocalKafka({
    cacheDir: config.cacheDir,
    stateDir,
    port: 0,
    heapMb: 512,
    logger: createLogger({ level: 'warn', name: 'test-kafka' }),
  })
  project.provide('kafkaBrokers', kafka.brokers)
}

export async function teardown(): Promise<void> {
  await kafka?.stop()
  if (stateDir !== undefined) fs.rmSync(stateDir, { recursive: true, force: true })
}
