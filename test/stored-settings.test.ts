import crypto from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { PassThrough } from 'node:stream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { inject } from 'vitest'
import { applyPipelineSettings, openApiService, settingsApplyCommand, settingsShowCommand } from '../cli/commands.ts'
import { identityResolveCommand, identityShowCommand } from '../cli/identity-commands.ts'
import { sqlCommand } from '../cli/sql-command.ts'
import { defaultIdentityRules } from '../consumers/identity-graph.ts'
import {
  defaultJourneySettings,
  describeSettings,
  readStoredSettings,
  settingsFrom,
} from '../consumers/stored-settings.ts'
import { migrate } from '../runtime/clickhouse-migrations.ts'
import { queryRows, type Store } from '../runtime/clickhouse-store.ts'
import { formatDateTime64 } from '../runtime/clickhouse-values.ts'
import { loadConfig, type Config } from '../runtime/config.ts'
import { openTestStore, testLogger, uniqueName } from './helpers.ts'

/** An output stream for a command, and what it wrote. */
function output() {
  const stream = new PassThrough()
  let text = ''
  stream.on('data', (chunk: Buffer) => (text += chunk.toString()))
  return { stream, text: () => text }
}

/** The pipeline operator's choices: none of them a default. */
const operatorEnvironment = {
  OMNISTITCH_CONVERSION_TYPES: 'order_created,lead_form',
  OMNISTITCH_SESSION_TIMEOUT_MINUTES: '45',
  OMNISTITCH_JOURNEY_LOOKBACK_DAYS: '60',
  OMNISTITCH_IDENTITY_JUNK_VALUES: '0,null,guest',
  OMNISTITCH_IDENTITY_MAX_PEOPLE: 'loyalty_card=2,device_id=1,anonymous_id=1',
  OMNISTITCH_IDENTITY_PRIORITY: 'customer_id,email_hash,loyalty_card,phone_hash,device_id,anonymous_id',
  OMNISTITCH_RETENTION_DAYS: '400',
}

describe('stored settings: the pipeline and explicit commands write them, readers leave them alone', () => {
  let store: Store
  /** An analyst's environment: where the store is, nothing else. */
  let analyst: Config
  let operator: Config

  const stored = async () => describeSettings(await readStoredSettings(store))
  const rowCounts = async () =>
    (
      await queryRows<{ journeys: number; identity: number }>(
        store,
        `SELECT (SELECT count() FROM {database:Identifier}.journey_settings) AS journeys,
                (SELECT count() FROM {database:Identifier}.identity_settings) AS identity`,
      )
    )[0]
  const retentionDays = async () => {
    const [table] = await queryRows<{ query: string }>(
      store,
      "SELECT create_table_query AS query FROM system.tables WHERE database = {database:String} AND name = 'touchpoints'",
    )
    const ttl = /\bTTL .*?(?:INTERVAL (\d+) DAY|toIntervalDay\((\d+)\))/.exec(table?.query ?? '')
    return Number(ttl?.[1] ?? ttl?.[2] ?? 0)
  }

  beforeAll(async () => {
    store = await openTestStore()
    await migrate(store, { logger: testLogger })
    const where = {
      OMNISTITCH_LOG_LEVEL: 'warn',
      OMNISTITCH_DATA_DIR:
        store.embeddedPath === undefined
          ? fs.mkdtempSync(path.join(os.tmpdir(), 'omnistitch-settings-'))
          : path.dirname(store.embeddedPath),
      CLICKHOUSE_URL: process.env['CLICKHOUSE_URL'],
      CLICKHOUSE_USER: process.env['CLICKHOUSE_USER'],
      CLICKHOUSE_PASSWORD: process.env['CLICKHOUSE_PASSWORD'],
      CLICKHOUSE_DATABASE: store.database,
      KAFKA_BROKERS: inject('kafkaBrokers').join(','),
    }
    analyst = loadConfig(where)
    operator = loadConfig({ ...where, ...operatorEnvironment })
    // Two people who both browsed with the cookie "guest": junk to the operator, a shared cookie by default.
    const at = formatDateTime64(Date.parse('2026-05-01T10:00:00Z'))
    await store.client.insert({
      table: `${store.database}.touchpoints`,
      values: ['C-1', 'C-2'].map((customer) => ({
        event_id: crypto.randomUUID(),
        event_time: at,
        received_at: at,
        channel: 'web',
        event_type: 'page_view',
        customer_id: customer,
        anonymous_id: 'guest',
      })),
      format: 'JSONEachRow',
    })
  })

  afterAll(async () => {
    await store?.close()
  })

  it('reads the defaults of runtime/config.ts from a fresh store: migration 0003 stores the same journey settings', async () => {
    expect(await stored()).toEqual(
      describeSettings({ journeys: defaultJourneySettings, identity: defaultIdentityRules }),
    )
    expect(describeSettings(settingsFrom(analyst))).toEqual(
      describeSettings({ journeys: defaultJourneySettings, identity: defaultIdentityRules }),
    )
  })

  it('leaves the settings the pipeline stored as they are through `sql`, `serve` and `identity show|resolve`', async () => {
    // What `start` and `consume` do when they start.
    expect(await applyPipelineSettings(store, operator, testLogger)).toEqual({ written: ['journeys', 'identity'] })
    const pipelines = describeSettings(settingsFrom(operator))
    expect(await stored()).toEqual(pipelines)
    expect(pipelines.journeys.conversion_types).toEqual(['order_created', 'lead_form'])
    expect(await retentionDays()).toBe(400)
    const rows = await rowCounts()

    const sql = output()
    await sqlCommand(
      { config: analyst, logger: testLogger },
      'SELECT argMax(conversion_types, updated_at) AS types FROM {database:Identifier}.journey_settings',
      { format: 'json' },
      sql.stream,
    )
    expect(JSON.parse(sql.text())).toEqual({ types: ['order_created', 'lead_form'] })

    const service = await openApiService({ config: analyst, logger: testLogger })
    try {
      expect((await service.api.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200)
    } finally {
      await service.close()
    }

    // Resolved with the stored rules, to which "guest" is junk: no shared cookie to quarantine.
    await identityResolveCommand({ config: analyst, logger: testLogger }, output().stream)
    const guest = await queryRows(
      store,
      "SELECT identifier FROM {database:Identifier}.identity_map WHERE identifier = 'anonymous_id:guest'",
    )
    expect(guest).toEqual([])

    const shown = output()
    await identityShowCommand({ config: analyst, logger: testLogger }, 'customer_id:C-1', shown.stream)
    const person = JSON.parse(shown.text()) as { identifier: string; person_id: string | null }
    expect(person.identifier).toBe('customer_id:C-1')
    expect(person.person_id).toMatch(/^pers_/)

    expect(await stored()).toEqual(pipelines)
    expect(await rowCounts()).toEqual(rows)
    expect(await retentionDays()).toBe(400)
  })

  it('writes nothing when the pipeline starts again with the same settings', async () => {
    const rows = await rowCounts()
    expect(await applyPipelineSettings(store, operator, testLogger)).toEqual({ written: [] })
    expect(await rowCounts()).toEqual(rows)
  })

  it('changes them with `settings apply`, and `settings show` prints what is stored', async () => {
    const applied = output()
    await settingsApplyCommand({ config: analyst, logger: testLogger }, applied.stream)
    const defaults = describeSettings({ journeys: defaultJourneySettings, identity: defaultIdentityRules })
    expect(JSON.parse(applied.text())).toEqual({ written: ['journeys', 'identity'], ...defaults })
    expect(await stored()).toEqual(defaults)
    expect(await retentionDays()).toBe(0)

    const shown = output()
    await settingsShowCommand({ config: operator, logger: testLogger }, shown.stream)
    expect(JSON.parse(shown.text())).toEqual(defaults)
    expect(await stored()).toEqual(defaults)
  })

  it('migrates a fresh database with the identity settings table and no row in it', async () => {
    const fresh = { ...store, database: uniqueName('fresh') }
    const result = await migrate(fresh, { logger: testLogger })
    expect(result.applied).toContain(8)
    const [count] = await queryRows<{ n: number }>(
      fresh,
      'SELECT count() AS n FROM {database:Identifier}.identity_settings',
    )
    expect(count?.n).toBe(0)
  })
})
