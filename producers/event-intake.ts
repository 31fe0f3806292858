import crypto from 'node:crypto'
import {
  completeRecord,
  familyChannels,
  type CapturedEvent,
  type Channel,
  type Family,
  type TouchpointFamily,
} from '../schemas/capture-events.ts'
import { eventProblem, hashExpectation, identifierHashPattern } from '../schemas/event-checks.ts'
import type { SchemaRegistry } from '../schemas/schema-registry.ts'
import type { IdentifierHasher } from './identifier-hashing.ts'

/**
 * The one way an event from outside becomes a captured event, shared by the HTTP collector, webhooks, file imports
 * and `omnistitch produce`: infer its family, hash raw e-mail and phone, give it a stable event id, fill defaults
 * from the schema and validate. Input is the family's Avro record as JSON, partial, with these conveniences:
 * - `family` may be left out: it follows from `channel` and `event_type`;
 * - `identifiers.email` / `identifiers.phone` (raw) become `email_hash` / `phone_hash`; the raw values go no further;
 *   a raw address or number sent as `email_hash` / `phone_hash` is hashed the same way, and any other value there that
 *   is not a hash in its documented form (64 lower-case hex digits) is refused;
 * - `event_id` may be left out when `message_id` is given: the id is then derived from source and message id, so a
 *   resend of the same message is the same event; with neither, a random id is given;
 * - `event_time` may be an ISO 8601 string; it defaults to the receive time, and `received_at` is always set here.
 * After the schema, the event passes the loader's own checks (schemas/event-checks.ts): what the loader would
 * dead-letter is refused here instead.
 */
export interface IntakeContext {
  readonly registry: SchemaRegistry
  readonly hasher: IdentifierHasher
  /** Who sent it (a write key's source, a webhook adapter, an import file); recorded as `source` when absent. */
  readonly source: string
  /**
   * Whether `source` is the sender's identity rather than a default: the collector's write key. Then an event's own
   * `source` field may only repeat it; one that names another source is refused, so a key cannot write as another.
   */
  readonly sourceIsFixed?: boolean
  readonly now?: () => number
}

/** One problem with one incoming event: the field path and what was expected. */
export interface IntakeError {
  readonly field: string
  readonly message: string
}

export type IntakeResult = { ok: true; event: CapturedEvent } | { ok: false; errors: IntakeError[] }

const eventIdNamespace = 'omnistitch:event:'

/** A name-based UUID (version 5 layout, SHA-1) from the source and the client's message id. */
export function deterministicEventId(source: string, messageId: string): string {
  const hash = crypto.createHash('sha1').update(`${eventIdNamespace}${source}\u0000${messageId}`).digest()
  hash[6] = ((hash[6] ?? 0) & 0x0f) | 0x50
  hash[8] = ((hash[8] ?? 0) & 0x3f) | 0x80
  const hex = hash.subarray(0, 16).toString('hex')
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`
}

/** The family an event belongs to when the sender did not say. */
export function inferFamily(channel: unknown, eventType: unknown): TouchpointFamily | undefined {
  if (typeof channel !== 'string') return undefined
  if (typeof eventType === 'string' && eventType.startsWith('order_') && channel !== 'marketplace') return 'order'
  const families = Object.entries(familyChannels) as [TouchpointFamily, readonly Channel[]][]
  return families.find(
    ([family, list]) => family !== 'order' && family !== 'touchpoint' && list.includes(channel as Channel),
  )?.[0]
}

const familyNames = new Set<string>([...Object.keys(familyChannels), 'ad-cost'])

function fail(field: string, message: string): IntakeResult {
  return { ok: false, errors: [{ field, message }] }
}

function toMillis(value: unknown): number | undefined | null {
  if (value === undefined || value === null) return undefined
  if (typeof value === 'number') return value
  if (typeof value === 'string') {
    const parsed = Date.parse(value)
    return Number.isNaN(parsed) ? null : parsed
  }
  return null
}

export async function intakeEvent(input: unknown, context: IntakeContext): Promise<IntakeResult> {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    return fail('(event)', 'expected a JSON object')
  }
  const { family: givenFamily, message_id: messageId, ...fields } = input as Record<string, unknown>
  let family: Family | undefined
  if (givenFamily !== undefined) {
    if (typeof givenFamily !== 'string' || !familyNames.has(givenFamily)) {
      return fail('family', `expected one of ${[...familyNames].join(', ')} (got ${JSON.stringify(givenFamily)})`)
    }
    family = givenFamily as Family
  } else {
    family = inferFamily(fields['channel'], fields['event_type'])
    if (family === undefined) {
      return fail(
        'channel',
        `expected a channel that names the event's family, or a "family" field (got ${JSON.stringify(fields['channel'])})`,
      )
    }
  }
  const now = (context.now ?? Date.now)()
  const record: Record<string, unknown> = { ...fields, received_at: now }

  if (family !== 'ad-cost') {
    const time = toMillis(record['event_time'])
    if (time === null)
      return fail(
        'event_time',
        `expected epoch milliseconds or an ISO 8601 date-time (got ${JSON.stringify(record['event_time'])})`,
      )
    record['event_time'] = time ?? now
    if (record['source'] === undefined) record['source'] = context.source
    else if (context.sourceIsFixed === true && record['source'] !== context.source) {
      return fail(
        'source',
        `expected nothing or ${JSON.stringify(context.source)}: the write key sets the source (got ${JSON.stringify(record['source'])})`,
      )
    }
    if (record['event_id'] === undefined) {
      if (messageId !== undefined && (typeof messageId !== 'string' || messageId === '')) {
        return fail('message_id', `expected a non-empty string (got ${JSON.stringify(messageId)})`)
      }
      record['event_id'] =
        typeof messageId === 'string' ? deterministicEventId(context.source, messageId) : crypto.randomUUID()
    }
    const identifiers = record['identifiers']
    if (identifiers !== undefined) {
      if (typeof identifiers !== 'object' || identifiers === null) return fail('identifiers', 'expected an object')
      const { email, phone, ...rest } = identifiers as Record<string, unknown>
      const hashed: Record<string, unknown> = { ...rest }
      const given = givenHashes(hashed, context.hasher)
      if (given !== undefined) return { ok: false, errors: [given] }
      if (email !== undefined && email !== null) {
        const hash = typeof email === 'string' ? context.hasher.email(email) : null
        if (hash === null)
          return fail(
            'identifiers.email',
            `expected an e-mail address (got ${typeof email === 'string' ? 'a string that is not one' : typeof email})`,
          )
        hashed['email_hash'] = hash
      }
      if (phone !== undefined && phone !== null) {
        const hash = typeof phone === 'string' ? context.hasher.phone(phone) : null
        if (hash === null) return fail('identifiers.phone', 'expected a phone number of 10 to 15 digits')
        hashed['phone_hash'] = hash
      }
      record['identifiers'] = hashed
    }
  }

  const writer = await context.registry.writerFor(family)
  const { value, errors } = completeRecord(writer.type, record)
  if (errors.length > 0) {
    return {
      ok: false,
      errors: errors.map((text) => {
        const colon = text.indexOf(': ')
        return { field: text.slice(0, colon), message: text.slice(colon + 2) }
      }),
    }
  }
  const event = { family, value } as CapturedEvent
  // What the loader would dead-letter is refused here, so that an accepted event is a stored one.
  const problem = eventProblem(event)
  if (problem !== undefined) return fail(problem.field, problem.message)
  return { ok: true, event }
}

/**
 * Checks `email_hash` and `phone_hash` as given, in place: a hash in its documented form is kept (lower-cased); a raw
 * e-mail or phone number sent in either field is hashed into the field of its kind, as `identifiers.email` and
 * `identifiers.phone` are; anything else is refused. Returns the problem, or undefined.
 */
function givenHashes(identifiers: Record<string, unknown>, hasher: IdentifierHasher): IntakeError | undefined {
  for (const field of ['email_hash', 'phone_hash'] as const) {
    const given = identifiers[field]
    if (given === undefined || given === null) continue
    if (typeof given !== 'string') {
      return { field: `identifiers.${field}`, message: `expected null or a string (got ${typeof given})` }
    }
    const lower = given.trim().toLowerCase()
    if (identifierHashPattern.test(lower)) {
      identifiers[field] = lower
      continue
    }
    const email = hasher.email(given)
    const phone = email === null ? hasher.phone(given) : null
    const [kind, hash] = email !== null ? (['email_hash', email] as const) : (['phone_hash', phone] as const)
    const other = identifiers[kind]
    if (hash === null || (kind !== field && other !== undefined && other !== null)) {
      return {
        field: `identifiers.${field}`,
        message: `${hashExpectation(given)}, or an e-mail address or phone number to hash`,
      }
    }
    if (kind !== field) delete identifiers[field]
    identifiers[kind] = hash
  }
  return undefined
}
