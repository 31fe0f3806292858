import { queryRows, type Store } from '../runtime/clickhouse-store.ts'
import { formatDateTime64 } from '../runtime/clickhouse-values.ts'
import { settings, type Config } from '../runtime/config.ts'
import type { Logger } from '../runtime/logger.ts'
import { defaultIdentityRules, type IdentityRules } from './identity-graph.ts'
import { identityRulesFrom } from './identity-resolver.ts'

/**
 * Settings that shape what every process computes from the same data, so they live in the store rather than in each
 * process's environment: the journey settings the journey views read (`journey_settings`, migration 0003) and the
 * identity rules every resolver run reads (`identity_settings`, migration 0008). Each table keeps every version; the
 * newest row wins. They are written only where the operator means it: at the pipeline's start (`omnistitch start`,
 * `omnistitch consume`, from that process's configuration) and by `omnistitch settings apply`. Every other command
 * reads them, so an analyst's `omnistitch sql` with a default environment changes nothing (issue 18).
 */

/** How journeys are cut: what the refreshable journey views read. */
export interface JourneySettings {
  readonly sessionTimeoutMinutes: number
  readonly lookbackDays: number
  readonly conversionTypes: readonly string[]
}

export interface StoredSettings {
  readonly journeys: JourneySettings
  readonly identity: IdentityRules
}

/** The journey settings of a configuration. */
export function journeySettingsFrom(
  config: Pick<Config, 'sessionTimeoutMinutes' | 'journeyLookbackDays' | 'conversionTypes'>,
): JourneySettings {
  return {
    sessionTimeoutMinutes: config.sessionTimeoutMinutes,
    lookbackDays: config.journeyLookbackDays,
    conversionTypes: config.conversionTypes,
  }
}

/** Both kinds of settings as a configuration gives them. */
export function settingsFrom(config: Config): StoredSettings {
  return { journeys: journeySettingsFrom(config), identity: identityRulesFrom(config) }
}

/**
 * The journey settings when nothing else is said: the defaults in runtime/config.ts. Migration 0003 stores the same
 * values as the first row of `journey_settings` (a test holds them equal).
 */
export const defaultJourneySettings: JourneySettings = journeySettingsFrom({
  sessionTimeoutMinutes: settings.sessionTimeoutMinutes.fallback,
  journeyLookbackDays: settings.journeyLookbackDays.fallback,
  conversionTypes: settings.conversionTypes.fallback,
})

/** A stored version: the value and when it was written; undefined when nothing is stored and the defaults apply. */
interface Stored<T> {
  readonly value: T
  readonly updatedAt: string | undefined
}

interface JourneyRow {
  session_timeout_minutes: number
  lookback_days: number
  conversion_types: string[]
  stored_at: string
}

interface IdentityRow {
  junk_values: string[]
  junk_card_pattern: string
  max_people: Record<string, number>
  priority: string[]
  stored_at: string
}

// `HAVING count() > 0` turns an empty table into no row rather than one row of empty values. argMax by updated_at is
// how the journey views read the table, so these read what they read.
const newestJourneySettings = `
  SELECT argMax(session_timeout_minutes, updated_at) AS session_timeout_minutes,
         argMax(lookback_days, updated_at) AS lookback_days,
         argMax(conversion_types, updated_at) AS conversion_types,
         max(updated_at) AS stored_at
  FROM {database:Identifier}.journey_settings HAVING count() > 0`
const newestIdentitySettings = `
  SELECT argMax(junk_values, updated_at) AS junk_values,
         argMax(junk_card_pattern, updated_at) AS junk_card_pattern,
         argMax(max_people, updated_at) AS max_people,
         argMax(priority, updated_at) AS priority,
         max(updated_at) AS stored_at
  FROM {database:Identifier}.identity_settings HAVING count() > 0`

async function readStoredJourneySettings(store: Store): Promise<Stored<JourneySettings>> {
  const [row] = await queryRows<JourneyRow>(store, newestJourneySettings)
  if (row === undefined) return { value: defaultJourneySettings, updatedAt: undefined }
  return {
    value: {
      sessionTimeoutMinutes: Number(row.session_timeout_minutes),
      lookbackDays: Number(row.lookback_days),
      conversionTypes: row.conversion_types,
    },
    updatedAt: row.stored_at,
  }
}

async function readStoredIdentityRules(store: Store): Promise<Stored<IdentityRules>> {
  const [row] = await queryRows<IdentityRow>(store, newestIdentitySettings)
  if (row === undefined) return { value: defaultIdentityRules, updatedAt: undefined }
  return {
    value: {
      junkValues: row.junk_values,
      junkCardPattern: new RegExp(row.junk_card_pattern),
      maxPeople: Object.fromEntries(Object.entries(row.max_people).map(([kind, limit]) => [kind, Number(limit)])),
      priority: row.priority as IdentityRules['priority'],
    },
    updatedAt: row.stored_at,
  }
}

/** The identity rules every resolver run uses: the newest stored, or the defaults when none are stored. */
export async function readIdentityRules(store: Store): Promise<IdentityRules> {
  return (await readStoredIdentityRules(store)).value
}

/** The journey settings and identity rules in force. */
export async function readStoredSettings(store: Store): Promise<StoredSettings> {
  const [journeys, identity] = await Promise.all([readStoredJourneySettings(store), readStoredIdentityRules(store)])
  return { journeys: journeys.value, identity: identity.value }
}

/** The settings in the form `omnistitch settings show` prints and the tables hold (snake_case, the pattern as text). */
export function describeSettings(stored: StoredSettings) {
  return {
    journeys: {
      session_timeout_minutes: stored.journeys.sessionTimeoutMinutes,
      lookback_days: stored.journeys.lookbackDays,
      conversion_types: [...stored.journeys.conversionTypes],
    },
    identity: {
      junk_values: [...stored.identity.junkValues],
      junk_card_pattern: stored.identity.junkCardPattern.source,
      // Sorted by kind, so that two equal rules read the same whatever order their limits were given in.
      max_people: Object.fromEntries(
        Object.entries(stored.identity.maxPeople).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
      ),
      priority: [...stored.identity.priority],
    },
  }
}

/**
 * A time after `previous` and no earlier than now. A row stamped by a host whose clock ran ahead would otherwise stay
 * the newest, and the row written now would never be read.
 */
function stampAfter(previous: string | undefined): string {
  const last = previous === undefined ? 0 : Date.parse(`${previous.replace(' ', 'T')}Z`)
  return formatDateTime64(Math.max(Date.now(), (Number.isNaN(last) ? 0 : last) + 1))
}

/**
 * Stores `wanted` as the journey settings and identity rules in force, writing a row only to a table whose newest row
 * says something else (so restarts do not grow the tables). Returns which were written. Only the pipeline's start
 * and `omnistitch settings apply` call this: what an operator configured for the pipeline, or asked for explicitly.
 */
export async function storeSettings(
  store: Store,
  wanted: StoredSettings,
  logger: Logger,
): Promise<{ written: ('journeys' | 'identity')[] }> {
  const [journeys, identity] = await Promise.all([readStoredJourneySettings(store), readStoredIdentityRules(store)])
  const now = describeSettings({ journeys: journeys.value, identity: identity.value })
  const next = describeSettings(wanted)
  const written: ('journeys' | 'identity')[] = []
  if (JSON.stringify(now.journeys) !== JSON.stringify(next.journeys)) {
    await store.client.insert({
      table: `${store.database}.journey_settings`,
      values: [{ id: 1, ...next.journeys, updated_at: stampAfter(journeys.updatedAt) }],
      format: 'JSONEachRow',
    })
    written.push('journeys')
  }
  // The defaults count as not yet stored for the identity rules: the first start writes them, so the table says
  // what every process resolved with from then on.
  if (identity.updatedAt === undefined || JSON.stringify(now.identity) !== JSON.stringify(next.identity)) {
    await store.client.insert({
      table: `${store.database}.identity_settings`,
      values: [{ id: 1, ...next.identity, updated_at: stampAfter(identity.updatedAt) }],
      format: 'JSONEachRow',
    })
    written.push('identity')
  }
  if (written.length > 0) logger.info({ written, before: now, after: next }, 'stored settings changed')
  return { written }
}
