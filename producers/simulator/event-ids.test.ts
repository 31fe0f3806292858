import crypto from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { simulatedEventId, simulatedEventOf } from './event-ids.ts'
import { mulberry32 } from './random.ts'

const layout = /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/
const top = 2 ** 32 - 1

describe('simulated event ids', () => {
  it.each([
    [0, 0, 0],
    [1, 0, 1],
    [1, 1, 0],
    [42, 9_999, 712],
    [top, top, top],
    [2 ** 31, 2 ** 31 - 1, 2 ** 31],
  ])(
    'are RFC 9562 version 8 UUIDs that decode to what they were made from: seed %d, customer %d, event %d',
    (seed, customer, event) => {
      const id = simulatedEventId(seed, customer, event)
      expect(id).toMatch(layout)
      expect(simulatedEventId(seed, customer, event)).toBe(id)
      expect(simulatedEventOf(id)).toEqual({ seed, customer, event })
    },
  )

  it('decode back from random triples, so no two triples share an id', () => {
    const random = mulberry32(18)
    const word = () => Math.floor(random() * 2 ** 32)
    const wrong: string[] = []
    for (let n = 0; n < 100_000; n += 1) {
      const [seed, customer, event] = [word(), word(), word()]
      const back = simulatedEventOf(simulatedEventId(seed, customer, event))
      if (back?.seed !== seed || back.customer !== customer || back.event !== event)
        wrong.push(`${seed} ${customer} ${event}`)
    }
    expect(wrong).toEqual([])
  })

  it('differ for every neighbouring seed, customer and event, and look random', () => {
    const ids = new Set<string>()
    for (let seed = 0; seed < 4; seed += 1)
      for (let customer = 0; customer < 100; customer += 1)
        for (let event = 0; event < 500; event += 1) ids.add(simulatedEventId(seed, customer, event))
    expect(ids.size).toBe(4 * 100 * 500)
    // Consecutive events share no prefix beyond chance: their first hex digits are spread over all sixteen.
    const firsts = new Set([...ids].slice(0, 200).map((id) => id[0]))
    expect(firsts.size).toBe(16)
  })

  it('count the seed modulo 2^32, as the random streams do', () => {
    expect(simulatedEventId(-1, 3, 4)).toBe(simulatedEventId(top, 3, 4))
    expect(simulatedEventOf(simulatedEventId(-1, 3, 4))).toEqual({ seed: top, customer: 3, event: 4 })
  })

  it('refuse a customer or an event number outside [0, 2^32)', () => {
    for (const [customer, event] of [
      [-1, 0],
      [0, -1],
      [2 ** 32, 0],
      [0, 1.5],
      [Number.NaN, 0],
    ] as const) {
      expect(() => simulatedEventId(1, customer, event), `${customer} ${event}`).toThrow(RangeError)
    }
  })

  it('are not read into ids made elsewhere', () => {
    expect(simulatedEventOf(crypto.randomUUID())).toBeUndefined()
    expect(simulatedEventOf('not-an-id')).toBeUndefined()
    const id = simulatedEventId(7, 8, 9)
    const tampered = `${id.slice(0, -1)}${id.endsWith('0') ? '1' : '0'}`
    expect(simulatedEventOf(tampered)).toBeUndefined()
  })
})
