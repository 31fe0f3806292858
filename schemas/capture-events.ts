import type avro from 'avsc'
import type { CaptureFamilies, Channel, Identifiers } from './generated/capture-types.ts'

export type * from './generated/capture-types.ts'

/** A capture family: one Avro record type (and its versions) for one kind of source. */
export type Family = keyof CaptureFamilies
/** Families whose records are touchpoints of a person; ad costs are not. */
export type TouchpointFamily = Exclude<Family, 'ad-cost'>

/** An event of any family, tagged with its family. */
export type CapturedEvent = { [F in Family]: { family: F; value: CaptureFamilies[F] } }[Family]

/** Every channel, in the order of the Avro enum `Channel`. */
export const channels: readonly Channel[] = [
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
]

/** Which channels each touchpoint family carries. `order` records name the channel the order was placed in. */
export const familyChannels: Readonly<Record<TouchpointFamily, readonly Channel[]>> = {
  digital: ['web', 'app'],
  social: ['social', 'messenger', 'ads'],
  messaging: ['email', 'sms', 'push'],
  call: ['call_center'],
  receipt: ['store'],
  pickup: ['pickup_point'],
  delivery: ['courier'],
  marketplace: ['marketplace'],
  order: ['web', 'app', 'call_center', 'messenger', 'social', 'store', 'marketplace', 'other'],
  touchpoint: channels,
}

/** The families Omnistitch produces today; `touchpoint` is the flat schema of the first release, still read. */
export const currentTouchpointFamilies: readonly TouchpointFamily[] = [
  'digital',
  'social',
  'messaging',
  'call',
  'receipt',
  'pickup',
  'delivery',
  'marketplace',
  'order',
]

/** Identifiers with none set. */
export const emptyIdentifiers: Readonly<Identifiers> = Object.freeze({
  anonymous_id: null,
  device_id: null,
  customer_id: null,
  email_hash: null,
  phone_hash: null,
  loyalty_card: null,
  order_id: null,
})

/** Identifier fields from the most to the least stable. */
export const identifierPriority = [
  'customer_id',
  'loyalty_card',
  'email_hash',
  'phone_hash',
  'device_id',
  'anonymous_id',
] as const satisfies readonly (keyof Identifiers)[]

/** The identifiers of an event, whatever its family; undefined for ad costs, which belong to no person. */
export function identifiersOf(event: CapturedEvent): Identifiers | undefined {
  switch (event.family) {
    case 'ad-cost':
      return undefined
    case 'touchpoint': {
      const { anonymous_id, device_id, customer_id, email_hash, phone_hash, loyalty_card, order_id } = event.value
      return { anonymous_id, device_id, customer_id, email_hash, phone_hash, loyalty_card, order_id }
    }
    default:
      return event.value.identifiers
  }
}

/**
 * The most stable identifier present, as `kind:value` (such as `customer_id:42`), or undefined when there is none.
 * It keys Kafka records, so one person's events stay in one partition and in order.
 */
export function strongestIdentifier(identifiers: Identifiers | undefined): string | undefined {
  if (identifiers === undefined) return undefined
  for (const field of identifierPriority) {
    const value = identifiers[field]
    if (value !== null && value !== '') return `${field}:${value}`
  }
  return undefined
}

/** The unique id of an event of any family: the event id, or the cost id of an ad cost. */
export function eventIdOf(event: CapturedEvent): string {
  return event.family === 'ad-cost' ? event.value.cost_id : event.value.event_id
}

/**
 * Checks a value against an Avro type and returns every bad field as its path with what was expected there, such as
 * `identifiers.customer_id: expected null or a string (got 42)`. An empty list means valid.
 */
export function findSchemaErrors(type: avro.Type, value: unknown): string[] {
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

function describeType(type: avro.Type): string {
  const name = type.typeName
  if (name === 'enum') return `one of ${(type as avro.types.EnumType).symbols.join(', ')}`
  if (name.startsWith('union')) return (type as avro.types.UnwrappedUnionType).types.map(describeType).join(' or ')
  if (name === 'logical:uuid') return 'a UUID string'
  if (name === 'logical:timestamp-millis') return 'epoch milliseconds (a non-negative whole number)'
  if (name === 'logical:date') return 'days since 1970-01-01 (a whole number)'
  if (name === 'record') return `a ${type.name ?? 'record'} record`
  if (name === 'array') return 'an array'
  if (name === 'null') return 'null'
  if (name === 'long' || name === 'int') return 'a whole number'
  if (name === 'double' || name === 'float') return 'a number'
  return `a ${name}`
}

function preview(value: unknown): string {
  if (value === undefined) return 'nothing'
  const text = JSON.stringify(value) ?? typeof value
  return text.length > 60 ? `${text.slice(0, 57)}...` : text
}

/**
 * Completes a partial record with the schema's defaults (null for optional fields, `{}`-defaulted nested records
 * filled in, empty arrays) and checks it. Returns the complete value, or every bad field with what was expected.
 */
export function completeRecord(type: avro.Type, partial: unknown): { value: unknown; errors: string[] } {
  let value: unknown
  try {
    value = type.clone(partial)
  } catch {
    // clone stops at the first bad field; the schema walk names them all.
    return { value: undefined, errors: findSchemaErrors(type, partial) }
  }
  return { value, errors: findSchemaErrors(type, value) }
}
