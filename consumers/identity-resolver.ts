import { queryRows, type Store } from '../runtime/clickhouse-store.ts'
import type { Config } from '../runtime/config.ts'
import type { Logger } from '../runtime/logger.ts'
import type { Identifiers } from '../schemas/capture-events.ts'
import {
  identityRulesOf,
  personOfIdentifiers,
  resolveIdentities,
  type IdentifierKind,
  type IdentityEdge,
  type IdentityRules,
} from './identity-graph.ts'

/** The views the resolver refreshes after a run, in dependency order (journeys read orders and journey_touchpoints). */
export const derivedViews = [
  'orders',
  'journey_touchpoints',
  'journeys',
  'persons',
  'channel_daily',
  'person_channel_days',
  'touch_channel_days',
  'conversion_days',
  'channel_transition_days',
  'journey_path_days',
  'conversion_touch_ages',
  'person_channels',
  'funnel_events',
  'customer_values',
] as const

export interface ResolutionRun {
  readonly version: number
  readonly combos: number
  readonly identifiers: number
  readonly persons: number
  readonly quarantined: number
  readonly conflicts: number
  /** Identifiers and combinations whose person or status changed in this run. */
  readonly changes: number
  readonly milliseconds: number
}

/**
 * Identity rules from this process's configuration. Only what writes the stored rules uses them (consumers/
 * stored-settings.ts); a resolver run takes the stored rules, so every process resolves alike.
 */
export function identityRulesFrom(config: Config): IdentityRules {
  return identityRulesOf({
    junkValues: config.identityJunkValues,
    maxPeople: config.identityMaxPeople,
    priority: config.identityPriority,
  })
}

interface ComboRow {
  combo: string
  anonymous_id: string
  device_id: string
  customer_id: string
  email_hash: string
  phone_hash: string
  loyalty_card: string
  order_id: string
  first_time: number
  first_event: string
}

const asIdentifiers = (row: ComboRow): Identifiers => ({
  anonymous_id: row.anonymous_id,
  device_id: row.device_id,
  customer_id: row.customer_id,
  email_hash: row.email_hash,
  phone_hash: row.phone_hash,
  loyalty_card: row.loyalty_card,
  order_id: row.order_id,
})

/**
 * One resolver run (docs/ARCHITECTURE.md, D21): read every distinct combination of identifiers stored in
 * `touchpoints`, resolve them into people (a pure function of that set and the operator's splits), and write what
 * changed: the identity map, the person of each combination, and the audit trail. Because the result depends only on
 * what is stored, any number of consumer instances loading in any order, and any number of runs, agree on the people;
 * two runs at once write the same rows. Events are re-keyed at query time through `identity_combos`, so a merge moves
 * the earlier anonymous history with it and a split moves it back.
 */
export async function runIdentityResolution(
  store: Store,
  options: { rules: IdentityRules; logger: Logger; refreshViews?: boolean },
): Promise<ResolutionRun> {
  const began = Date.now()
  const combos = await queryRows<ComboRow>(
    store,
    `SELECT toString(identity_combo) AS combo, anonymous_id, device_id, customer_id, email_hash, phone_hash,
            loyalty_card, order_id, toUnixTimestamp64Milli(min(event_time)) AS first_time,
            toString(argMin(event_id, event_time)) AS first_event
     FROM {database:Identifier}.touchpoints
     GROUP BY identity_combo, anonymous_id, device_id, customer_id, email_hash, phone_hash, loyalty_card, order_id`,
  )
  const splits = await queryRows<{ identifier: string }>(
    store,
    `SELECT identifier FROM {database:Identifier}.identity_splits
     GROUP BY identifier HAVING argMax(active, created_at) = 1`,
  )
  const edges: IdentityEdge[] = combos.map((row) => ({
    event_id: row.first_event,
    event_time: Number(row.first_time),
    identifiers: asIdentifiers(row),
  }))
  const split = new Set(splits.map((row) => row.identifier))
  const resolution = resolveIdentities(edges, options.rules, split)

  const previous = await queryRows<{ identifier: string; person_id: string; status: string }>(
    store,
    `SELECT identifier, argMax(person_id, version) AS person_id, argMax(status, version) AS status
     FROM {database:Identifier}.identity_map GROUP BY identifier`,
  )
  const previousOf = new Map(previous.map((row) => [row.identifier, row]))
  const previousCombos = await queryRows<{ combo: string; person_id: string }>(
    store,
    `SELECT toString(combo) AS combo, argMax(person_id, version) AS person_id
     FROM {database:Identifier}.identity_combos GROUP BY combo`,
  )
  const previousComboOf = new Map(previousCombos.map((row) => [row.combo, row.person_id]))
  const lastVersion = await queryRows<{ version: number }>(
    store,
    'SELECT max(version) AS version FROM {database:Identifier}.identity_runs',
  )
  const version = Math.max(Date.now(), (lastVersion[0]?.version ?? 0) + 1)
  const at = new Date().toISOString().replace('T', ' ').replace('Z', '')

  // Identifiers seen with another one carry a linking event; the others are single so far.
  const linkedKeys = new Set(resolution.linkedBy.keys())
  const quarantined = new Set(resolution.quarantined.map((entry) => entry.identifier))
  const mapRows: object[] = []
  const audit: object[] = []
  const persons = new Set<string>()
  const membersOf = new Map<string, number>()
  for (const person of resolution.personOf.values()) membersOf.set(person, (membersOf.get(person) ?? 0) + 1)
  for (const [identifier, person] of resolution.personOf) {
    persons.add(person)
    const status = split.has(identifier)
      ? 'split'
      : quarantined.has(identifier)
        ? 'quarantined'
        : (membersOf.get(person) ?? 0) > 1
          ? 'linked'
          : 'single'
    const before = previousOf.get(identifier)
    if (before !== undefined && before.person_id === person && before.status === status) continue
    const linkedBy = resolution.linkedBy.get(identifier) ?? ''
    mapRows.push({
      identifier,
      kind: identifier.slice(0, identifier.indexOf(':')) as IdentifierKind,
      person_id: person,
      status,
      linked_by_event: linkedBy,
      people_seen: resolution.peopleSeen.get(identifier) ?? 0,
      version,
    })
    const action =
      status === 'quarantined' || status === 'split'
        ? status === 'quarantined'
          ? 'quarantine'
          : 'split'
        : before !== undefined && before.person_id !== person
          ? 'move'
          : status === 'linked'
            ? 'link'
            : 'new'
    audit.push({
      version,
      at,
      action,
      identifier,
      person_id: person,
      previous_person_id: before?.person_id ?? '',
      event_id: linkedKeys.has(identifier) ? linkedBy : '',
      detail:
        status === 'quarantined'
          ? `seen with ${resolution.peopleSeen.get(identifier) ?? 0} people; the limit for its kind is ${options.rules.maxPeople[identifier.slice(0, identifier.indexOf(':')) as IdentifierKind] ?? 'none'}`
          : status,
    })
  }
  const knownConflicts = new Set(
    (
      await queryRows<{ event_id: string }>(
        store,
        "SELECT DISTINCT event_id FROM {database:Identifier}.identity_audit WHERE action = 'conflict'",
      )
    ).map((row) => row.event_id),
  )
  for (const conflict of resolution.conflicts) {
    if (knownConflicts.has(conflict.event_id)) continue
    knownConflicts.add(conflict.event_id)
    audit.push({
      version,
      at,
      action: 'conflict',
      identifier: conflict.customer_ids.join(' '),
      person_id: '',
      previous_person_id: '',
      event_id: conflict.event_id,
      detail: `an event carried ${conflict.customer_ids.length} customer ids; they were not merged`,
    })
  }
  const comboRows: object[] = []
  combos.forEach((row) => {
    const person = personOfIdentifiers(asIdentifiers(row), resolution, options.rules) ?? ''
    if (previousComboOf.get(row.combo) === person) return
    comboRows.push({ combo: row.combo, person_id: person, version })
  })

  const insert = async (table: string, values: object[]) => {
    if (values.length === 0) return
    await store.client.insert({ table: `${store.database}.${table}`, values, format: 'JSONEachRow' })
  }
  // The combinations last: until they are written, queries see the previous people, never a half-written run.
  await insert('identity_map', mapRows)
  await insert('identity_audit', audit)
  await insert('identity_combos', comboRows)
  const run: ResolutionRun = {
    version,
    combos: combos.length,
    identifiers: resolution.personOf.size,
    persons: persons.size,
    quarantined: resolution.quarantined.length,
    conflicts: resolution.conflicts.length,
    changes: mapRows.length + comboRows.length,
    milliseconds: Date.now() - began,
  }
  await insert('identity_runs', [
    {
      version,
      started_at: new Date(began).toISOString().replace('T', ' ').replace('Z', ''),
      finished_at: at,
      combos: run.combos,
      identifiers: run.identifiers,
      persons: run.persons,
      quarantined: run.quarantined,
      conflicts: run.conflicts,
      changes: run.changes,
    },
  ])
  if (options.refreshViews ?? true) await refreshDerivedViews(store)
  options.logger.info(run, 'identities resolved')
  return run
}

/** Recomputes orders, journeys, persons and daily figures now, and waits for them (they also refresh every minute). */
export async function refreshDerivedViews(store: Store): Promise<void> {
  if (store.cluster !== undefined) return // each node refreshes on its schedule; see docs/OPERATIONS.md
  for (const view of derivedViews) {
    const name = `\`${store.database}\`.${view}`
    await store.client.command({ query: `SYSTEM REFRESH VIEW ${name}` })
    await store.client.command({ query: `SYSTEM WAIT VIEW ${name}` })
  }
}

/** `omnistitch identity split|unsplit`: records the operator's decision; the next run applies it. */
export async function recordSplit(store: Store, identifier: string, active: boolean, reason: string): Promise<void> {
  await store.client.insert({
    table: `${store.database}.identity_splits`,
    values: [
      {
        identifier,
        active: active ? 1 : 0,
        reason,
        created_at: new Date().toISOString().replace('T', ' ').replace('Z', ''),
      },
    ],
    format: 'JSONEachRow',
  })
  await store.client.insert({
    table: `${store.database}.identity_audit`,
    values: [
      {
        version: Date.now(),
        at: new Date().toISOString().replace('T', ' ').replace('Z', ''),
        action: active ? 'split' : 'unsplit',
        identifier,
        person_id: '',
        previous_person_id: '',
        event_id: '',
        detail: reason,
      },
    ],
    format: 'JSONEachRow',
  })
}
