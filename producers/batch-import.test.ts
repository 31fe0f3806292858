import { describe, expect, it } from 'vitest'
import { costFromRow, daysSinceEpoch, formatOf, parseDateTime, receiptFromRows, unitFromJson } from './batch-import.ts'

const row = (fields: Record<string, string>): Record<string, string> => ({
  receipt_number: 'R-1',
  type: 'sale',
  time: '2026-11-20T10:00:00+03:00',
  store_id: 'msk-01',
  sku: 'A-1',
  quantity: '1',
  price: '4999.90',
  currency: 'RUB',
  payment_method: 'card',
  ...fields,
})

const cost = (fields: Record<string, string>): Record<string, string> => ({
  date: '2026-11-20',
  source: 's',
  campaign: 'c',
  spend: '1',
  ...fields,
})

describe('rouble amounts', () => {
  it.each([
    ['199.99', 19_999],
    ['0.29', 29],
    ['4.35', 435],
    ['1.13', 113],
    ['0.07', 7],
    ['12', 1200],
    ['12.5', 1250],
    ['1 299,50', 129_950],
    ['90071992547409.91', 9_007_199_254_740_991],
  ])('reads %s roubles as exactly %i kopecks, without float error', (spend, kopecks) => {
    expect(costFromRow(cost({ spend }))['spend_minor']).toBe(kopecks)
  })

  it.each(['19.999', '1e3', 'abc', '', '12.', '.5', '-5', '90071992547409.92'])('refuses %j', (spend) => {
    expect(() => costFromRow(cost({ spend }))).toThrow(/^spend: expected an amount/)
  })
})

describe('receipts CSV mapping', () => {
  it('makes one receipt of its line-item rows, with exact kopecks and a stable message id', () => {
    const receipt = receiptFromRows([
      row({ total: '5399.88', loyalty_card: '2770000000001', phone: '+7 916 123-45-67' }),
      row({ sku: 'B-2', quantity: '2', price: '199.99', line_amount: '399.98' }),
    ])
    expect(receipt).toMatchObject({
      family: 'receipt',
      message_id: 'receipt:msk-01:R-1',
      channel: 'store',
      event_type: 'pos_receipt',
      event_time: Date.UTC(2026, 10, 20, 7, 0, 0),
      total_minor: 539_988,
      discount_minor: 0,
      payment_method: 'card',
      items: [
        { sku: 'A-1', quantity: 1, price_minor: 499_990, amount_minor: 499_990 },
        { sku: 'B-2', quantity: 2, price_minor: 19_999, amount_minor: 39_998 },
      ],
      identifiers: { loyalty_card: '2770000000001', phone: '+7 916 123-45-67', email: null },
    })
  })

  it('sums the items when the total is missing, and marks returns', () => {
    const receipt = receiptFromRows([
      row({ type: 'return', quantity: '3', price: '10.10', original_receipt_number: 'R-0' }),
    ])
    expect(receipt).toMatchObject({ event_type: 'pos_return', total_minor: 3030, original_receipt_number: 'R-0' })
  })

  it('stores the amounts of a return positive when the export signs them negative', () => {
    const receipt = receiptFromRows([
      row({ type: 'return', quantity: '-1', price: '-199.99', line_amount: '-199.99', total: '-199.99' }),
    ])
    expect(receipt).toMatchObject({
      total_minor: 19_999,
      items: [{ quantity: 1, price_minor: 19_999, amount_minor: 19_999 }],
    })
  })

  it('reads goods sold by weight, with a decimal comma', () => {
    const receipt = receiptFromRows([row({ quantity: '0,35', price: '199.99' })])
    expect(receipt).toMatchObject({ items: [{ quantity: 0.35, price_minor: 19_999, amount_minor: 7000 }] })
  })

  it('lets later rows leave the receipt fields empty or repeat them', () => {
    const receipt = receiptFromRows([
      row({ total: '10.00', phone: '+79161234567' }),
      row({ sku: 'B', price: '5.00', total: '', phone: '', time: '', payment_method: '' }),
      row({ sku: 'C', price: '5.00', total: '10.00', phone: '+79161234567' }),
    ])
    expect(receipt).toMatchObject({ total_minor: 1000, items: [{ sku: 'A-1' }, { sku: 'B' }, { sku: 'C' }] })
  })

  it.each<[Record<string, string>[], RegExp]>([
    [[{ price: 'abc' }], /^items\[0\]\.price: expected an amount in roubles/],
    [[{ price: '-1.00' }], /^items\[0\]\.price: expected an amount of 0 or more/],
    [[{ quantity: '-1' }], /^items\[0\]\.quantity: expected a number above 0/],
    [[{ quantity: 'two' }], /^items\[0\]\.quantity: expected a number above 0/],
    [[{ sku: '' }], /^items\[0\]\.sku: expected the item's SKU/],
    [[{ type: 'gift' }], /^type: expected sale or return/],
    [[{ store_id: '' }], /^store_id: expected a store id/],
    [[{ receipt_number: ' ' }], /^receipt_number: expected a receipt number/],
    [[{ time: '' }], /^time: expected the ISO 8601 date-time/],
    [[{ time: '2026-11-20T10:00:00' }], /^time: expected an ISO 8601 date-time with a time zone/],
    [[{ payment_method: 'crypto' }], /^payment_method: expected one of card, cash, sbp/],
    [[{ currency: 'roubles' }], /^currency: expected an ISO 4217 code/],
    [[{ total: '1,2,3' }], /^total: expected an amount in roubles/],
    [[{}, { total: '99.00' }], /^items\[1\]\.total: expected the receipt's total as on its first row/],
    [[{}, { time: '2026-11-21T10:00:00Z' }], /^items\[1\]\.time: expected the receipt's time/],
  ])('refuses a receipt of rows %j, naming the field', (rows, message) => {
    expect(() => receiptFromRows(rows.map((fields) => row(fields)))).toThrow(message)
  })
})

describe('date-times', () => {
  it.each([
    ['2026-11-20T10:00:00Z', Date.UTC(2026, 10, 20, 10)],
    ['2026-11-20T10:00:00.5+03:00', Date.UTC(2026, 10, 20, 7, 0, 0, 500)],
    ['2026-11-20 10:00+0300', Date.UTC(2026, 10, 20, 7)],
    ['2026-11-20T10:00:00,123456-05', Date.UTC(2026, 10, 20, 15, 0, 0, 123)],
    ['2026-11-20t10:00:00z', Date.UTC(2026, 10, 20, 10)],
  ])('reads %s', (text, millis) => {
    expect(parseDateTime(text, 'time')).toBe(millis)
  })

  it.each(['2026-11-20T10:00:00', '2026-11-20', '2026-02-30T10:00:00Z', '2026-11-20T24:00:00Z', '20.11.2026 10:00'])(
    'refuses %j',
    (text) => {
      expect(() => parseDateTime(text, 'time')).toThrow(/^time: expected an ISO 8601 date-time with a time zone/)
    },
  )
})

describe('ad costs mapping', () => {
  it('makes an ad cost with an id of source, campaign and day', () => {
    expect(
      costFromRow({
        date: '2026-11-20',
        source: 'yandex_direct',
        campaign: 'autumn',
        campaign_id: '777',
        spend: '12345.67',
        impressions: '1000',
        clicks: '50',
      }),
    ).toEqual({
      family: 'ad-cost',
      cost_id: 'yandex_direct:777:2026-11-20',
      date: daysSinceEpoch('2026-11-20', 'date'),
      channel: 'ads',
      source: 'yandex_direct',
      medium: null,
      campaign: 'autumn',
      campaign_id: '777',
      spend_minor: 1_234_567,
      currency: 'RUB',
      impressions: 1000,
      clicks: 50,
    })
    expect(daysSinceEpoch('1970-01-02', 'date')).toBe(1)
    expect(daysSinceEpoch('2026-11-20', 'date')).toBe(20_777)
  })

  it('uses the campaign name in the id when there is no campaign id', () => {
    expect(costFromRow(cost({ source: 'vk_ads', campaign: 'spring' }))['cost_id']).toBe('vk_ads:spring:2026-11-20')
  })

  it.each([
    [{ date: '2026-02-30' }, /^date: expected a date as YYYY-MM-DD/],
    [{ date: '20.11.2026' }, /^date: expected a date as YYYY-MM-DD/],
    [{ clicks: 'many' }, /^clicks: expected a whole number/],
    [{ impressions: '-3' }, /^impressions: expected a whole number/],
    [{ source: '' }, /^source: expected the ad platform/],
    [{ campaign: '' }, /^campaign: expected a campaign name/],
  ])('refuses a cost row with %j, naming the field', (fields, message) => {
    expect(() => costFromRow(cost(fields))).toThrow(message)
  })
})

describe('NDJSON lines', () => {
  it('gives a receipt without a message id the same one as from CSV', () => {
    const { input, id } = unitFromJson('receipts', {
      channel: 'store',
      event_type: 'pos_receipt',
      store_id: 'msk-01',
      receipt_number: 'R-1',
      identifiers: { phone: '+79161234567' },
    })
    expect(input).toMatchObject({ family: 'receipt', message_id: 'receipt:msk-01:R-1' })
    expect(id).toBe('msk-01:R-1')
    expect(unitFromJson('receipts', { store_id: 's', receipt_number: 'r', message_id: 'm' }).input).toMatchObject({
      message_id: 'm',
    })
  })

  it('reads a cost with the CSV field names, or with the schema field names as they are', () => {
    expect(
      unitFromJson('costs', { date: '2026-11-20', source: 'vk_ads', campaign: 'c1', spend: 100.5, clicks: 3 }).input,
    ).toMatchObject({ cost_id: 'vk_ads:c1:2026-11-20', date: 20_777, spend_minor: 10_050, clicks: 3 })
    const schemaShaped = { cost_id: 'vk_ads:c1:20777', date: 20_777, spend_minor: 10_050 }
    expect(unitFromJson('costs', schemaShaped).input).toEqual({ family: 'ad-cost', ...schemaShaped })
  })

  it('refuses a line that is not an object', () => {
    expect(() => unitFromJson('costs', [1, 2])).toThrow(/expected a JSON object/)
  })
})

describe('file formats', () => {
  it('tells the format from the file name or the option', () => {
    expect(formatOf('receipts.CSV')).toBe('csv')
    expect(formatOf('costs.jsonl')).toBe('ndjson')
    expect(formatOf('costs.ndjson')).toBe('ndjson')
    expect(formatOf('export.txt', 'ndjson')).toBe('ndjson')
    expect(() => formatOf('export.txt')).toThrow(/--format csv\|ndjson/)
    expect(() => formatOf('export.csv', 'xlsx')).toThrow(/--format: expected csv or ndjson/)
  })
})
