import crypto from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { inject } from 'vitest'
import { openStore, type Store } from '../runtime/clickhouse-store.ts'
import { createKafkaClient } from '../runtime/kafka-client.ts'
import { createLogger, type Logger } from '../runtime/logger.ts'
import { createIdentifierHasher } from '../producers/identifier-hashing.ts'

/** A logger for tests: warnings and errors only, so failures stay readable. */
export const testLogger: Logger = createLogger({ level: process.env['TEST_LOG_LEVEL'] ?? 'warn', name: 'test' })

/** A name no other test uses, for topics, groups and databases. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${crypto.randomBytes(5).toString('hex')}`
}

let processDataDir: string | undefined

/**
 * An embedded store on a fresh database. chDB allows one data directory per process, so every test file's process
 * shares one temporary directory and tests are kept apart by database.
 */
export async function openTestStore(): Promise<Store> {
  processDataDir ??= fs.mkdtempSync(path.join(os.tmpdir(), 'omnistitch-test-chdb-'))
  return openStore({
    url: process.env['CLICKHOUSE_URL'],
    user: process.env['CLICKHOUSE_USER'] ?? 'default',
    password: process.env['CLICKHOUSE_PASSWORD'] ?? '',
    database: uniqueName('test'),
    dataDir: processDataDir,
  })
}

/** A kafkajs client on the test run's broker. */
export function testKafka() {
  return createKafkaClient({ brokers: inject('kafkaBrokers'), clientId: uniqueName('test'), logger: testLogger })
}

/**
 * Polls `probe` until it returns a value that `done` accepts, or fails after `timeoutMs` with the last value seen.
 * Tests wait on outcomes this way rather than sleeping.
 */
export async function waitFor<T>(
  probe: () => Promise<T>,
  done: (value: T) => boolean,
  { timeoutMs = 60_000, intervalMs = 200, what = 'condition' } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let last: T | undefined
  while (Date.now() < deadline) {
    last = await probe()
    if (done(last)) return last
    await new Promise((resolve) => setTimeout(resolve, intervalMs))
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last value: ${JSON.stringify(last)}`)
}

/** API keys for tests of the metrics API: one of each scope, and the headers that present them. */
export const testReaderKey = 'test-reader-key-0123456789'
export const testAdminKey = 'test-admin-key-0123456789'
export const testApiKeys = { [testReaderKey]: 'reader', [testAdminKey]: 'admin' } as const
export const asReader = { authorization: `Bearer ${testReaderKey}` }
export const asAdmin = { authorization: `Bearer ${testAdminKey}` }

/** An identifier hash in its documented form (64 hex digits) that stands for a label, for fixtures such as 'e-anna'. */
export function hashFor(label: string): string {
  return crypto.createHash('sha256').update(label).digest('hex')
}

/** The hasher of e-mails and phones the API tests use (the collector's, with a test secret). */
export const testHasher = createIdentifierHasher('test-hash-secret-0123456789')
