import { describe, expect, it } from 'vitest'
import { hasErrorCode } from '../runtime/errors.ts'
import { frame, unframe } from './confluent-wire-format.ts'
import { createEmbeddedSchemaRegistry, decodeRecord, encodeRecord } from './schema-registry.ts'
import {
  assertTouchpoint,
  channels,
  findSchemaErrors,
  strongestIdentifier,
  touchpointType,
  type Touchpoint,
} from './touchpoint.ts'

const valid: Touchpoint = {
  event_id: '7f9c24e8-3b12-4fdb-9a01-0c6a4a1b2c3d',
  event_time: 1_767_225_600_000,
  received_at: 1_767_225_601_000,
  channel: 'store',
  event_type: 'pos_receipt',
  anonymous_id: null,
  device_id: null,
  customer_id: null,
  email_hash: null,
  phone_hash: 'ab'.repeat(32),
  loyalty_card: '2770000000042',
  order_id: 'R-1',
  revenue_minor: 123_450,
  currency: 'RUB',
}

describe('the touchpoint schema', () => {
  it('accepts a valid touchpoint', () => {
    expect(findSchemaErrors(valid)).toEqual([])
    expect(() => assertTouchpoint(valid)).not.toThrow()
  })

  it('names every bad field and what it expected', () => {
    const errors = findSchemaErrors({ ...valid, event_id: 'nope', channel: 'fax', revenue_minor: 1.5, event_type: 7 })
    expect(errors).toEqual([
      'event_id: expected a UUID string (got "nope")',
      expect.stringMatching(/^channel: expected one of web, app, .* \(got "fax"\)$/),
      'event_type: expected a string (got 7)',
      'revenue_minor: expected a whole number (got 1.5)',
    ])
  })

  it('refuses an invalid touchpoint with OMNI_ERR_SCHEMA_INVALID_EVENT', () => {
    let thrown: unknown
    try {
      assertTouchpoint({ ...valid, event_time: 'yesterday' })
    } catch (error) {
      thrown = error
    }
    expect(hasErrorCode(thrown, 'OMNI_ERR_SCHEMA_INVALID_EVENT')).toBe(true)
    expect((thrown as Error).message).toMatch(/event_time: expected epoch milliseconds/)
  })

  it('lists the same channels as the Avro enum', () => {
    const schema = touchpointType.schema() as { fields: { name: string; type: { symbols?: string[] } }[] }
    expect(schema.fields.find((field) => field.name === 'channel')?.type.symbols).toEqual([...channels])
  })

  it('keys a person by the most stable identifier present', () => {
    expect(strongestIdentifier(valid)).toBe('loyalty_card:2770000000042')
    expect(strongestIdentifier({ ...valid, customer_id: 'C1' })).toBe('customer_id:C1')
    expect(strongestIdentifier({ ...valid, loyalty_card: null, phone_hash: null, order_id: null })).toBeUndefined()
  })
})

describe('the Confluent wire format', () => {
  it('frames a body behind magic byte 0 and a big-endian schema id', () => {
    const record = frame(258, Buffer.from([7, 8]))
    expect([...record]).toEqual([0, 0, 0, 1, 2, 7, 8])
    expect(unframe(record)).toEqual({ schemaId: 258, body: Buffer.from([7, 8]) })
  })

  it.each([
    ['null', null, /empty \(null value\)/],
    ['too short', Buffer.from([0, 0, 1]), /3 bytes; expected at least 5/],
    ['wrong magic byte', Buffer.from('{"a":1}'), /starts with byte 123; expected .* magic byte 0/],
  ])('rejects a %s record', (_name, record, message) => {
    expect(() => unframe(record)).toThrow(message)
  })

  it('round-trips a touchpoint through the embedded registry', () => {
    const registry = createEmbeddedSchemaRegistry()
    const record = encodeRecord(registry, 'touchpoint', valid)
    expect(record[0]).toBe(0)
    expect(record.readInt32BE(1)).toBe(1)
    const decoded = decodeRecord(registry, record)
    expect(decoded.schemaId).toBe(1)
    expect({ ...(decoded.value as object) }).toEqual(valid)
  })

  it('rejects an unknown schema id and a corrupt body by code', () => {
    const registry = createEmbeddedSchemaRegistry()
    const unknown = (() => {
      try {
        decodeRecord(registry, frame(77, Buffer.from([1])))
      } catch (error) {
        return error
      }
    })()
    expect(hasErrorCode(unknown, 'OMNI_ERR_SCHEMA_UNKNOWN_ID')).toBe(true)
    const corrupt = (() => {
      try {
        decodeRecord(registry, frame(1, Buffer.from([1, 2, 3])))
      } catch (error) {
        return error
      }
    })()
    expect(hasErrorCode(corrupt, 'OMNI_ERR_SCHEMA_WIRE_FORMAT')).toBe(true)
  })
})
