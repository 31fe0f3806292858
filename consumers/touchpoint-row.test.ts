import { describe, expect, it } from 'vitest'
import { createIdentifierHasher } from '../producers/identifier-hashing.ts'
import { simulate } from '../producers/simulator/simulate.ts'
import { formatDateTime64 } from '../runtime/clickhouse-values.ts'
import type { CapturedEvent } from '../schemas/capture-events.ts'
import { createEmbeddedSchemaRegistry, decodeEvent, encodeEvent } from '../schemas/schema-registry.ts'
import { event } from '../test/fixtures/events.ts'
import {
  formatEventTime,
  formatMinorUnits,
  toTouchpointRow,
  toTouchpointTsvLine,
  touchpointColumns,
  type RecordSource,
} from './touchpoint-row.ts'

type TouchpointEvent = Exclude<CapturedEvent, { family: 'ad-cost' }>

/** The row as `insertRows` writes it: each column's text, TabSeparated-escaped, in `touchpointColumns` order. */
function tsvOfRow(item: TouchpointEvent, origin: RecordSource): string {
  const row = toTouchpointRow(item, origin) as unknown as Record<string, unknown>
  return touchpointColumns
    .map((column) =>
      String(row[column]).replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n').replace(/\r/g, '\\r'),
    )
    .join('\t')
}

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
      event('digital', {
        event_time: Date.parse('2026-03-01T10:00:00.123Z'),
        received_at: Date.parse('2026-03-01T10:00:01Z'),
        utm: { source: 'yandex', medium: 'cpc' },
        page_url: 'https://shop.example.ru/',
      }),
      { topic: 't', partition: 2, offset: '41', schemaId: 1 },
    )
    expect(row).toMatchObject({
      event_time: '2026-03-01 10:00:00.123',
      received_at: '2026-03-01 10:00:01.000',
      person_key: 'anonymous_id:cookie-1',
      family: 'digital',
      utm_source: 'yandex',
      utm_medium: 'cpc',
      device_id: '',
      revenue: '0.00',
      source_partition: 2,
      source_offset: '41',
      schema_id: 1,
    })
  })

  it.each([
    [
      'a receipt',
      event('receipt', {
        channel: 'store',
        event_type: 'pos_receipt',
        store_id: 's',
        receipt_number: 'r',
        items: [],
        total_minor: 1234,
        currency: 'RUB',
        payment_method: 'card',
      }),
      '12.34',
      '12.34',
    ],
    [
      'a return',
      event('receipt', {
        channel: 'store',
        event_type: 'pos_return',
        store_id: 's',
        receipt_number: 'r',
        items: [],
        total_minor: 1234,
        currency: 'RUB',
        payment_method: 'card',
      }),
      '-12.34',
      '12.34',
    ],
    [
      'a paid order',
      event('order', { event_type: 'order_paid', amount_minor: 500, currency: 'RUB', placed_channel: 'web' }),
      '5.00',
      '5.00',
    ],
    [
      'a refund',
      event('order', { event_type: 'order_refunded', amount_minor: 500, currency: 'RUB', placed_channel: 'web' }),
      '-5.00',
      '5.00',
    ],
    [
      'a created order',
      event('order', { event_type: 'order_created', amount_minor: 500, currency: 'RUB', placed_channel: 'web' }),
      '0.00',
      '5.00',
    ],
    [
      'a delivery paid to the courier',
      event('delivery', {
        channel: 'courier',
        event_type: 'paid_on_delivery',
        delivery_id: 'd',
        amount_minor: 700,
        currency: 'RUB',
      }),
      '0.00',
      '7.00',
    ],
  ])('counts the revenue of %s as %s (amount %s)', (_name, item, revenue, amount) => {
    const row = toTouchpointRow(item, { topic: 't', partition: 0, offset: '0', schemaId: 1 })
    expect({ revenue: row.revenue, amount: row.amount }).toEqual({ revenue, amount })
  })

  it('keeps family fields as JSON details and known consent flags', () => {
    const row = toTouchpointRow(
      event('call', {
        channel: 'call_center',
        event_type: 'call_ended',
        call_id: 'c1',
        duration_seconds: 42,
        consent: { marketing_sms: false },
      }),
      { topic: 't', partition: 0, offset: '0', schemaId: 1 },
    )
    expect(JSON.parse(row.details)).toMatchObject({ call_id: 'c1', duration_seconds: 42 })
    expect(JSON.parse(row.consent)).toEqual({ marketing_sms: false })
  })

  it.each([
    0,
    1,
    999,
    86_399_999,
    Date.parse('2000-02-29T23:59:59.999Z'),
    Date.parse('2026-03-01T10:00:00.123Z'),
    Date.parse('2100-02-28T12:00:00Z'),
    Date.parse('9999-12-31T23:59:59.999Z'),
    Date.parse('1969-12-31T23:59:59.999Z'),
    Date.parse('+010000-01-01T00:00:00Z'),
    1.5,
  ])('writes event time %d as formatDateTime64 does', (millis) =>
    expect(formatEventTime(millis)).toBe(formatDateTime64(millis)),
  )

  it('writes the same TabSeparated line as the row, special characters escaped', () => {
    const origin = { topic: 'bench.t', partition: 4, offset: '9007199254740993', schemaId: 12 }
    const tricky = [
      event('digital', {
        utm: { source: 'tab\there', medium: 'line\nbreak', campaign: 'back\\slash', content: 'cr\r', term: 'ёлка "q"' },
        page_url: 'https://shop.example.ru/?q=a\tb\\c\n',
      }),
      event('call', {
        channel: 'call_center',
        event_type: 'call_ended',
        call_id: 'c\t1',
        consent: { marketing_sms: false },
      }),
      event('order', { event_type: 'order_paid', amount_minor: 500, currency: 'RUB', placed_channel: 'web' }),
      event('touchpoint', { revenue_minor: -1250, currency: 'RUB' }),
    ] as TouchpointEvent[]
    for (const item of tricky) expect(toTouchpointTsvLine(item, origin)).toBe(tsvOfRow(item, origin))
  })

  it('writes the same TabSeparated line as the row for every family, as decoded from Avro', async () => {
    const registry = createEmbeddedSchemaRegistry()
    const events: CapturedEvent[] = []
    simulate(
      { customers: 60, days: 60, seed: 5, hasher: createIdentifierHasher('test-secret-0123456789') },
      { event: (item) => events.push(item) },
    )
    const families = new Set<string>()
    let offset = 0
    for (const item of events) {
      if (item.family === 'ad-cost') continue
      const decoded = await decodeEvent(registry, await encodeEvent(registry, item))
      const origin = { topic: 't', partition: 1, offset: String(offset++), schemaId: decoded.schemaId }
      const touchpoint = decoded.event as TouchpointEvent
      expect(toTouchpointTsvLine(touchpoint, origin)).toBe(tsvOfRow(touchpoint, origin))
      families.add(touchpoint.family)
    }
    expect(families.size).toBeGreaterThan(5)
  })
})
