import crypto from 'node:crypto'
import {
  completeRecord,
  familyChannels,
  type CapturedEvent,
  type Channel,
  type Family,
  type TouchpointFamily,
} from '../schemas/capture-events.ts'
import type { SchemaRegistry } from '../schemas/schema-registry.ts'
import type { IdentifierHasher } from './identifier-hashing.ts'

/**
 * The one way an event from outside becomes a captured event, shared by the HTTP collector, webhooks, file imports
 * and `omnistitch produce`: infer its family, hash raw e-mail and phone, give it a stable event id, fill defaults
 * from the schema and validate. Input is the family's Avro record as JSON, partial, with these conveniences:
 * - `family` may be left out: it follows from `channel` and `event_type`;
 * - `identifiers.email` / `identifiers.phone` (raw) become `email_hash` / `phone_hash`; the raw values go no further;
 * - `event_id` may be left out when `message_id` is given: the id is then derived from source and message id, so a
 *   resend of the same message is the same event; with neither, a random id is given;
 * - `event_time` may be an ISO 8601 string; it defaults to the receive time, and `received_at` is always set here.
 */
export interface IntakeContext {
  readonly registry: SchemaRegistry
  readonly hasher: IdentifierHasher
  /** Who sent it (a write key's source, a webhook adapter, an import file); recorded as `source` when absent. */
  readonly source: string
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
  return { ok: true, event: { family, value } as CapturedEvent }
}
