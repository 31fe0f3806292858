import type { FastifyInstance } from 'fastify'
import { isoFromDateTime } from '../runtime/clickhouse-values.ts'
import { queryRows, type Store } from '../runtime/clickhouse-store.ts'
import { loadSql } from './sql-files.ts'
import {
  formatProperty,
  metricAnswers,
  requestedFormat,
  sendTable,
  type TableColumn,
  type TableFormat,
} from './tabular.ts'
import { timeRangeOf, timeRangeProperties } from './time-range.ts'

const listSql = loadSql('person-list')

export const personSorts = ['revenue', 'events', 'last_seen'] as const
export type PersonSort = (typeof personSorts)[number]

/** A person of the list, with the figures of their whole history. */
export interface ListedPerson {
  person_id: string
  /** The customer id they logged in with, or '' for customers never identified by one. */
  customer_id: string
  /** ISO 8601, UTC. */
  first_seen: string
  last_seen: string
  events: number
  /** Every channel of their events, sorted. */
  channels: string[]
  orders: number
  /** Net revenue (refunds and returns deducted). */
  revenue: number
}

/** A person as a row of CSV or Arrow: the channels one comma-separated text. */
type PersonRow = Omit<ListedPerson, 'channels'> & { channels: string }

export const personListColumns: readonly TableColumn<PersonRow>[] = [
  { name: 'person_id', type: 'text' },
  { name: 'customer_id', type: 'text' },
  { name: 'first_seen', type: 'text' },
  { name: 'last_seen', type: 'text' },
  { name: 'events', type: 'number' },
  { name: 'channels', type: 'text' },
  { name: 'orders', type: 'number' },
  { name: 'revenue', type: 'number' },
]

interface PersonListQuery {
  from?: string
  to?: string
  channels?: string
  sort?: PersonSort
  limit?: number
  format?: TableFormat
}

/**
 * `GET /v1/persons`: the persons seen in a range, top first by revenue, events or last activity, for the Customer 360
 * page to start from without knowing an identifier. Reads the `persons` view (refreshed every minute). SQL:
 * `queries/sql/person-list.sql`.
 */
export function registerPersonListRoute(
  app: FastifyInstance,
  store: Store,
  settings: Record<string, string | number>,
): void {
  app.get<{ Querystring: PersonListQuery }>(
    '/v1/persons',
    {
      config: { scope: 'reader', rateLimit: {} },
      schema: {
        description:
          'Persons seen in a range (first event before its end, last at or after its start), top first, with the ' +
          'figures of their whole history. Open one with /v1/persons/{person_id}.',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            ...timeRangeProperties,
            channels: {
              type: 'string',
              pattern: '^[a-z_]+(,[a-z_]+)*$',
              maxLength: 1000,
              description: 'Comma-separated channels: only persons who used one of them (default: everyone).',
            },
            sort: {
              type: 'string',
              enum: personSorts,
              default: 'revenue',
              description: 'Highest first: net revenue, events, or the time of the last event.',
            },
            limit: { type: 'integer', minimum: 1, maximum: 1000, default: 50, description: 'Persons to list.' },
            ...formatProperty,
          },
        },
        response: metricAnswers(
          'The persons, top first; as CSV or Arrow, one row per person (channels comma-separated).',
        ),
      },
    },
    async (request, reply) => {
      const range = timeRangeOf(request.query)
      const sort = request.query.sort ?? 'revenue'
      const channels = request.query.channels === undefined ? [] : request.query.channels.split(',')
      const rows = await queryRows<PersonRow>(
        store,
        listSql,
        { ...range.params, channels, sort, limit: request.query.limit ?? 50 },
        settings,
      )
      const persons = rows.map((row) => ({
        ...row,
        first_seen: isoFromDateTime(row.first_seen),
        last_seen: isoFromDateTime(row.last_seen),
      }))
      const format = requestedFormat(request)
      if (format !== 'json') return sendTable(reply, format, personListColumns, persons)
      return {
        from: range.from,
        to: range.to,
        sort,
        persons: persons.map((row) => ({ ...row, channels: row.channels === '' ? [] : row.channels.split(',') })),
      }
    },
  )
}
