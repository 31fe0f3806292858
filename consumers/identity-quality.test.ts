import { describe, expect, it } from 'vitest'
import { scoreStitching, type IdentifierTruth } from './identity-quality.ts'

const own = (kind: string, value: string, person: string): IdentifierTruth => ({
  kind,
  value,
  person_ids: [person],
  note: 'own',
})

describe('scoreStitching', () => {
  // Person A has three identifiers, person B one. The resolver split A and put A's third identifier with B's.
  const truth = [own('cookie', 'a1', 'A'), own('email', 'a2', 'A'), own('phone', 'a3', 'A'), own('cookie', 'b1', 'B')]
  const personOf = new Map([
    ['cookie:a1', 'P1'],
    ['email:a2', 'P1'],
    ['phone:a3', 'P2'],
    ['cookie:b1', 'P2'],
    ['cookie:shared', 'P2'],
  ])

  it('scores pairs: one of two merged pairs is right, one of three true pairs is found', () => {
    const score = scoreStitching(personOf, truth)
    expect(score.identifiers).toBe(4)
    expect(score.precision).toBeCloseTo(1 / 2)
    expect(score.recall).toBeCloseTo(1 / 3)
  })

  it('scores each identifier once (B-cubed)', () => {
    const { bcubed } = scoreStitching(personOf, truth)
    // precision: a1 2/2, a2 2/2, a3 1/2, b1 1/2; recall: a1 2/3, a2 2/3, a3 1/3, b1 1/1
    expect(bcubed.precision).toBeCloseTo(3 / 4)
    expect(bcubed.recall).toBeCloseTo(2 / 3)
  })

  it('is perfect for a perfect resolution', () => {
    const perfect = new Map(truth.map((entry) => [`${entry.kind}:${entry.value}`, `X${entry.person_ids[0]}`]))
    const score = scoreStitching(perfect, truth)
    expect([score.precision, score.recall, score.bcubed.precision, score.bcubed.recall]).toEqual([1, 1, 1, 1])
  })
})
