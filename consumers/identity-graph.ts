import crypto from 'node:crypto'
import { settings } from '../runtime/config.ts'
import type { identifierPriority, Identifiers } from '../schemas/capture-events.ts'

/**
 * An identifier kind that can link events to a person. Order ids come last: they tie an order's later events (a
 * courier's, a pickup point's, which often carry nothing else) to the person who placed it, but never name a person
 * who has any other identifier.
 */
export type IdentifierKind = (typeof identifierPriority)[number] | 'order_id'

/** The identifiers one event carried together: the evidence that they belong to one person. */
export interface IdentityEdge {
  readonly event_id: string
  readonly event_time: number
  readonly identifiers: Identifiers
}

export interface IdentityRules {
  /** Values that are never identifiers, whatever their kind (compared after trimming, case-insensitively). */
  readonly junkValues: readonly string[]
  /** Loyalty cards made only of zeros (after a prefix) are junk too. */
  readonly junkCardPattern: RegExp
  /**
   * How many different people (anchor components: customer id, e-mail, phone) an identifier of this kind may be seen
   * with before it is quarantined: kept, but never used to merge.
   */
  readonly maxPeople: Readonly<Partial<Record<IdentifierKind, number>>>
  /** Identifier kinds from most to least stable: a person is named after its most stable identifier. */
  readonly priority: readonly (typeof identifierPriority)[number][]
}

/** Loyalty cards made only of zeros after a prefix: placeholders a till prints when no card was shown. */
const allZeroCard = /^\d*?0{6,}$/

/**
 * The rules from the operator's settings (OMNISTITCH_IDENTITY_JUNK_VALUES, _MAX_PEOPLE, _PRIORITY): empty values are
 * always junk, and an order id names one person unless a limit for order ids is set.
 */
export function identityRulesOf(chosen: {
  readonly junkValues: readonly string[]
  readonly maxPeople: Readonly<Record<string, number>>
  readonly priority: readonly string[]
}): IdentityRules {
  return {
    junkValues: ['', ...chosen.junkValues],
    junkCardPattern: allZeroCard,
    maxPeople: { order_id: 1, ...chosen.maxPeople },
    priority: chosen.priority as IdentityRules['priority'],
  }
}

/** The rules when nothing else is said: the defaults of the settings in runtime/config.ts, their one home. */
export const defaultIdentityRules: IdentityRules = identityRulesOf({
  junkValues: settings.identityJunkValues.fallback,
  maxPeople: settings.identityMaxPeople.fallback,
  priority: settings.identityPriority.fallback,
})

/** Kinds that anchor a person in the first pass: personal enough that two people rarely share one. */
const anchorKinds: readonly IdentifierKind[] = ['customer_id', 'email_hash', 'phone_hash']

export interface IdentityResolution {
  /** `kind:value` → person id, for every identifier that is not junk. */
  readonly personOf: ReadonlyMap<string, string>
  /** Identifiers seen with more people than their kind allows, with how many. */
  readonly quarantined: readonly { identifier: string; people: number }[]
  /** Merges refused because they would have joined two customer ids, with the event that asked for it. */
  readonly conflicts: readonly { event_id: string; customer_ids: string[] }[]
  /** Audit: which event first linked each identifier into its person. */
  readonly linkedBy: ReadonlyMap<string, string>
  /** Identifiers that never merge: the quarantined and the split. */
  readonly blocked: ReadonlySet<string>
  /** How many anchor people (customer ids, e-mails, phones) each limited identifier was seen with. */
  readonly peopleSeen: ReadonlyMap<string, number>
}

class UnionFind {
  private readonly parent = new Map<string, string>()
  /** The customer ids in each root's set: two different ones are never joined. */
  readonly customers = new Map<string, Set<string>>()
  find(key: string): string {
    let root = this.parent.get(key) ?? key
    if (!this.parent.has(key)) this.parent.set(key, key)
    while (root !== (this.parent.get(root) ?? root)) root = this.parent.get(root) ?? root
    let node = key
    while (node !== root) {
      const next = this.parent.get(node) ?? root
      this.parent.set(node, root)
      node = next
    }
    return root
  }
  /** Joins two sets unless both hold a customer id and they differ; returns false when refused. */
  union(a: string, b: string): boolean {
    const rootA = this.find(a)
    const rootB = this.find(b)
    if (rootA === rootB) return true
    const customersA = this.customers.get(rootA)
    const customersB = this.customers.get(rootB)
    if (customersA && customersB && ![...customersA].every((id) => customersB.has(id))) return false
    const [keep, drop] = rootA < rootB ? [rootA, rootB] : [rootB, rootA]
    this.parent.set(drop, keep)
    const merged = new Set([...(customersA ?? []), ...(customersB ?? [])])
    if (merged.size > 0) this.customers.set(keep, merged)
    this.customers.delete(drop)
    return true
  }
  keys(): IterableIterator<string> {
    return this.parent.keys()
  }
}

/** `kind:value` of the usable identifiers of an edge, junk removed, most stable first. */
export function usableIdentifiers(identifiers: Identifiers, rules: IdentityRules = defaultIdentityRules): string[] {
  const junk = new Set(rules.junkValues.map((value) => value.toLowerCase()))
  const keys: string[] = []
  for (const kind of [...rules.priority, 'order_id' as const]) {
    const value = identifiers[kind]
    if (value === null || junk.has(value.trim().toLowerCase())) continue
    if (kind === 'loyalty_card' && rules.junkCardPattern.test(value)) continue
    keys.push(`${kind}:${value}`)
  }
  return keys
}

const kindOf = (key: string) => key.slice(0, key.indexOf(':')) as IdentifierKind

/**
 * Resolves identifiers into people from the edges (identifiers seen together on one event). A pure function of the
 * edge set: edges are taken in (time, event id) order, so any process that sees the same edges gets the same people,
 * and splitting a person means recomputing without the edges that should not count.
 *
 * 1. Anchors first: customer ids, e-mails and phones seen together are joined, never two customer ids.
 * 2. Quarantine: an identifier of a kind with a limit that was seen with more anchor people than the limit (a family
 *    device, a generic store card) is kept but links nothing.
 * 3. Everything else is joined, under the same customer-id rule; a refused join is recorded as a conflict.
 */
export function resolveIdentities(
  edges: readonly IdentityEdge[],
  rules: IdentityRules = defaultIdentityRules,
  split: ReadonlySet<string> = new Set(),
): IdentityResolution {
  const ordered = [...edges].sort((a, b) => a.event_time - b.event_time || a.event_id.localeCompare(b.event_id))
  const keysOf = ordered.map((edge) => usableIdentifiers(edge.identifiers, rules))

  const anchors = new UnionFind()
  const register = (sets: UnionFind, key: string) => {
    const root = sets.find(key)
    if (kindOf(key) === 'customer_id' && !sets.customers.has(root)) sets.customers.set(root, new Set([key]))
  }
  ordered.forEach((edge, index) => {
    const strong = (keysOf[index] ?? []).filter((key) => anchorKinds.includes(kindOf(key)))
    for (const key of strong) register(anchors, key)
    for (const key of strong.slice(1)) anchors.union(strong[0] ?? key, key)
  })

  const peopleSeen = new Map<string, Set<string>>()
  ordered.forEach((_edge, index) => {
    const keys = keysOf[index] ?? []
    const roots = keys.filter((key) => anchorKinds.includes(kindOf(key))).map((key) => anchors.find(key))
    if (roots.length === 0) return
    for (const key of keys) {
      if (rules.maxPeople[kindOf(key)] === undefined) continue
      const seen = peopleSeen.get(key) ?? new Set<string>()
      for (const root of roots) seen.add(root)
      peopleSeen.set(key, seen)
    }
  })
  const quarantined: { identifier: string; people: number }[] = []
  for (const [key, seen] of peopleSeen) {
    if (seen.size > (rules.maxPeople[kindOf(key)] ?? Infinity)) quarantined.push({ identifier: key, people: seen.size })
  }
  const blocked = new Set([...quarantined.map((entry) => entry.identifier), ...split])

  const people = new UnionFind()
  const conflicts: { event_id: string; customer_ids: string[] }[] = []
  const linkedBy = new Map<string, string>()
  ordered.forEach((edge, index) => {
    const keys = keysOf[index] ?? []
    for (const key of keys) register(people, key)
    const linking = keys.filter((key) => !blocked.has(key))
    const [first, ...rest] = linking
    if (first === undefined) return
    for (const key of rest) {
      if (people.find(first) === people.find(key)) continue
      if (people.union(first, key)) {
        if (!linkedBy.has(key)) linkedBy.set(key, edge.event_id)
      } else {
        const ids = [
          ...(people.customers.get(people.find(first)) ?? []),
          ...(people.customers.get(people.find(key)) ?? []),
        ]
        conflicts.push({ event_id: edge.event_id, customer_ids: [...new Set(ids)].sort() })
      }
    }
  })

  // A person's id comes from the most stable identifier in it, so it stays put as people grow.
  const members = new Map<string, string[]>()
  for (const key of people.keys()) {
    const root = people.find(key)
    const list = members.get(root) ?? []
    list.push(key)
    members.set(root, list)
  }
  const personOf = new Map<string, string>()
  const rank = (key: string) => {
    const kind = kindOf(key)
    return kind === 'order_id' ? rules.priority.length : rules.priority.indexOf(kind)
  }
  for (const list of members.values()) {
    const best = [...list].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b))[0] ?? ''
    const id = `pers_${crypto.createHash('sha256').update(best).digest('hex').slice(0, 16)}`
    for (const key of list) personOf.set(key, id)
  }
  const counts = new Map([...peopleSeen].map(([key, seen]) => [key, seen.size]))
  return { personOf, quarantined, conflicts, linkedBy, blocked, peopleSeen: counts }
}

/**
 * The person of an event with these identifiers: that of its most stable identifier that merges, or, when all of
 * them are quarantined or split, of its most stable one. Undefined for an event without usable identifiers.
 */
export function personOfIdentifiers(
  identifiers: Identifiers,
  resolution: IdentityResolution,
  rules: IdentityRules = defaultIdentityRules,
): string | undefined {
  const keys = usableIdentifiers(identifiers, rules)
  const key = keys.find((candidate) => !resolution.blocked.has(candidate)) ?? keys[0]
  return key === undefined ? undefined : resolution.personOf.get(key)
}
