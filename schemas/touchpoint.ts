import fs from 'node:fs'
import avro from 'avsc'
import { OmnistitchError } from '../runtime/errors.ts'

/** Channels a touchpoint can come from; the Avro enum `Channel` holds the same list. */
export const channels = [
  'web',
  'app',
  'social',
  'messenger',
  'email',
  'sms',
  'push',
  'call_center',
  'store',
  'pickup_point',
  'courier',
  'marketplace',
  'ads',
  'other',
] as const
export type Channel = (typeof channels)[number]

/** A touchpoint as the producers send it and the consumers receive it (the Avro record `Touchpoint`). */
export interface Touchpoint {
  event_id: string
  /** UTC milliseconds since the epoch. */
  event_time: number
  received_at: number
  channel: Channel
  event_type: string
  anonymous_id: string | null
  device_id: string | null
  customer_id: string | null
  email_hash: string | null
  phone_hash: string | null
  loyalty_card: string | null
  order_id: string | null
  revenue_minor: number | null
  currency: string | null
}

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/**
 * avsc reads `timestamp-millis` and `uuid` as their underlying long and string; this keeps them as numbers and
 * strings in TypeScript while still checking a uuid's shape.
 */
class UuidType extends avro.types.LogicalType {
  override _fromValue(value: unknown): unknown {
    return value
  }
  override _toValue(value: unknown): unknown {
    return typeof value === 'string' && uuidPattern.test(value) ? value.toLowerCase() : undefined
  }
  override _resolve(type: avro.Type): ((value: unknown) => unknown) | undefined {
    return avro.Type.isType(type, 'string', 'logical:uuid') ? (value) => value : undefined
  }
}

class TimestampMillisType extends avro.types.LogicalType {
  override _fromValue(value: unknown): unknown {
    return value
  }
  override _toValue(value: unknown): unknown {
    return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? value : undefined
  }
  override _resolve(type: avro.Type): ((value: unknown) => unknown) | undefined {
    return avro.Type.isType(type, 'long', 'logical:timestamp-millis') ? (value) => value : undefined
  }
}

/** Parses an `.avsc` file with the logical types Omnistitch uses. */
export function parseSchemaFile(file: URL): avro.Type {
  return avro.Type.forSchema(JSON.parse(fs.readFileSync(file, 'utf8')) as avro.Schema, {
    logicalTypes: { uuid: UuidType, 'timestamp-millis': TimestampMillisType },
  })
}

/** The Avro type of the current touchpoint schema. */
export const touchpointType = parseSchemaFile(new URL('./avro/touchpoint.v1.avsc', import.meta.url))

/**
 * Checks a touchpoint against the schema and returns the paths of every bad field with what was expected there,
 * such as `channel: expected one of web, app, ... (got "fax")`. An empty list means valid.
 */
export function findSchemaErrors(value: unknown, type: avro.Type = touchpointType): string[] {
  const errors: string[] = []
  type.isValid(value, {
    errorHook: (pathParts: string[], fieldValue: unknown, fieldType: avro.Type) => {
      errors.push(
        `${pathParts.join('.') || '(record)'}: expected ${describeType(fieldType)} (got ${preview(fieldValue)})`,
      )
    },
  })
  return errors
}

/** Throws OMNI_ERR_SCHEMA_INVALID_EVENT naming every bad field unless the value matches the touchpoint schema. */
export function assertTouchpoint(value: unknown): asserts value is Touchpoint {
  const errors = findSchemaErrors(value)
  if (errors.length > 0) {
    throw new OmnistitchError('OMNI_ERR_SCHEMA_INVALID_EVENT', `Invalid touchpoint: ${errors.join('; ')}`)
  }
}

function describeType(type: avro.Type): string {
  const name = type.typeName
  if (name === 'enum') return `one of ${(type as avro.types.EnumType).symbols.join(', ')}`
  if (name.startsWith('union')) return (type as avro.types.UnwrappedUnionType).types.map(describeType).join(' or ')
  if (name === 'logical:uuid') return 'a UUID string'
  if (name === 'logical:timestamp-millis') return 'epoch milliseconds (a non-negative whole number)'
  if (name === 'record') return `a ${type.name ?? 'record'} record`
  if (name === 'long' || name === 'int') return 'a whole number'
  return `a ${name}`
}

function preview(value: unknown): string {
  if (value === undefined) return 'nothing'
  const text = JSON.stringify(value) ?? typeof value
  return text.length > 60 ? `${text.slice(0, 57)}...` : text
}

/** Identifier fields from the most to the least stable; the first one present keys a person's events. */
export const identifierPriority = [
  'customer_id',
  'loyalty_card',
  'email_hash',
  'phone_hash',
  'device_id',
  'anonymous_id',
] as const satisfies readonly (keyof Touchpoint)[]

/**
 * The most stable identifier a touchpoint carries, as `kind:value` (such as `customer_id:42`), or undefined when it
 * carries none. Used as the Kafka key, so one person's events stay in one partition and in order.
 */
export function strongestIdentifier(touchpoint: Touchpoint): string | undefined {
  for (const field of identifierPriority) {
    const value = touchpoint[field]
    if (value !== null && value !== '') return `${field}:${value}`
  }
  return undefined
}
