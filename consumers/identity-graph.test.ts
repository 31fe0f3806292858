import { describe, expect, it } from 'vitest'
import { emptyIdentifiers, type Identifiers } from '../schemas/capture-events.ts'
import { resolveIdentities, usableIdentifiers, type IdentityEdge } from './identity-graph.ts'
import { scoreStitching } from './identity-quality.ts'

const none = emptyIdentifiers
let clock = 0
const edge = (identifiers: Partial<Identifiers>, id?: string): IdentityEdge => {
  clock += 1
  return { event_id: id ?? `e${clock}`, event_time: clock, identifiers: { ...none, ...identifiers } }
}

describe('identity resolution', () => {
  it('joins identifiers seen together, and re-keys the anonymous history when a cookie logs in', () => {
    const { personOf, linkedBy } = resolveIdentities([
      edge({ anonymous_id: 'ck-1' }),
      edge({ anonymous_id: 'ck-1', customer_id: 'C1' }, 'login'),
      edge({ customer_id: 'C1', email_hash: 'e1' }),
      edge({ anonymous_id: 'ck-2' }),
    ])
    expect(personOf.get('anonymous_id:ck-1')).toBe(personOf.get('customer_id:C1'))
    expect(personOf.get('email_hash:e1')).toBe(personOf.get('customer_id:C1'))
    expect(personOf.get('anonymous_id:ck-2')).not.toBe(personOf.get('customer_id:C1'))
    expect(linkedBy.get('anonymous_id:ck-1')).toBe('login')
  })

  it('never merges two customer ids, and records the conflict', () => {
    const { personOf, conflicts } = resolveIdentities([
      edge({ customer_id: 'C1', phone_hash: 'p1' }),
      edge({ customer_id: 'C2', phone_hash: 'p1' }, 'clash'),
    ])
    expect(personOf.get('customer_id:C1')).not.toBe(personOf.get('customer_id:C2'))
    expect(conflicts).toEqual([{ event_id: 'clash', customer_ids: ['customer_id:C1', 'customer_id:C2'] }])
  })

  it('ignores junk values and all-zero cards', () => {
    expect(
      usableIdentifiers({
        ...none,
        anonymous_id: 'undefined',
        customer_id: ' NULL ',
        loyalty_card: '2770000000000',
        device_id: 'd1',
      }),
    ).toEqual(['device_id:d1'])
    const { personOf } = resolveIdentities([
      edge({ anonymous_id: '0', customer_id: 'C1' }),
      edge({ anonymous_id: '0', customer_id: 'C2' }),
    ])
    expect(personOf.has('anonymous_id:0')).toBe(false)
    expect(personOf.get('customer_id:C1')).not.toBe(personOf.get('customer_id:C2'))
  })

  it('quarantines a device seen with two people, so it links neither', () => {
    const { personOf, quarantined } = resolveIdentities([
      edge({ device_id: 'family-tablet', customer_id: 'C1' }),
      edge({ device_id: 'family-tablet', email_hash: 'e2' }),
      edge({ device_id: 'family-tablet', anonymous_id: 'ck-9' }),
    ])
    expect(quarantined).toEqual([{ identifier: 'device_id:family-tablet', people: 2 }])
    expect(personOf.get('customer_id:C1')).not.toBe(personOf.get('email_hash:e2'))
    expect(personOf.get('anonymous_id:ck-9')).not.toBe(personOf.get('customer_id:C1'))
  })

  it('gives the same people whatever order the edges arrive in', () => {
    const edges = [
      edge({ anonymous_id: 'ck-1', customer_id: 'C1' }),
      edge({ customer_id: 'C1', phone_hash: 'p1' }),
      edge({ loyalty_card: 'card-1', phone_hash: 'p1' }),
      edge({ customer_id: 'C2', phone_hash: 'p1' }),
    ]
    const forward = resolveIdentities(edges).personOf
    const backward = resolveIdentities([...edges].reverse()).personOf
    expect([...backward]).toEqual(expect.arrayContaining([...forward]))
    expect(forward.get('loyalty_card:card-1')).toBe(forward.get('customer_id:C1'))
  })
})

describe('scoreStitching', () => {
  const truth = [
    { kind: 'customer_id', value: 'C1', person_ids: ['P1'], note: 'own' },
    { kind: 'anonymous_id', value: 'a', person_ids: ['P1'], note: 'own' },
    { kind: 'anonymous_id', value: 'b', person_ids: ['P1'], note: 'own' },
    { kind: 'customer_id', value: 'C2', person_ids: ['P2'], note: 'own' },
    { kind: 'device_id', value: 'shared', person_ids: ['P1', 'P2'], note: 'shared_device' },
  ]
  const edge = (identifiers: Partial<Identifiers>) => ({
    event_id: 'e',
    event_time: 0,
    identifiers: { ...emptyIdentifiers, ...identifiers },
  })

  it('scores pairs, and recall over the pairs the events can link', () => {
    // Evidence: C1 with cookie a; cookie b never seen with anything; the shared device with both customers.
    const edges = [
      edge({ customer_id: 'C1', anonymous_id: 'a' }),
      edge({ anonymous_id: 'b' }),
      edge({ customer_id: 'C1', device_id: 'shared' }),
      edge({ customer_id: 'C2', device_id: 'shared' }),
    ]
    const personOf = new Map([
      ['customer_id:C1', 'x'],
      ['anonymous_id:a', 'x'],
      ['anonymous_id:b', 'y'],
      ['customer_id:C2', 'z'],
    ])
    const score = scoreStitching(personOf, truth, edges)
    expect(score).toMatchObject({ precision: 1, identifiers: 4 })
    // P1 has three identifiers (3 pairs), one of them found; only C1-a is linkable (the shared device does not count).
    expect(score.recall).toBeCloseTo(1 / 3)
    expect(score.linkable).toEqual({ recall: 1, linkable_share: 1 / 3 })
    // Merging the two customers through the shared device costs precision.
    const merged = scoreStitching(new Map([...personOf, ['customer_id:C2', 'x']]), truth, edges)
    expect(merged.precision).toBeCloseTo(1 / 3)
  })
})
