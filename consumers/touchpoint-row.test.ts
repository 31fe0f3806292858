import { describe, expect, it } from 'vitest'
import { touchpoint } from '../test/fixtures/touchpoints.ts'
import { formatMinorUnits, toTouchpointRow } from './touchpoint-row.ts'

describe('touchpoint rows', () => {
  it.each([
    [0, '0.00'],
    [5, '0.05'],
    [123_45, '123.45'],
    [-99, '-0.99'],
    [-1_000_000_01, '-1000000.01'],
  ])('writes %i minor units as %s', (minor, text) => expect(formatMinorUnits(minor)).toBe(text))

  it('maps a touchpoint to a row with its Kafka origin and person key', () => {
    const row = toTouchpointRow(
      touchpoint({
        event_time: Date.parse('2026-03-01T10:00:00.123Z'),
        received_at: Date.parse('2026-03-01T10:00:01Z'),
      }),
      { topic: 't', partition: 2, offset: '41', schemaId: 1 },
    )
    expect(row).toMatchObject({
      event_time: '2026-03-01 10:00:00.123',
      received_at: '2026-03-01 10:00:01.000',
      person_key: 'anonymous_id:cookie-1',
      device_id: '',
      revenue: '0.00',
      source_partition: 2,
      source_offset: '41',
      schema_id: 1,
    })
  })
})
