import crypto from 'node:crypto'
import type { ClickHouseSettings } from '@clickhouse/client'
import { insertRows, queryRows, type Store } from '../runtime/clickhouse-store.ts'
import { quoteIdentifier } from '../runtime/cluster-ddl.ts'
import { identifierPriority, type Identifiers } from '../schemas/capture-events.ts'
import type { IdentityRules } from './identity-graph.ts'

/**
 * The identity graph as ClickHouse keeps it between resolver runs (migration 0009, docs/ARCHITECTURE.md D21): the
 * inbox of combinations loaded, each identifier's raw component, each component's edges, and the runs' journal. Only
 * reads and writes live here; what to do with them is consumers/identity-resolver.ts.
 */

/** A combination of identifiers seen together, with its earliest event (time, then event id). */
export interface Edge {
  readonly combo: string
  readonly identifiers: Identifiers
  readonly first_time: number
  readonly first_event: string
}

/** An edge as stored, with the component it is stored under. */
export interface StoredEdge extends Edge {
  readonly component: string
}

const identifierColumns = [...identifierPriority, 'order_id'] as const

interface EdgeRow {
  combo: string
  component?: string
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

const edgeOf = (row: EdgeRow): Edge => ({
  combo: row.combo,
  identifiers: {
    anonymous_id: row.anonymous_id,
    device_id: row.device_id,
    customer_id: row.customer_id,
    email_hash: row.email_hash,
    phone_hash: row.phone_hash,
    loyalty_card: row.loyalty_card,
    order_id: row.order_id,
  },
  first_time: Number(row.first_time),
  first_event: row.first_event,
})

/**
 * Settings for the resolver's writes: in cluster mode an insert into a Distributed table returns only once every shard
 * has it, so the next run (or a rival process reading the lease) sees it; the default queues it for the background.
 */
export const writeSettings = (store: Store): ClickHouseSettings =>
  store.cluster === undefined ? {} : { insert_distributed_sync: 1 }

/** Epoch milliseconds as ClickHouse's DateTime64 text, in UTC. */
export const utcText = (ms: number) => new Date(ms).toISOString().replace('T', ' ').replace('Z', '')

/** True when edge `a` comes before `b` in the order a run takes edges (time, then event id). */
export function earlier(a: Pick<Edge, 'first_time' | 'first_event'>, b: Pick<Edge, 'first_time' | 'first_event'>) {
  return a.first_time < b.first_time || (a.first_time === b.first_time && a.first_event < b.first_event)
}

/** The server's clock, in epoch milliseconds: every watermark is on it, whatever the clocks of the processes. */
export async function serverNow(store: Store): Promise<number> {
  const [row] = await queryRows<{ now: number }>(store, 'SELECT toUnixTimestamp64Milli(now64(3)) AS now')
  return Number(row?.now)
}

/** Every combination stored in `touchpoints`, with its earliest event: what a full rebuild resolves. */
export async function readAllEdges(store: Store): Promise<Edge[]> {
  const rows = await queryRows<EdgeRow>(
    store,
    `SELECT toString(identity_combo) AS combo, anonymous_id, device_id, customer_id, email_hash, phone_hash,
            loyalty_card, order_id, toUnixTimestamp64Milli(min(event_time)) AS first_time,
            argMin(toString(event_id), (event_time, toString(event_id))) AS first_event
     FROM {database:Identifier}.touchpoints
     GROUP BY identity_combo, anonymous_id, device_id, customer_id, email_hash, phone_hash, loyalty_card, order_id`,
  )
  return rows.map(edgeOf)
}

/** The combinations loaded since `fromMs` (server clock), one per combination, with the earliest event among them. */
export async function readInbox(store: Store, fromMs: number): Promise<Edge[]> {
  const rows = await queryRows<EdgeRow>(
    store,
    `SELECT toString(combo) AS combo, any(anonymous_id) AS anonymous_id, any(device_id) AS device_id,
            any(customer_id) AS customer_id, any(email_hash) AS email_hash, any(phone_hash) AS phone_hash,
            any(loyalty_card) AS loyalty_card, any(order_id) AS order_id,
            toUnixTimestamp64Milli(min(inbox.first_time)) AS first_time,
            argMin(inbox.first_event, (inbox.first_time, inbox.first_event)) AS first_event
     FROM {database:Identifier}.identity_inbox AS inbox
     WHERE loaded_at >= fromUnixTimestamp64Milli({from:Int64})
     GROUP BY combo`,
    { from: fromMs },
  )
  return rows.map(edgeOf)
}

/** The stored component of each of these identifiers that has one. */
export async function readNodes(store: Store, identifiers: readonly string[]): Promise<Map<string, string>> {
  const nodes = new Map<string, string>()
  for (const chunk of chunks(identifiers)) {
    const rows = await queryRows<{ identifier: string; component: string }>(
      store,
      `SELECT identifier, toString(argMax(component, version)) AS component
       FROM {database:Identifier}.identity_nodes WHERE identifier IN (SELECT arrayJoin({keys:Array(String)})) GROUP BY identifier`,
      { keys: chunk },
    )
    for (const row of rows) nodes.set(row.identifier, row.component)
  }
  return nodes
}

/** The live edges stored under these components. */
export async function readComponentEdges(store: Store, components: readonly string[]): Promise<StoredEdge[]> {
  const edges: StoredEdge[] = []
  for (const chunk of chunks(components)) {
    const rows = await queryRows<EdgeRow & { component: string }>(
      store,
      `SELECT toString(component) AS component, toString(combo) AS combo, anonymous_id, device_id, customer_id,
              email_hash, phone_hash, loyalty_card, order_id, toUnixTimestamp64Milli(first_time) AS first_time,
              first_event
       FROM {database:Identifier}.identity_edges FINAL
       WHERE component IN (SELECT arrayJoin({components:Array(UInt64)})) AND deleted = 0`,
      { components: chunk.map((component) => BigInt(component)) },
    )
    for (const row of rows) edges.push({ ...edgeOf(row), component: row.component })
  }
  return edges
}

/** Writes edges under their components; `deleted` ones end the edge's life under that component. */
export async function writeEdges(
  store: Store,
  edges: readonly (StoredEdge & { deleted?: boolean })[],
  version: number,
): Promise<void> {
  await insertRows(
    store,
    'identity_edges',
    ['component', 'combo', ...identifierColumns, 'first_time', 'first_event', 'version', 'deleted'],
    edges.map((edge) => ({
      component: edge.component,
      combo: edge.combo,
      ...edge.identifiers,
      first_time: utcText(edge.first_time),
      first_event: edge.first_event,
      version,
      deleted: edge.deleted === true ? 1 : 0,
    })),
    writeSettings(store),
  )
}

export async function writeNodes(
  store: Store,
  nodes: readonly { identifier: string; component: string }[],
  version: number,
): Promise<void> {
  await insertRows(
    store,
    'identity_nodes',
    ['identifier', 'component', 'version'],
    nodes.map((node) => ({ ...node, version })),
    writeSettings(store),
  )
}

/** Empties the graph before a full rebuild writes it anew. */
export async function clearGraph(store: Store): Promise<void> {
  for (const table of ['identity_nodes', 'identity_edges']) {
    const target =
      store.cluster === undefined
        ? `${quoteIdentifier(store.database)}.${table}`
        : `${quoteIdentifier(store.database)}.${table}_local ON CLUSTER ${quoteIdentifier(store.cluster)}`
    await store.client.command({ query: `TRUNCATE TABLE IF EXISTS ${target}` })
  }
}

/** A component's id: from the identifier it was first named after; it keeps it when it grows. */
export function componentIdOf(identifier: string): string {
  return BigInt(`0x${crypto.createHash('sha256').update(identifier).digest('hex').slice(0, 16)}`).toString()
}

/** A fingerprint of the rules: a run whose rules differ from the last run's rebuilds. */
export function rulesFingerprint(rules: IdentityRules): string {
  const text = JSON.stringify([
    [...rules.junkValues].sort(),
    rules.junkCardPattern.source,
    Object.entries(rules.maxPeople).sort(([a], [b]) => a.localeCompare(b)),
    rules.priority,
  ])
  return crypto.createHash('sha256').update(text).digest('hex').slice(0, 16)
}

export interface JournalRow {
  readonly version: number
  readonly mode: 'incremental' | 'rebuild'
  readonly finished: boolean
  readonly inbox_from: number
  readonly rules: string
  readonly components: readonly string[]
  /** Persons and quarantined identifiers in the store after the run. */
  readonly persons: number
  readonly quarantined: number
  /** The journey settings the derived tables were computed with. */
  readonly derived: string
  /** The persons whose derived rows the run recomputes. */
  readonly persons_in_scope: readonly string[]
}

/**
 * The newest finished run and every run begun after it: where the inbox is read from, with which rules, and which
 * components a run that died while writing left to recompute.
 */
export async function readJournal(store: Store): Promise<JournalRow[]> {
  const rows = await queryRows<{
    version: number
    mode: string
    finished: number
    inbox_from: number
    rules: string
    components: string[]
    persons: number
    quarantined: number
    derived: string
    persons_in_scope: string[]
  }>(
    store,
    `SELECT version, mode, finished, toUnixTimestamp64Milli(inbox_from) AS inbox_from, rules,
            arrayMap(c -> toString(c), components) AS components, persons, quarantined, derived,
            persons_in_scope
     FROM {database:Identifier}.identity_runs
     WHERE version >= (SELECT max(version) FROM {database:Identifier}.identity_runs WHERE finished = 1)
     ORDER BY version, finished`,
  )
  return rows.map((row) => ({
    version: Number(row.version),
    mode: row.mode === 'incremental' ? 'incremental' : 'rebuild',
    finished: Number(row.finished) === 1,
    inbox_from: Number(row.inbox_from),
    rules: row.rules,
    components: row.components,
    persons: Number(row.persons),
    quarantined: Number(row.quarantined),
    derived: row.derived,
    persons_in_scope: row.persons_in_scope,
  }))
}

/** A journal row: the run's start (finished = false, with the components it is about to write) or its end. */
export async function writeJournal(
  store: Store,
  row: {
    version: number
    mode: 'incremental' | 'rebuild'
    finished: boolean
    startedAt: number
    inboxFrom: number
    rules: string
    components: readonly string[]
    derived?: string
    personsInScope?: readonly string[]
    counts: {
      combos: number
      identifiers: number
      persons: number
      quarantined: number
      conflicts: number
      changes: number
    }
  },
): Promise<void> {
  await store.client.insert({
    table: `${store.database}.identity_runs`,
    values: [
      {
        version: row.version,
        started_at: utcText(row.startedAt),
        finished_at: utcText(Date.now()),
        ...row.counts,
        mode: row.mode,
        finished: row.finished ? 1 : 0,
        inbox_from: utcText(row.inboxFrom),
        rules: row.rules,
        components: row.components,
        derived: row.derived ?? '',
        persons_in_scope: row.personsInScope ?? [],
      },
    ],
    format: 'JSONEachRow',
    clickhouse_settings: writeSettings(store),
  })
}

/**
 * Lists cut into pieces for one bound parameter each. Keys are matched with `IN (SELECT arrayJoin({keys}))`: the
 * engine builds a set from the array and uses the sorting key; `IN {keys}` took 100 s for 100,000 keys here.
 */
function* chunks<T>(items: readonly T[], size = 50_000): Generator<T[]> {
  for (let start = 0; start < items.length; start += size) yield items.slice(start, start + size)
}
