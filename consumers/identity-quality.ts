/** An identifier's true owner(s), as the simulator writes them to truth/identities.ndjson. */
export interface IdentifierTruth {
  readonly kind: string
  readonly value: string
  readonly person_ids: readonly string[]
  readonly note: string
}

export interface StitchingScore {
  /** Of the identifier pairs put in one person, the share that truly belong to one person. */
  readonly precision: number
  /** Of the identifier pairs that truly belong to one person, the share put in one person. */
  readonly recall: number
  /** Identifiers scored: those resolved that have exactly one true owner. */
  readonly identifiers: number
}

/**
 * Pairwise precision and recall of identifier-to-person, the usual measure for entity resolution: every pair of
 * identifiers is either in one resolved person or not, and either of one true person or not. Identifiers with no
 * single owner (shared devices, junk, the store's generic card) are left out: no person is right for them.
 */
export function scoreStitching(
  personOf: ReadonlyMap<string, string>,
  truth: readonly IdentifierTruth[],
): StitchingScore {
  const owner = new Map(
    truth
      .filter((entry) => entry.note === 'own' && entry.person_ids.length === 1)
      .map((entry) => [`${entry.kind}:${entry.value}`, entry.person_ids[0] ?? '']),
  )
  const both = new Map<string, number>()
  const predicted = new Map<string, number>()
  const actual = new Map<string, number>()
  let identifiers = 0
  for (const [identifier, person] of personOf) {
    const truePerson = owner.get(identifier)
    if (truePerson === undefined) continue
    identifiers += 1
    const pair = `${person}|${truePerson}`
    both.set(pair, (both.get(pair) ?? 0) + 1)
    predicted.set(person, (predicted.get(person) ?? 0) + 1)
    actual.set(truePerson, (actual.get(truePerson) ?? 0) + 1)
  }
  const pairs = (counts: Map<string, number>) => [...counts.values()].reduce((sum, n) => sum + (n * (n - 1)) / 2, 0)
  const together = pairs(both)
  const predictedPairs = pairs(predicted)
  const actualPairs = pairs(actual)
  return {
    precision: predictedPairs === 0 ? 1 : together / predictedPairs,
    recall: actualPairs === 0 ? 1 : together / actualPairs,
    identifiers,
  }
}
