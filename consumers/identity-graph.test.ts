import { describe, expect, it } from 'vitest'
import { emptyIdentifiers, type Identifiers } from '../schemas/capture-events.ts'
import { resolveIdentities, usableIdentifiers, type IdentityEdge } from './identity-graph.ts'

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
