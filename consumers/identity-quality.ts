/** An identifier's true owner(s), as the simulator writes them to truth/identities.ndjson. */
export interface IdentifierTruth {
  readonly kind: string
  readonly value: string
  readonly person_ids: readonly string[]
  readonly note: string
}

import type { IdentityEdge, IdentityRules } from './identity-graph.ts'
import { defaultIdentityRules, usableIdentifiers } from './identity-graph.ts'

export interface StitchingScore {
  /** Of the identifier pairs put in one person, the share that truly belong to one person. */
  readonly precision: number
  /** Of the identifier pairs that truly belong to one person, the share put in one person. */
  readonly recall: number
  /** Identifiers scored: those resolved that have exactly one true owner. */
  readonly identifiers: number
  /**
   * B-cubed precision and recall (Bagga and Baldwin), the per-identifier view of identifier-to-person: for each
   * identifier, the share of its resolved person's identifiers that are truly its person's (precision) and the share
   * of its true person's identifiers that its resolved person holds (recall), averaged over identifiers. Pairwise
   * scores weigh a person by the square of its identifier count; these weigh every identifier once.
   */
  readonly bcubed: { readonly precision: number; readonly recall: number }
  /**
   * Recall over the pairs the events can link at all: two identifiers of one person that are connected by events
   * carrying them together (directly or through other identifiers, shared and junk ones excepted). Present when the
   * edges were given. A pair no event connects (a cookie of a browser the person never logged in or bought from)
   * cannot be found by any deterministic resolver; `linkable_share` says how many of the true pairs are linkable.
   */
  readonly linkable?: { readonly recall: number; readonly linkable_share: number }
}

/**
 * Pairwise precision and recall of identifier-to-person, the usual measure for entity resolution: every pair of
 * identifiers is either in one resolved person or not, and either of one true person or not. Identifiers with no
 * single owner (shared devices, junk, the store's generic card) are left out: no person is right for them.
 */
export function scoreStitching(
  personOf: ReadonlyMap<string, string>,
  truth: readonly IdentifierTruth[],
  edges?: readonly IdentityEdge[],
  rules: IdentityRules = defaultIdentityRules,
): StitchingScore {
  const owner = new Map(
    truth
      .filter((entry) => entry.note === 'own' && entry.person_ids.length === 1)
      .map((entry) => [`${entry.kind}:${entry.value}`, entry.person_ids[0] ?? '']),
  )
  const both = new Map<string, number>()
  const cells = new Map<string, { person: string; truePerson: string }>()
  const predicted = new Map<string, number>()
  const actual = new Map<string, number>()
  let identifiers = 0
  for (const [identifier, person] of personOf) {
    const truePerson = owner.get(identifier)
    if (truePerson === undefined) continue
    identifiers += 1
    const pair = `${person}|${truePerson}`
    both.set(pair, (both.get(pair) ?? 0) + 1)
    if (!cells.has(pair)) cells.set(pair, { person, truePerson })
    predicted.set(person, (predicted.get(person) ?? 0) + 1)
    actual.set(truePerson, (actual.get(truePerson) ?? 0) + 1)
  }
  const pairs = (counts: Map<string, number>) => [...counts.values()].reduce((sum, n) => sum + (n * (n - 1)) / 2, 0)
  const together = pairs(both)
  const predictedPairs = pairs(predicted)
  const actualPairs = pairs(actual)
  let bcubedPrecision = 0
  let bcubedRecall = 0
  for (const [pair, count] of both) {
    const { person, truePerson } = cells.get(pair) ?? { person: '', truePerson: '' }
    bcubedPrecision += (count * count) / (predicted.get(person) ?? count)
    bcubedRecall += (count * count) / (actual.get(truePerson) ?? count)
  }
  const score = {
    precision: predictedPairs === 0 ? 1 : together / predictedPairs,
    recall: actualPairs === 0 ? 1 : together / actualPairs,
    identifiers,
    bcubed: {
      precision: identifiers === 0 ? 1 : bcubedPrecision / identifiers,
      recall: identifiers === 0 ? 1 : bcubedRecall / identifiers,
    },
  }
  if (edges === undefined) return score

  // The evidence graph: identifiers joined when an event carries them together, shared and junk ones left out.
  const excluded = new Set(truth.filter((entry) => entry.note !== 'own').map((entry) => `${entry.kind}:${entry.value}`))
  const parent = new Map<string, string>()
  const find = (key: string): string => {
    let root = key
    while (parent.has(root) && parent.get(root) !== root) root = parent.get(root) ?? root
    parent.set(key, root)
    return root
  }
  for (const edge of edges) {
    const keys = usableIdentifiers(edge.identifiers, rules).filter((key) => !excluded.has(key))
    const first = keys[0]
    if (first === undefined) continue
    for (const key of keys.slice(1)) {
      const a = find(first)
      const b = find(key)
      if (a !== b) parent.set(b, a)
    }
  }
  // Linkable pairs: same true person and same evidence component; found: those also in one resolved person.
  const linkable = new Map<string, number>()
  const found = new Map<string, number>()
  for (const [identifier, person] of personOf) {
    const truePerson = owner.get(identifier)
    if (truePerson === undefined) continue
    const component = `${truePerson}|${find(identifier)}`
    linkable.set(component, (linkable.get(component) ?? 0) + 1)
    const both = `${component}|${person}`
    found.set(both, (found.get(both) ?? 0) + 1)
  }
  const linkablePairs = pairs(linkable)
  return {
    ...score,
    linkable: {
      recall: linkablePairs === 0 ? 1 : pairs(found) / linkablePairs,
      linkable_share: actualPairs === 0 ? 1 : linkablePairs / actualPairs,
    },
  }
}
