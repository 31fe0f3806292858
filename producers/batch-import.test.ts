import { describe, expect, it } from 'vitest'
import { costFromRow, daysSinceEpoch, formatOf, receiptFromRows } from './batch-import.ts'

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

describe('batch import mapping', () => {
  it('makes one receipt of its line-item rows, with exact kopecks and a stable message id', () => {
    const receipt = receiptFromRows([
      row({ total: '5399.88', loyalty_card: '2770000000001', phone: '+7 916 123-45-67' }),
      row({ sku: 'B-2', quantity: '2', price: '199.99', line_amount: '399.98' }),
    ])
    expect(receipt).toMatchObject({
      family: 'receipt',
      message_id: 'receipt:msk-01:R-1',
      event_type: 'pos_receipt',
      total_minor: 539_988,
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

  it.each([
    [{ price: 'abc' }, /items\[0\]\.price: expected an amount in roubles/],
    [{ quantity: '-1' }, /items\[0\]\.quantity: expected a positive number/],
    [{ type: 'gift' }, /type: expected sale or return/],
    [{ store_id: '' }, /store_id: expected a store id/],
  ])('refuses a receipt row with %j, naming the field', (fields, message) => {
    expect(() => receiptFromRows([row(fields)])).toThrow(message)
  })

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
  })

  it.each([
    [{ date: '2026-02-30' }, /date: expected a date as YYYY-MM-DD/],
    [{ clicks: 'many' }, /clicks: expected a whole number/],
    [{ source: '' }, /source: expected the ad platform/],
  ])('refuses a cost row with %j, naming the field', (fields, message) => {
    expect(() => costFromRow({ date: '2026-11-20', source: 's', campaign: 'c', spend: '1', ...fields })).toThrow(
      message,
    )
  })

  it('tells the format from the file name or the option', () => {
    expect(formatOf('receipts.CSV')).toBe('csv')
    expect(formatOf('costs.jsonl')).toBe('ndjson')
    expect(formatOf('export.txt', 'ndjson')).toBe('ndjson')
    expect(() => formatOf('export.txt')).toThrow(/--format csv\|ndjson/)
  })
})
