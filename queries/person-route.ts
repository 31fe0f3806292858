import type { FastifyInstance } from 'fastify'
import type { IdentifierHasher } from '../producers/identifier-hashing.ts'
import { queryRows, type Store } from '../runtime/clickhouse-store.ts'
import { ownValue } from '../runtime/key-lookup.ts'
import { OmnistitchError } from '../runtime/errors.ts'
import { loadSql } from './sql-files.ts'
import { anyObject, errorAnswers, readerRouteErrors } from './tabular.ts'

const personOfIdentifierSql = loadSql('person-of-identifier')
const identifiersSql = loadSql('person-identifiers')
const profileSql = loadSql('person-profile')
const categoriesSql = loadSql('person-categories')
const timelineSql = loadSql('person-timeline')
const ordersSql = loadSql('person-orders')

/** The kinds a lookup takes, as written in the path, and the stored kind each is (e-mails and phones get hashed). */
const lookupKinds: Readonly<Record<string, string>> = {
  customer_id: 'customer_id',
  customer: 'customer_id',
  anonymous_id: 'anonymous_id',
  cookie: 'anonymous_id',
  device_id: 'device_id',
  device: 'device_id',
  loyalty_card: 'loyalty_card',
  card: 'loyalty_card',
  order_id: 'order_id',
  order: 'order_id',
  email_hash: 'email_hash',
  phone_hash: 'phone_hash',
  email: 'email',
  phone: 'phone',
}

function bad(message: string): OmnistitchError {
  return new OmnistitchError('OMNI_ERR_API_BAD_PARAMETER', message)
}

/**
 * The stored identifier (`kind:value`) a lookup names. A raw e-mail or phone number is normalised and hashed with the
 * collector's secret, exactly as at capture, so it finds the same hash; it is never stored or logged.
 */
export function storedIdentifier(lookup: string, hasher: IdentifierHasher): string {
  const colon = lookup.indexOf(':')
  const kind = colon > 0 ? ownValue(lookupKinds, lookup.slice(0, colon)) : undefined
  const value = lookup.slice(colon + 1)
  if (kind === undefined || value === '') {
    throw bad(
      `path parameter "identifier": expected kind:value with kind one of ${Object.keys(lookupKinds).join(', ')}, ` +
        `or a person id (pers_…)`,
    )
  }
  if (kind === 'email' || kind === 'phone') {
    const hashed = kind === 'email' ? hasher.email(value) : hasher.phone(value)
    if (hashed === null)
      throw bad(`path parameter "identifier": not a valid ${kind === 'email' ? 'e-mail address' : 'phone number'}`)
    return `${kind}_hash:${hashed}`
  }
  return `${kind}:${value}`
}

/**
 * `GET /v1/persons/{identifier}`: one customer across every channel, found by any of their identifiers (or their
 * person id): identifiers, channels, orders, payment method, price band, favourite categories, consent, and the
 * newest events. SQL: `queries/sql/person-*.sql`.
 */
export function registerPersonRoute(
  app: FastifyInstance,
  store: Store,
  hasher: IdentifierHasher,
  settings: Record<string, string | number>,
): void {
  app.get<{ Params: { identifier: string }; Querystring: { events?: number } }>(
    '/v1/persons/:identifier',
    {
      // The path can hold a raw e-mail or phone number: this route's requests are not logged (Fastify logs each
      // request's URL at info), so neither reaches a log; it is hashed at once and never stored.
      logLevel: 'warn',
      config: { scope: 'reader', rateLimit: {} },
      schema: {
        description:
          'A customer profile, found by any identifier as kind:value (customer_id, cookie, device, card, order, email, ' +
          'phone; e-mails and phones are hashed as at capture) or by person id.',
        params: {
          type: 'object',
          properties: { identifier: { type: 'string', minLength: 3, maxLength: 512 } },
          required: ['identifier'],
        },
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            events: { type: 'integer', minimum: 1, maximum: 1000, description: 'Newest events to list (default 100).' },
          },
        },
        response: {
          200: { description: 'The customer profile.', ...anyObject },
          ...errorAnswers([...readerRouteErrors, 'OMNI_ERR_API_NOT_FOUND']),
        },
      },
    },
    async (request) => {
      const lookup = request.params.identifier
      let personId: string | undefined
      if (/^pers_[0-9a-f]{16}$/.test(lookup)) personId = lookup
      else {
        const identifier = storedIdentifier(lookup, hasher)
        personId = (await queryRows<{ person_id: string }>(store, personOfIdentifierSql, { identifier }, settings))[0]
          ?.person_id
      }
      if (personId === undefined) {
        throw new OmnistitchError(
          'OMNI_ERR_API_NOT_FOUND',
          'no person has this identifier (yet: identities are resolved every few seconds)',
        )
      }
      const params = { person_id: personId }
      const [identifiers, [profile], categories, events, orders] = await Promise.all([
        queryRows<{ identifier: string; kind: string; status: string }>(store, identifiersSql, params, settings),
        queryRows<Record<string, unknown>>(store, profileSql, params, settings),
        queryRows<{ category: string; items: number }>(store, categoriesSql, params, settings),
        queryRows<Record<string, unknown>>(
          store,
          timelineSql,
          { ...params, limit: request.query.events ?? 100 },
          settings,
        ),
        queryRows<Record<string, unknown>>(store, ordersSql, params, settings),
      ])
      if (profile === undefined || profile['events'] === 0) {
        throw new OmnistitchError('OMNI_ERR_API_NOT_FOUND', 'no events of this person are stored')
      }
      const consent = typeof profile['consent'] === 'string' && profile['consent'] !== '' ? profile['consent'] : '{}'
      return {
        person_id: personId,
        identifiers,
        first_seen: profile['first_seen'],
        last_seen: profile['last_seen'],
        events: profile['events'],
        channels: [...(profile['channels'] as string[])].sort(),
        orders: profile['orders'],
        revenue: profile['revenue'],
        preferred_payment_method: (profile['payment_methods'] as string[])[0] ?? null,
        price_band: profile['price_band'] === '' ? null : profile['price_band'],
        favourite_categories: categories,
        consent: JSON.parse(consent) as Record<string, boolean>,
        orders_list: orders,
        timeline: events,
      }
    },
  )
}
