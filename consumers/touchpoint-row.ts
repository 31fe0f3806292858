import { formatDateTime64 } from '../runtime/clickhouse-values.ts'
import {
  emptyIdentifiers,
  identifiersOf,
  strongestIdentifier,
  type AdCost,
  type CapturedEvent,
  type Utm,
} from '../schemas/capture-events.ts'

/** Where a record came from in Kafka; kept on every row for audit and replay. */
export interface RecordSource {
  readonly topic: string
  readonly partition: number
  readonly offset: string
  readonly schemaId: number
}

/** A row of `touchpoints` in the shape ClickHouse's JSONEachRow input reads. */
export interface TouchpointRow {
  event_id: string
  event_time: string
  received_at: string
  channel: string
  event_type: string
  family: string
  source: string
  anonymous_id: string
  device_id: string
  customer_id: string
  email_hash: string
  phone_hash: string
  loyalty_card: string
  order_id: string
  order_key: string
  placed_channel: string
  fulfilled_channel: string
  utm_source: string
  utm_medium: string
  utm_campaign: string
  utm_content: string
  utm_term: string
  person_key: string
  revenue: string
  amount: string
  currency: string
  consent: string
  details: string
  schema_id: number
  source_topic: string
  source_partition: number
  source_offset: string
}

/** The columns of a touchpoint row, in the order the loader writes them. */
export const touchpointColumns = [
  'event_id',
  'event_time',
  'received_at',
  'channel',
  'event_type',
  'family',
  'source',
  'anonymous_id',
  'device_id',
  'customer_id',
  'email_hash',
  'phone_hash',
  'loyalty_card',
  'order_id',
  'order_key',
  'placed_channel',
  'fulfilled_channel',
  'utm_source',
  'utm_medium',
  'utm_campaign',
  'utm_content',
  'utm_term',
  'person_key',
  'revenue',
  'amount',
  'currency',
  'consent',
  'details',
  'schema_id',
  'source_topic',
  'source_partition',
  'source_offset',
] as const satisfies readonly (keyof TouchpointRow)[]

/** A row of `ad_costs`. */
export interface AdCostRow {
  cost_id: string
  date: string
  channel: string
  source: string
  medium: string
  campaign: string
  campaign_id: string
  spend: string
  currency: string
  impressions: number
  clicks: number
  received_at: string
  schema_id: number
  source_topic: string
  source_partition: number
  source_offset: string
}

/** The columns of an ad cost row, in the order the loader writes them. */
export const adCostColumns = [
  'cost_id',
  'date',
  'channel',
  'source',
  'medium',
  'campaign',
  'campaign_id',
  'spend',
  'currency',
  'impressions',
  'clicks',
  'received_at',
  'schema_id',
  'source_topic',
  'source_partition',
  'source_offset',
] as const satisfies readonly (keyof AdCostRow)[]

/** Minor units as an exact decimal string: -12345 becomes "-123.45". Never goes through floating point. */
export function formatMinorUnits(minor: number): string {
  const sign = minor < 0 ? '-' : ''
  const digits = String(Math.abs(minor)).padStart(3, '0')
  return `${sign}${digits.slice(0, -2)}.${digits.slice(-2)}`
}

/** Fields every touchpoint family shares; the rest of a record goes to `details`. */
const envelopeFields = new Set([
  'event_id',
  'event_time',
  'received_at',
  'channel',
  'event_type',
  'source',
  'identifiers',
  'consent',
  'utm',
])

/**
 * Money an event mentions (unsigned) and the revenue it realises (signed: returns and refunds negative; zero for
 * events that only move an order along, so an order is not counted again at delivery or pickup).
 */
export function moneyOf(event: Exclude<CapturedEvent, { family: 'ad-cost' }>): {
  amount: number
  revenue: number
  currency: string
} {
  switch (event.family) {
    case 'receipt': {
      const { total_minor: total, currency } = event.value
      return { amount: total, revenue: event.value.event_type === 'pos_return' ? -total : total, currency }
    }
    case 'order': {
      const { amount_minor: amount, currency, event_type: type } = event.value
      const revenue = type === 'order_paid' ? amount : type === 'order_refunded' ? -amount : 0
      return { amount, revenue, currency }
    }
    case 'marketplace': {
      const amount = event.value.amount_minor ?? 0
      const type = event.value.event_type
      const revenue = type === 'order_paid' ? amount : type === 'order_returned' ? -amount : 0
      return { amount, revenue, currency: event.value.currency ?? '' }
    }
    case 'pickup':
    case 'delivery':
      return { amount: event.value.amount_minor ?? 0, revenue: 0, currency: event.value.currency ?? '' }
    case 'digital':
      return { amount: event.value.value_minor ?? 0, revenue: 0, currency: event.value.currency ?? '' }
    case 'touchpoint': {
      const revenue = event.value.revenue_minor ?? 0
      return { amount: Math.abs(revenue), revenue, currency: event.value.currency ?? '' }
    }
    default:
      return { amount: 0, revenue: 0, currency: '' }
  }
}

/**
 * The order an event belongs to and the channels it was placed and fulfilled in. Online orders are named by their
 * order id; a store receipt by its receipt number (a return names the receipt it returns); a marketplace order by the
 * marketplace's order number when no order id came with it.
 */
export function orderOf(event: Exclude<CapturedEvent, { family: 'ad-cost' }>): {
  order_key: string
  placed_channel: string
  fulfilled_channel: string
} {
  const orderId = identifiersOf(event)?.order_id ?? ''
  switch (event.family) {
    case 'order':
      return {
        order_key: orderId,
        placed_channel: event.value.placed_channel ?? event.value.channel,
        fulfilled_channel: event.value.fulfilled_channel ?? '',
      }
    case 'receipt': {
      const receipt = event.value.original_receipt_number ?? event.value.receipt_number
      return { order_key: orderId || `receipt:${receipt}`, placed_channel: 'store', fulfilled_channel: 'store' }
    }
    case 'marketplace':
      return {
        order_key: orderId || `marketplace:${event.value.marketplace}:${event.value.marketplace_order_id}`,
        placed_channel: 'marketplace',
        fulfilled_channel: '',
      }
    case 'pickup':
    case 'delivery':
      return { order_key: orderId, placed_channel: '', fulfilled_channel: event.value.channel }
    default:
      return { order_key: orderId, placed_channel: '', fulfilled_channel: '' }
  }
}

const noUtm: Utm = { source: null, medium: null, campaign: null, content: null, term: null }

export function toTouchpointRow(
  event: Exclude<CapturedEvent, { family: 'ad-cost' }>,
  origin: RecordSource,
): TouchpointRow {
  const identifiers = identifiersOf(event) ?? emptyIdentifiers
  const value = event.value as unknown as Record<string, unknown>
  const utm = (value['utm'] as Utm | undefined) ?? noUtm
  const details = Object.fromEntries(Object.entries(value).filter(([field]) => !envelopeFields.has(field)))
  const money = moneyOf(event)
  const flat = event.family === 'touchpoint'
  return {
    event_id: event.value.event_id,
    event_time: formatDateTime64(event.value.event_time),
    received_at: formatDateTime64(event.value.received_at),
    channel: event.value.channel,
    event_type: event.value.event_type,
    family: event.family,
    source: flat ? '' : (value['source'] as string),
    anonymous_id: identifiers.anonymous_id ?? '',
    device_id: identifiers.device_id ?? '',
    customer_id: identifiers.customer_id ?? '',
    email_hash: identifiers.email_hash ?? '',
    phone_hash: identifiers.phone_hash ?? '',
    loyalty_card: identifiers.loyalty_card ?? '',
    order_id: identifiers.order_id ?? '',
    ...orderOf(event),
    utm_source: utm.source ?? '',
    utm_medium: utm.medium ?? '',
    utm_campaign: utm.campaign ?? '',
    utm_content: utm.content ?? '',
    utm_term: utm.term ?? '',
    person_key: strongestIdentifier(identifiers) ?? `event_id:${event.value.event_id}`,
    revenue: formatMinorUnits(money.revenue),
    amount: formatMinorUnits(money.amount),
    currency: money.currency,
    consent: JSON.stringify(
      flat ? {} : Object.fromEntries(Object.entries(value['consent'] as object).filter(([, flag]) => flag !== null)),
    ),
    details: flat ? '{}' : JSON.stringify(details),
    schema_id: origin.schemaId,
    source_topic: origin.topic,
    source_partition: origin.partition,
    source_offset: origin.offset,
  }
}

const twoDigits = Array.from({ length: 100 }, (_, n) => String(n).padStart(2, '0'))
const threeDigits = Array.from({ length: 1000 }, (_, n) => String(n).padStart(3, '0'))
/** Up to here (year 9999) the fast path below writes what `formatDateTime64` writes. */
const lastFourDigitYear = Date.UTC(9999, 11, 31, 23, 59, 59, 999)

/**
 * `formatDateTime64` without a Date and three string passes per call: the civil date from days since the epoch
 * (H. Hinnant's days_from_civil inverse), the time of day by division. Same text for years 1970-9999; other times
 * go through `formatDateTime64`.
 */
export function formatEventTime(epochMillis: number): string {
  if (!(epochMillis >= 0 && epochMillis <= lastFourDigitYear) || !Number.isInteger(epochMillis)) {
    return formatDateTime64(epochMillis)
  }
  const days = Math.floor(epochMillis / 86_400_000)
  let rest = epochMillis - days * 86_400_000
  const z = days + 719_468
  const era = Math.floor(z / 146_097)
  const dayOfEra = z - era * 146_097
  const yearOfEra = Math.floor(
    (dayOfEra - Math.floor(dayOfEra / 1460) + Math.floor(dayOfEra / 36_524) - Math.floor(dayOfEra / 146_096)) / 365,
  )
  const dayOfYear = dayOfEra - (365 * yearOfEra + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100))
  const monthFromMarch = Math.floor((5 * dayOfYear + 2) / 153)
  const day = dayOfYear - Math.floor((153 * monthFromMarch + 2) / 5) + 1
  const month = monthFromMarch < 10 ? monthFromMarch + 3 : monthFromMarch - 9
  const year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
  const hours = Math.floor(rest / 3_600_000)
  rest -= hours * 3_600_000
  const minutes = Math.floor(rest / 60_000)
  rest -= minutes * 60_000
  const seconds = Math.floor(rest / 1000)
  const millis = rest - seconds * 1000
  return (
    `${year}-${twoDigits[month] as string}-${twoDigits[day] as string} ` +
    `${twoDigits[hours] as string}:${twoDigits[minutes] as string}:${twoDigits[seconds] as string}.${threeDigits[millis] as string}`
  )
}

const tsvSpecial = /[\\\t\n\r]/
const tsvEscapes: Readonly<Record<string, string>> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' }

/** A value in ClickHouse's TabSeparated text: backslash, tab, newline and carriage return escaped. */
export function tsvText(text: string): string {
  return tsvSpecial.test(text) ? text.replace(/[\\\t\n\r]/g, (char) => tsvEscapes[char] as string) : text
}

/** Consent flags that were given either way, as JSON: the nulls (never asked) left out. */
function consentJson(consent: Record<string, unknown>): string {
  let json = '{'
  for (const field of Object.keys(consent)) {
    const flag = consent[field]
    if (flag === null) continue
    const text = JSON.stringify(flag)
    if (text === undefined) continue
    json += json.length === 1 ? `${JSON.stringify(field)}:${text}` : `,${JSON.stringify(field)}:${text}`
  }
  return `${json}}`
}

/** The details of a record: every field but the envelope's, as JSON (`JSON.stringify` of the rest). */
function detailsJson(value: Record<string, unknown>): string {
  // Own fields only, as Object.entries: a decoded Avro record has enumerable methods on its prototype.
  const details: Record<string, unknown> = {}
  for (const field of Object.keys(value)) if (!envelopeFields.has(field)) details[field] = value[field]
  return JSON.stringify(details)
}

/** Whether a line has exactly `tabs` tabs and no backslash, newline or carriage return: nothing in it to escape. */
function isPlainLine(line: string, tabs: number): boolean {
  if (tsvLineSpecial.test(line)) return false
  let count = 0
  for (let at = line.indexOf('\t'); at !== -1; at = line.indexOf('\t', at + 1)) count += 1
  return count === tabs
}
const tsvLineSpecial = /[\\\n\r]/

/**
 * The TabSeparated line of `toTouchpointRow(event, origin)` in `touchpointColumns` order, built directly: the loader's
 * hot path, with no row object in between. Same text as the row written through `insertRows` (tested). Values are
 * written as they are and the line checked once (a stray tab, newline or backslash in any value shows in the count);
 * only a line that needs it is built again with each value escaped.
 */
export function toTouchpointTsvLine(
  event: Exclude<CapturedEvent, { family: 'ad-cost' }>,
  origin: RecordSource,
): string {
  const identifiers = identifiersOf(event) ?? emptyIdentifiers
  const value = event.value as unknown as Record<string, unknown>
  const utm = (value['utm'] as Utm | undefined) ?? noUtm
  const money = moneyOf(event)
  const order = orderOf(event)
  const flat = event.family === 'touchpoint'
  const eventId = event.value.event_id
  const fields = [
    eventId,
    formatEventTime(event.value.event_time),
    formatEventTime(event.value.received_at),
    event.value.channel,
    event.value.event_type,
    event.family,
    flat ? '' : String(value['source']),
    identifiers.anonymous_id ?? '',
    identifiers.device_id ?? '',
    identifiers.customer_id ?? '',
    identifiers.email_hash ?? '',
    identifiers.phone_hash ?? '',
    identifiers.loyalty_card ?? '',
    identifiers.order_id ?? '',
    order.order_key,
    order.placed_channel,
    order.fulfilled_channel,
    utm.source ?? '',
    utm.medium ?? '',
    utm.campaign ?? '',
    utm.content ?? '',
    utm.term ?? '',
    strongestIdentifier(identifiers) ?? `event_id:${eventId}`,
    formatMinorUnits(money.revenue),
    formatMinorUnits(money.amount),
    money.currency,
    flat ? '{}' : consentJson(value['consent'] as Record<string, unknown>),
    flat ? '{}' : detailsJson(value),
    String(origin.schemaId),
    origin.topic,
    String(origin.partition),
    origin.offset,
  ]
  const line = fields.join('\t')
  return isPlainLine(line, fields.length - 1) ? line : fields.map(tsvText).join('\t')
}

/** `2026-11-22` from days since the epoch. */
export function formatDate(daysSinceEpoch: number): string {
  return new Date(daysSinceEpoch * 86_400_000).toISOString().slice(0, 10)
}

export function toAdCostRow(cost: AdCost, origin: RecordSource): AdCostRow {
  return {
    cost_id: cost.cost_id,
    date: formatDate(cost.date),
    channel: cost.channel,
    source: cost.source,
    medium: cost.medium ?? '',
    campaign: cost.campaign,
    campaign_id: cost.campaign_id ?? '',
    spend: formatMinorUnits(cost.spend_minor),
    currency: cost.currency,
    impressions: cost.impressions,
    clicks: cost.clicks,
    received_at: formatDateTime64(cost.received_at),
    schema_id: origin.schemaId,
    source_topic: origin.topic,
    source_partition: origin.partition,
    source_offset: origin.offset,
  }
}
