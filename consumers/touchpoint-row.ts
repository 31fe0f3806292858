import { formatDateTime64 } from '../runtime/clickhouse-values.ts'
import { strongestIdentifier, type Touchpoint } from '../schemas/touchpoint.ts'

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
  anonymous_id: string
  device_id: string
  customer_id: string
  email_hash: string
  phone_hash: string
  loyalty_card: string
  order_id: string
  person_key: string
  revenue: string
  currency: string
  schema_id: number
  source_topic: string
  source_partition: number
  source_offset: string
}

/** Minor units as an exact decimal string: -12345 becomes "-123.45". Never goes through floating point. */
export function formatMinorUnits(minor: number): string {
  const sign = minor < 0 ? '-' : ''
  const digits = String(Math.abs(minor)).padStart(3, '0')
  return `${sign}${digits.slice(0, -2)}.${digits.slice(-2)}`
}

export function toTouchpointRow(touchpoint: Touchpoint, source: RecordSource): TouchpointRow {
  return {
    event_id: touchpoint.event_id,
    event_time: formatDateTime64(touchpoint.event_time),
    received_at: formatDateTime64(touchpoint.received_at),
    channel: touchpoint.channel,
    event_type: touchpoint.event_type,
    anonymous_id: touchpoint.anonymous_id ?? '',
    device_id: touchpoint.device_id ?? '',
    customer_id: touchpoint.customer_id ?? '',
    email_hash: touchpoint.email_hash ?? '',
    phone_hash: touchpoint.phone_hash ?? '',
    loyalty_card: touchpoint.loyalty_card ?? '',
    order_id: touchpoint.order_id ?? '',
    person_key: strongestIdentifier(touchpoint) ?? `event_id:${touchpoint.event_id}`,
    revenue: formatMinorUnits(touchpoint.revenue_minor ?? 0),
    currency: touchpoint.currency ?? '',
    schema_id: source.schemaId,
    source_topic: source.topic,
    source_partition: source.partition,
    source_offset: source.offset,
  }
}
