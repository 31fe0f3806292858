import type { CapturedEvent } from './capture-events.ts'

/**
 * The checks an event must pass beyond its Avro schema, shared by the capture edge (producers/event-intake.ts, which
 * rejects the event in its answer) and the loader (consumers/touchpoint-loader.ts, which dead-letters a record that
 * was produced to Kafka without going through the edge). One list, so that whatever the loader would dead-letter the
 * collector has already refused, and a 202 means the event will be stored.
 */

/** One problem with one event: the field path and what was expected there. */
export interface EventProblem {
  readonly field: string
  readonly message: string
}

/** The documented form of `identifiers.email_hash` and `phone_hash`: HMAC-SHA256, 64 lower-case hex digits. */
export const identifierHashPattern = /^[0-9a-f]{64}$/

/** Before this, an event time is a default or a unit mistake, not a touchpoint: 2000-01-01. */
export const earliestEventTime = Date.UTC(2000, 0, 1)

/** How far past its receive time an event may say it happened (clocks differ; a day is not a clock error). */
export const maxClockSkewMs = 86_400_000

/** Money fields that can never be negative (a return is its own event type with a positive amount). */
const moneyFields = ['amount_minor', 'total_minor', 'value_minor', 'spend_minor', 'discount_minor'] as const

/** Why an event that matches its schema cannot be true, or undefined when it can. */
export function implausibility(event: CapturedEvent): EventProblem | undefined {
  const value = event.value as unknown as Record<string, unknown>
  if (event.family !== 'ad-cost') {
    const time = event.value.event_time
    const received = event.value.received_at
    if (time < earliestEventTime) {
      return { field: 'event_time', message: `expected 2000-01-01 or later (got ${new Date(time).toISOString()})` }
    }
    if (time > received + maxClockSkewMs) {
      return {
        field: 'event_time',
        message: `expected no later than a day after received_at (event_time ${new Date(time).toISOString()}, received_at ${new Date(received).toISOString()})`,
      }
    }
  }
  for (const field of moneyFields) {
    const amount = value[field]
    if (typeof amount === 'number' && amount < 0) return { field, message: `expected zero or more (got ${amount})` }
  }
  return undefined
}

// An address anywhere in a text, also URL-encoded (`?email=a%40b.ru`): a query string is where they leak from.
const emailPattern = /[a-z0-9._%+-]+(?:@|%40)[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}/i
// A phone number as a token of its own (so hex hashes, UUIDs and longer numbers do not match): international with a
// plus and 10-15 digits, or a Russian mobile number in national or international form, with or without separators.
const phonePattern =
  /(?<![\w+])(?:\+\d(?:[\s().-]{0,3}\d){9,14}|[78][\s(.-]{0,3}9\d{2}[\s).-]{0,3}\d{3}[\s.-]{0,2}\d{2}[\s.-]{0,2}\d{2})(?!\w)/

// Cheap to test, and in every phone number the full pattern finds: the plus, or a Russian mobile's 7/8 then 9.
const mobilePrefix = /[78][\s(.-]{0,3}9/

/** What kind of personal data a text holds, or undefined. Cheap for the common text that holds none. */
export function personalDataIn(text: string): 'an e-mail address' | 'a phone number' | undefined {
  if (text.length < 6) return undefined
  if ((text.includes('@') || text.includes('%40')) && emailPattern.test(text)) return 'an e-mail address'
  if (text.length >= 11 && (text.includes('+') || mobilePrefix.test(text)) && phonePattern.test(text)) {
    return 'a phone number'
  }
  return undefined
}

/**
 * Fields not scanned as text: those whose form is checked on its own (a UUID, a hash, an enum), and the call-tracking
 * number, which is the retailer's own line that a call came in on, not the caller's.
 */
const notScanned = new Set([
  'event_id',
  'email_hash',
  'phone_hash',
  'cost_id',
  'tracking_number',
  'channel',
  'event_type',
  'currency',
])

/**
 * The first string in an event that holds an e-mail address or a phone number, anywhere in the record: identifiers,
 * UTM tags, URLs, names, free text. Raw contact details are hashed at the capture edge (`identifiers.email`,
 * `identifiers.phone`); one found anywhere else would be stored in the clear, so the event is refused instead.
 */
export function personalDataFinding(event: CapturedEvent): EventProblem | undefined {
  const path: (string | number)[] = []
  const kind = scan(event.value, path)
  if (kind === undefined) return undefined
  const field = path.reduce<string>(
    (text, step) => (typeof step === 'number' ? `${text}[${step}]` : text === '' ? step : `${text}.${step}`),
    '',
  )
  return {
    field,
    message: `holds what looks like ${kind}; send contact details only as identifiers.email or identifiers.phone, which are hashed at capture`,
  }
}

/** The kind of personal data found in `value`, with `path` left naming where; undefined when there is none. */
// The loader's hot path: no strings are built on the way, the path only where something was found.
function scan(value: unknown, path: (string | number)[]): ReturnType<typeof personalDataIn> {
  if (typeof value === 'string') return personalDataIn(value)
  if (typeof value !== 'object' || value === null) return undefined
  if (Array.isArray(value)) {
    for (let index = 0; index < value.length; index++) {
      const found = scan(value[index], path)
      if (found !== undefined) {
        path.unshift(index)
        return found
      }
    }
    return undefined
  }
  // Own keys only: a decoded Avro record has enumerable methods on its prototype.
  for (const key of Object.keys(value)) {
    if (notScanned.has(key)) continue
    const found = scan((value as Record<string, unknown>)[key], path)
    if (found !== undefined) {
      path.unshift(key)
      return found
    }
  }
  return undefined
}

/** Identifier hashes not in their documented form (a raw address given as a hash is the usual case). */
export function malformedHash(event: CapturedEvent): EventProblem | undefined {
  if (event.family === 'ad-cost') return undefined
  const identifiers = (event.value as { identifiers?: Record<string, unknown> | null }).identifiers
  if (identifiers === undefined || identifiers === null) return undefined
  for (const field of ['email_hash', 'phone_hash'] as const) {
    const hash = identifiers[field]
    if (typeof hash === 'string' && !identifierHashPattern.test(hash)) {
      return { field: `identifiers.${field}`, message: hashExpectation(hash) }
    }
  }
  return undefined
}

/** What a `*_hash` field should hold, and what it held, without repeating a value that may be personal data. */
export function hashExpectation(got: string): string {
  return `expected an HMAC-SHA256 hash as 64 lower-case hex digits (got ${got.length} characters that are not one)`
}

/** A problem with the error code it is refused or dead-lettered under. */
export interface CodedEventProblem extends EventProblem {
  readonly code: 'OMNI_ERR_EVENT_PERSONAL_DATA' | 'OMNI_ERR_EVENT_IMPOSSIBLE'
}

/**
 * Every check of this module, in order: identifier hashes, plausibility, personal data. The first problem found, or
 * undefined for an event that may be stored.
 */
export function eventProblem(event: CapturedEvent): CodedEventProblem | undefined {
  const hash = malformedHash(event)
  if (hash !== undefined) return { code: 'OMNI_ERR_EVENT_PERSONAL_DATA', ...hash }
  const impossible = implausibility(event)
  if (impossible !== undefined) return { code: 'OMNI_ERR_EVENT_IMPOSSIBLE', ...impossible }
  const personal = personalDataFinding(event)
  return personal === undefined ? undefined : { code: 'OMNI_ERR_EVENT_PERSONAL_DATA', ...personal }
}
