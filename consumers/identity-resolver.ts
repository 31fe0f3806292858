import { queryRows, type Store } from '../runtime/clickhouse-store.ts'
import type { Config } from '../runtime/config.ts'
import type { Logger } from '../runtime/logger.ts'
import { quoteIdentifier } from '../runtime/cluster-ddl.ts'
import {
  identityRulesOf,
  personOfIdentifiers,
  resolveIdentities,
  usableIdentifiers,
  type IdentifierKind,
  type IdentityEdge,
  type IdentityResolution,
  type IdentityRules,
} from './identity-graph.ts'
import { journeyFingerprint, refreshDerived, type DerivedScope } from './derived-data.ts'
import { readStoredSettings } from './stored-settings.ts'
import {
  clearGraph,
  componentIdOf,
  earlier,
  readAllEdges,
  readComponentEdges,
  readInbox,
  readJournal,
  readNodes,
  rulesFingerprint,
  serverNow,
  writeEdges,
  writeJournal,
  writeNodes,
  writeSettings,
  type Edge,
  type StoredEdge,
} from './identity-state.ts'

export interface ResolutionRun {
  /** incremental: the components the new combinations touch; rebuild: everything stored. */
  readonly mode: 'incremental' | 'rebuild'
  readonly version: number
  /** Combinations read: from the inbox (incremental) or from every touchpoint (rebuild). */
  readonly combos: number
  /** Identifiers recomputed. */
  readonly identifiers: number
  /** Persons and quarantined identifiers in the whole store after the run. */
  readonly persons: number
  readonly quarantined: number
  /** Conflicts (an event with two customer ids) in what was recomputed. */
  readonly conflicts: number
  /** Persons and events whose orders, journeys and daily figures were recomputed. */
  readonly derived_persons: number
  readonly derived_events: number
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

/** Identifiers that are keys of the previous map, with what a run compares. */
interface MapRow {
  identifier: string
  person_id: string
  status: string
  linked_by_event: string
  people_seen: number
}

async function readMapRows(store: Store, identifiers: readonly string[] | 'all'): Promise<Map<string, MapRow>> {
  const select = `SELECT identifier, argMax(person_id, version) AS person_id, argMax(status, version) AS status,
                         argMax(linked_by_event, version) AS linked_by_event, argMax(people_seen, version) AS people_seen
                  FROM {database:Identifier}.identity_map`
  let rows: MapRow[] = []
  if (identifiers === 'all') rows = await queryRows<MapRow>(store, `${select} GROUP BY identifier`)
  else {
    for (let start = 0; start < identifiers.length; start += 50_000) {
      const keys = identifiers.slice(start, start + 50_000)
      rows.push(
        ...(await queryRows<MapRow>(
          store,
          `${select} WHERE identifier IN (SELECT arrayJoin({keys:Array(String)})) GROUP BY identifier`,
          {
            keys,
          },
        )),
      )
    }
  }
  return new Map(rows.map((row) => [row.identifier, { ...row, people_seen: Number(row.people_seen) }]))
}

async function readComboPersons(store: Store, combos: readonly string[] | 'all'): Promise<Map<string, string>> {
  const select = `SELECT toString(combo) AS combo, argMax(person_id, version) AS person_id
                  FROM {database:Identifier}.identity_combos`
  let rows: { combo: string; person_id: string }[] = []
  if (combos === 'all') rows = await queryRows<(typeof rows)[number]>(store, `${select} GROUP BY combo`)
  else {
    for (let start = 0; start < combos.length; start += 50_000) {
      const keys = combos.slice(start, start + 50_000).map((combo) => BigInt(combo))
      rows.push(
        ...(await queryRows<(typeof rows)[number]>(
          store,
          `${select} WHERE combo IN (SELECT arrayJoin({keys:Array(UInt64)})) GROUP BY combo`,
          { keys },
        )),
      )
    }
  }
  return new Map(rows.map((row) => [row.combo, row.person_id]))
}

/** The operator's splits: every identifier ever split, and whether its newest decision is to keep it split. */
async function readSplits(store: Store): Promise<Map<string, boolean>> {
  const rows = await queryRows<{ identifier: string; active: number }>(
    store,
    `SELECT identifier, argMax(active, created_at) AS active FROM {database:Identifier}.identity_splits
     GROUP BY identifier`,
  )
  return new Map(rows.map((row) => [row.identifier, Number(row.active) === 1]))
}

/** Persons and quarantined identifiers in the whole map: a scan, done only after a run that died while writing. */
async function countPersons(store: Store): Promise<{ persons: number; quarantined: number }> {
  const [row] = await queryRows<{ persons: number; quarantined: number }>(
    store,
    `SELECT uniqExact(person_id) AS persons, countIf(status = 'quarantined') AS quarantined
     FROM (SELECT argMax(person_id, version) AS person_id, argMax(status, version) AS status
           FROM {database:Identifier}.identity_map GROUP BY identifier)`,
  )
  return { persons: Number(row?.persons ?? 0), quarantined: Number(row?.quarantined ?? 0) }
}

const asIdentityEdge = (edge: Edge): IdentityEdge => ({
  event_id: edge.first_event,
  event_time: edge.first_time,
  identifiers: edge.identifiers,
})

/** Identifiers in sets: which ones any edge connects (raw components, whatever the rules let merge). */
class Components {
  private readonly parent = new Map<string, string>()
  root(key: string): string {
    let root = key
    for (let next = this.parent.get(root); next !== undefined && next !== root; next = this.parent.get(root)) {
      root = next
    }
    for (let node = key; node !== root;) {
      const next = this.parent.get(node) ?? root
      this.parent.set(node, root)
      node = next
    }
    return root
  }
  join(keys: readonly string[]): void {
    const [first, ...rest] = keys
    if (first === undefined) return
    let root = this.root(first)
    for (const key of rest) {
      const other = this.root(key)
      if (other === root) continue
      const [keep, drop] = root < other ? [root, other] : [other, root]
      this.parent.set(drop, keep)
      root = keep
    }
  }
}

interface Changes {
  /** Persons and quarantined identifiers among the recomputed identifiers before the run. */
  personsBefore: number
  quarantinedBefore: number
  identifiers: number
  mapRows: object[]
  audit: object[]
  comboRows: object[]
  /** person_combos rows: a combination under its new person, and deleted under its previous one. */
  personComboRows: object[]
  /** The person of every edge resolved (the empty string for none). */
  personOfCombo: Map<string, string>
  /** The persons of the edges resolved, before and after: whose derived rows are recomputed. */
  scopePersons: Set<string>
  persons: number
  quarantined: number
  conflicts: number
}

/**
 * What a resolution changes against the stored map and combinations: map rows whose person, status, linking event or
 * people count differ, the audit rows that say why, the combinations whose person differs, and conflicts not yet
 * recorded. Shared by the incremental run (a few components) and the rebuild (all of them): both write only changes.
 */
async function changesOf(
  store: Store,
  input: {
    resolution: IdentityResolution
    edges: readonly Edge[]
    previousMap: ReadonlyMap<string, MapRow>
    previousCombos: ReadonlyMap<string, string>
    split: ReadonlySet<string>
    rules: IdentityRules
    version: number
  },
): Promise<Changes> {
  const { resolution, previousMap, previousCombos, split, rules, version } = input
  const at = new Date().toISOString().replace('T', ' ').replace('Z', '')
  const linkedKeys = new Set(resolution.linkedBy.keys())
  const quarantined = new Set(resolution.quarantined.map((entry) => entry.identifier))
  const mapRows: object[] = []
  const audit: object[] = []
  const persons = new Set<string>()
  let quarantinedNow = 0
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
    if (status === 'quarantined') quarantinedNow += 1
    const linkedBy = resolution.linkedBy.get(identifier) ?? ''
    const peopleSeen = resolution.peopleSeen.get(identifier) ?? 0
    const before = previousMap.get(identifier)
    if (
      before !== undefined &&
      before.person_id === person &&
      before.status === status &&
      before.linked_by_event === linkedBy &&
      before.people_seen === peopleSeen
    ) {
      continue
    }
    const kind = identifier.slice(0, identifier.indexOf(':')) as IdentifierKind
    mapRows.push({
      identifier,
      kind,
      person_id: person,
      status,
      linked_by_event: linkedBy,
      people_seen: peopleSeen,
      version,
    })
    // A row rewritten only for its linking event or count is no news for the audit trail.
    if (before !== undefined && before.person_id === person && before.status === status) continue
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
          ? `seen with ${peopleSeen} people; the limit for its kind is ${rules.maxPeople[kind] ?? 'none'}`
          : status,
    })
  }
  const conflictEvents = resolution.conflicts.map((conflict) => conflict.event_id)
  const knownConflicts = new Set(
    conflictEvents.length === 0
      ? []
      : (
          await queryRows<{ event_id: string }>(
            store,
            `SELECT DISTINCT event_id FROM {database:Identifier}.identity_audit
             WHERE action = 'conflict' AND event_id IN (SELECT arrayJoin({events:Array(String)}))`,
            { events: conflictEvents },
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
  const personComboRows: object[] = []
  const personOfCombo = new Map<string, string>()
  const scopePersons = new Set<string>()
  for (const edge of input.edges) {
    const person = personOfIdentifiers(edge.identifiers, resolution, rules) ?? ''
    personOfCombo.set(edge.combo, person)
    const before = previousCombos.get(edge.combo)
    if (person !== '') scopePersons.add(person)
    if (before !== undefined && before !== '') scopePersons.add(before)
    if (before === person) continue
    comboRows.push({ combo: edge.combo, person_id: person, version })
    if (person !== '') personComboRows.push({ person_id: person, combo: edge.combo, version, deleted: 0 })
    if (before !== undefined && before !== '') {
      personComboRows.push({ person_id: before, combo: edge.combo, version, deleted: 1 })
    }
  }
  const personsBefore = new Set<string>()
  let quarantinedBefore = 0
  for (const identifier of resolution.personOf.keys()) {
    const before = previousMap.get(identifier)
    if (before === undefined) continue
    personsBefore.add(before.person_id)
    if (before.status === 'quarantined') quarantinedBefore += 1
  }
  return {
    personsBefore: personsBefore.size,
    quarantinedBefore,
    identifiers: resolution.personOf.size,
    mapRows,
    audit,
    comboRows,
    personComboRows,
    personOfCombo,
    scopePersons,
    persons: persons.size,
    quarantined: quarantinedNow,
    conflicts: resolution.conflicts.length,
  }
}

/** Writes the changes; the combinations last: until they are written, queries see the previous people. */
async function writeChanges(store: Store, changes: Changes): Promise<void> {
  const insert = async (table: string, values: object[]) => {
    if (values.length === 0) return
    await store.client.insert({
      table: `${store.database}.${table}`,
      values,
      format: 'JSONEachRow',
      clickhouse_settings: writeSettings(store),
    })
  }
  await insert('identity_audit', changes.audit)
  await insert('identity_map', changes.mapRows)
  await insert('person_combos', changes.personComboRows)
  await insert('identity_combos', changes.comboRows)
}

/**
 * How long before a run's start the next run reads the inbox from: on a server, an insert stamped earlier may commit
 * later (another process's loader), so rows stamped within the margin are read again. In embedded mode the loader's
 * inserts and the resolver's reads go through one connection, one statement at a time: a row stamped before the run's
 * clock reading is committed, and no margin is needed.
 */
const inboxMarginMs = (store: Store) => (store.mode === 'embedded' ? 0 : 30_000)

/**
 * One resolver run (docs/ARCHITECTURE.md, D21). Incremental unless asked to rebuild, or unless the last run's rules
 * differ from these, no run has built the graph yet, or a rebuild died halfway: then a full rebuild.
 *
 * The incremental run reads the combinations loaded since the last run (`identity_inbox`), looks up the raw components
 * of their identifiers, and recomputes only the components that a new combination (or one with an earlier event than
 * known) joins or grows, plus those of identifiers whose split changed and those an interrupted run left. Identifiers
 * that no event connects never influence each other under any rule (junk, quarantine, customer-id conflicts,
 * naming), so resolving those components alone gives what a resolution of everything gives them: the property test
 * in test/identity-incremental.test.ts checks it against `rebuild` after every step. The resolver's memory is bounded
 * by the combinations loaded since the last run plus the edges of the components they touch, not by the store.
 *
 * The rebuild resolves every combination in `touchpoints`, writes what changed and writes the graph anew.
 */
export async function runIdentityResolution(
  store: Store,
  options: {
    rules: IdentityRules
    logger: Logger
    /** false leaves the derived tables as they are; the next cycle that derives rebuilds them (default true). */
    deriveTables?: boolean
    rebuild?: boolean
    inboxMarginMs?: number
  },
): Promise<ResolutionRun> {
  const began = Date.now()
  /** Milliseconds per phase of the run, for the log: where a slow run spends its time. */
  const phases: Record<string, number> = {}
  let lapStart = began
  const lap = (phase: string) => {
    const now = Date.now()
    phases[phase] = (phases[phase] ?? 0) + now - lapStart
    lapStart = now
  }
  const { rules } = options
  const now = await serverNow(store)
  const journal = await readJournal(store)
  const fingerprint = rulesFingerprint(rules)
  const lastFinished = journal.find((row) => row.finished)
  const unfinished = journal.filter((row) => !row.finished && row.version > (lastFinished?.version ?? -1))
  const version = Math.max(Date.now(), (journal.at(-1)?.version ?? 0) + 1)
  const inboxFrom = now - (options.inboxMarginMs ?? inboxMarginMs(store))
  const rebuild =
    options.rebuild === true ||
    lastFinished === undefined ||
    lastFinished.rules !== fingerprint ||
    unfinished.some((row) => row.mode === 'rebuild')
  const split = await readSplits(store)
  lap('journal')
  const activeSplits = new Set([...split].filter(([, active]) => active).map(([identifier]) => identifier))
  const keysOf = (edge: Edge) => usableIdentifiers(edge.identifiers, rules)

  let edges: Edge[]
  let changes: Changes
  let written: { nodes: { identifier: string; component: string }[]; edges: (StoredEdge & { deleted?: boolean })[] }
  let components: string[] = []
  let combosRead: number
  /** The inbox's combinations with a usable identifier, and those without (each of their events is nobody's). */
  let inboxResolvable: string[] = []
  let inboxUnresolvable: string[] = []
  if (rebuild) {
    edges = await readAllEdges(store)
    lap('read')
    combosRead = edges.length
    const resolution = resolveIdentities(edges.map(asIdentityEdge), rules, activeSplits)
    lap('resolve')
    changes = await changesOf(store, {
      resolution,
      edges,
      previousMap: await readMapRows(store, 'all'),
      previousCombos: await readComboPersons(store, 'all'),
      split: activeSplits,
      rules,
      version,
    })
    const sets = new Components()
    for (const edge of edges) sets.join(keysOf(edge))
    const idOf = new Map<string, string>()
    written = { nodes: [], edges: [] }
    for (const edge of edges) {
      const keys = keysOf(edge)
      if (keys.length === 0) continue
      const root = sets.root(keys[0] ?? '')
      const component = idOf.get(root) ?? componentIdOf(root)
      idOf.set(root, component)
      written.edges.push({ ...edge, component })
    }
    for (const edge of edges) {
      for (const key of keysOf(edge)) {
        const component = idOf.get(sets.root(key)) ?? ''
        written.nodes.push({ identifier: key, component })
      }
    }
    written.nodes = [...new Map(written.nodes.map((node) => [node.identifier, node])).values()]
  } else {
    const inbox = await readInbox(store, lastFinished.inbox_from)
    combosRead = inbox.length
    lap('inbox')
    const lookup = new Set<string>(split.keys())
    for (const edge of inbox) for (const key of keysOf(edge)) lookup.add(key)
    const nodes = await readNodes(store, [...lookup])
    lap('nodes')
    const pending = new Set(unfinished.flatMap((row) => row.components))
    const stored = await readComponentEdges(store, [...new Set([...nodes.values(), ...pending])])
    lap('edges')
    const edgeOf = new Map<string, Edge>()
    const storedUnder = new Map<string, Map<string, Edge>>()
    for (const edge of stored) {
      const known = edgeOf.get(edge.combo)
      if (known === undefined || earlier(edge, known)) edgeOf.set(edge.combo, edge)
      const under = storedUnder.get(edge.combo) ?? new Map<string, Edge>()
      under.set(edge.component, edge)
      storedUnder.set(edge.combo, under)
    }
    const sets = new Components()
    const dirtyKeys: string[] = []
    const unresolvable: Edge[] = []
    for (const edge of inbox) {
      const keys = keysOf(edge)
      if (keys.length === 0) {
        unresolvable.push(edge)
        continue
      }
      const known = edgeOf.get(edge.combo)
      if (known !== undefined && !earlier(edge, known)) continue
      edgeOf.set(edge.combo, edge)
      dirtyKeys.push(keys[0] ?? '')
    }
    for (const edge of edgeOf.values()) sets.join(keysOf(edge))
    for (const edge of stored) if (pending.has(edge.component)) dirtyKeys.push(keysOf(edge)[0] ?? '')
    const splitStatus = await readMapRows(
      store,
      [...split.keys()].filter((identifier) => nodes.has(identifier)),
    )
    for (const [identifier, active] of split) {
      const row = splitStatus.get(identifier)
      if (row !== undefined && active !== (row.status === 'split')) dirtyKeys.push(identifier)
    }
    inboxUnresolvable = unresolvable.map((edge) => edge.combo)
    inboxResolvable = inbox.filter((edge) => keysOf(edge).length > 0).map((edge) => edge.combo)
    const dirtyRoots = new Set(dirtyKeys.map((key) => sets.root(key)))
    edges = [...edgeOf.values()].filter((edge) => dirtyRoots.has(sets.root(keysOf(edge)[0] ?? '')))
    lap('components')
    const resolution = resolveIdentities(edges.map(asIdentityEdge), rules, activeSplits)
    lap('resolve')
    const identifiers = [...resolution.personOf.keys()]
    const unknownNodes = identifiers.filter((identifier) => !nodes.has(identifier))
    for (const [identifier, component] of await readNodes(store, unknownNodes)) nodes.set(identifier, component)

    // Each recomputed component keeps the id under which most of its edges are stored: fewest rows move.
    const edgesOfRoot = new Map<string, Edge[]>()
    for (const edge of edges) {
      const root = sets.root(keysOf(edge)[0] ?? '')
      edgesOfRoot.set(root, [...(edgesOfRoot.get(root) ?? []), edge])
    }
    const targetOf = new Map<string, string>()
    for (const [root, members] of edgesOfRoot) {
      const counts = new Map<string, number>()
      for (const edge of members) {
        for (const component of storedUnder.get(edge.combo)?.keys() ?? []) {
          counts.set(component, (counts.get(component) ?? 0) + 1)
        }
      }
      const best = [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))[0]?.[0]
      targetOf.set(root, best ?? componentIdOf(root))
    }
    written = { nodes: [], edges: [] }
    const touched = new Set<string>()
    for (const edge of edges) {
      const target = targetOf.get(sets.root(keysOf(edge)[0] ?? '')) ?? ''
      touched.add(target)
      const under = storedUnder.get(edge.combo) ?? new Map<string, Edge>()
      const same = under.get(target)
      if (same === undefined || same.first_time !== edge.first_time || same.first_event !== edge.first_event) {
        written.edges.push({ ...edge, component: target })
      }
      for (const [component, old] of under) {
        touched.add(component)
        if (component !== target) written.edges.push({ ...old, component, deleted: true })
      }
    }
    for (const identifier of identifiers) {
      const target = targetOf.get(sets.root(identifier)) ?? ''
      const before = nodes.get(identifier)
      if (before !== undefined) touched.add(before)
      if (before !== target) written.nodes.push({ identifier, component: target })
    }
    components = [...touched]
    changes = await changesOf(store, {
      resolution,
      edges: [...edges, ...unresolvable],
      previousMap: await readMapRows(store, identifiers),
      previousCombos: await readComboPersons(
        store,
        [...edges, ...unresolvable].map((edge) => edge.combo),
      ),
      split: activeSplits,
      rules,
      version,
    })
  }

  // Totals: a rebuild counts them; an incremental run adds what changed in the components it recomputed, except
  // after a run that died while writing (its changes may be half in the map): then they are counted once, in full.
  const totals = rebuild
    ? { persons: changes.persons, quarantined: changes.quarantined }
    : unfinished.length > 0
      ? undefined
      : {
          persons: (lastFinished?.persons ?? 0) + changes.persons - changes.personsBefore,
          quarantined: (lastFinished?.quarantined ?? 0) + changes.quarantined - changes.quarantinedBefore,
        }
  lap('changes')
  const counts = {
    combos: combosRead,
    identifiers: changes.identifiers,
    persons: totals?.persons ?? 0,
    quarantined: totals?.quarantined ?? 0,
    conflicts: changes.conflicts,
    changes: changes.mapRows.length + changes.comboRows.length,
  }
  const mode = rebuild ? 'rebuild' : 'incremental'

  // The derived tables: everything after a rebuild or a change of the journey settings; else the persons of the
  // resolved combinations (before and after), of the other combinations loaded (new events of known persons), and of
  // a cycle that died; plus the new events nobody can be named for.
  const derive = options.deriveTables ?? true
  const journeys = journeyFingerprint((await readStoredSettings(store)).journeys)
  const deriveAll = derive && (rebuild || lastFinished?.derived !== journeys)
  const scopePersons = new Set(changes.scopePersons)
  if (derive && !deriveAll) {
    for (const row of unfinished) for (const person of row.persons_in_scope) scopePersons.add(person)
    const others = inboxResolvable.filter((combo) => !changes.personOfCombo.has(combo))
    for (const person of (await readComboPersons(store, others)).values()) if (person !== '') scopePersons.add(person)
  }
  const scope: DerivedScope | 'all' | undefined = !derive
    ? undefined
    : deriveAll
      ? 'all'
      : scopePersons.size + inboxUnresolvable.length > 0
        ? {
            persons: [...scopePersons],
            anonymousCombos: inboxUnresolvable,
            anonymousFrom: lastFinished?.inbox_from ?? 0,
          }
        : undefined
  lap('scope')

  const journalRow = {
    version,
    mode,
    startedAt: began,
    inboxFrom,
    rules: fingerprint,
    components,
    personsInScope: scope === undefined || scope === 'all' ? [] : scope.persons,
  } as const
  const writes = written.nodes.length + written.edges.length + changes.audit.length + counts.changes
  if (writes > 0 || rebuild || scope !== undefined) {
    await writeJournal(store, { ...journalRow, finished: false, counts })
    if (rebuild) {
      await clearGraph(store)
      await truncate(store, 'person_combos')
      changes.personComboRows = [...changes.personOfCombo]
        .filter(([, person]) => person !== '')
        .map(([combo, person]) => ({ person_id: person, combo, version, deleted: 0 }))
    }
    await writeEdges(store, written.edges, version)
    await writeNodes(store, written.nodes, version)
    await writeChanges(store, changes)
  }
  lap('write')
  const derived = scope === undefined ? undefined : await refreshDerived(store, version, scope)
  lap('derived')
  if (totals === undefined) Object.assign(counts, await countPersons(store))
  // A run that read nothing leaves the journal as it was: an idle pipeline writes no row every interval.
  if (rebuild || combosRead > 0 || unfinished.length > 0 || scope !== undefined) {
    const derivedWith = derive ? journeys : ''
    await writeJournal(store, { ...journalRow, finished: true, counts, derived: derivedWith })
  }
  const run: ResolutionRun = {
    mode,
    version,
    ...counts,
    derived_persons: derived?.persons ?? 0,
    derived_events: derived?.events ?? 0,
    milliseconds: Date.now() - began,
  }
  options.logger.info({ ...run, phases }, 'identities resolved')
  return run
}

/** Empties a table (every node's, in cluster mode). */
async function truncate(store: Store, table: string): Promise<void> {
  const name = `${quoteIdentifier(store.database)}.${table}`
  const target = store.cluster === undefined ? name : `${name}_local ON CLUSTER ${quoteIdentifier(store.cluster)}`
  await store.client.command({ query: `TRUNCATE TABLE IF EXISTS ${target}` })
}

/**
 * Asks whoever runs the resolver next to rebuild: a journal row of a rebuild that has not finished, which is what a
 * run takes as its cue (`omnistitch identity rebuild` while a consumer holds the lease).
 */
export async function requestRebuild(store: Store): Promise<void> {
  const [last] = await queryRows<{ version: number }>(
    store,
    'SELECT max(version) AS version FROM {database:Identifier}.identity_runs',
  )
  const now = Date.now()
  await writeJournal(store, {
    version: Math.max(now, Number(last?.version ?? 0) + 1),
    mode: 'rebuild',
    finished: false,
    startedAt: now,
    inboxFrom: now,
    rules: '',
    components: [],
    counts: { combos: 0, identifiers: 0, persons: 0, quarantined: 0, conflicts: 0, changes: 0 },
  })
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
