import { describe, expect, it } from 'vitest'
import { hasErrorCode } from '../runtime/errors.ts'
import { frame, unframe } from './confluent-wire-format.ts'

describe('the Confluent wire format', () => {
  it('frames a body behind magic byte 0 and a big-endian schema id', () => {
    const record = frame(258, Buffer.from([7, 8]))
    expect([...record]).toEqual([0, 0, 0, 1, 2, 7, 8])
    expect(unframe(record)).toEqual({ schemaId: 258, body: Buffer.from([7, 8]) })
  })

  it.each([
    ['a null value', null, /empty \(null value\)/],
    ['a record that is too short', Buffer.from([0, 0, 1]), /3 bytes; expected at least 5/],
    ['a record with another first byte', Buffer.from('{"a":1}'), /starts with byte 123; expected .* magic byte 0/],
  ])('rejects %s with OMNI_ERR_SCHEMA_WIRE_FORMAT', (_name, record, message) => {
    let thrown: unknown
    try {
      unframe(record)
    } catch (error) {
      thrown = error
    }
    expect(hasErrorCode(thrown, 'OMNI_ERR_SCHEMA_WIRE_FORMAT')).toBe(true)
    expect((thrown as Error).message).toMatch(message)
  })

  it('refuses a schema id outside 0 to 2^31-1', () => {
    expect(() => frame(-1, Buffer.alloc(0))).toThrow(RangeError)
    expect(() => frame(2 ** 31, Buffer.alloc(0))).toThrow(RangeError)
  })
})
