import type { FastifyInstance } from 'fastify'
import { queryRows, type Store } from '../runtime/clickhouse-store.ts'
import { loadSql } from './sql-files.ts'
import { rangeAndFormatQuerystring, requestedFormat, sendTable, type TableColumn, type TableFormat } from './tabular.ts'
import { timeRangeOf } from './time-range.ts'

const historicalSql = loadSql('ltv-historical')

interface LtvSegment {
  dimension: string
  segment: string
  horizon_days: number
  customers: number
  matured: number
  ltv_gross: number
  ltv_net: number
}

const ltvColumns: readonly TableColumn<LtvSegment>[] = [
  { name: 'dimension', type: 'text' },
  { name: 'segment', type: 'text' },
  { name: 'horizon_days', type: 'number' },
  { name: 'customers', type: 'number' },
  { name: 'matured', type: 'number' },
  { name: 'ltv_gross', type: 'number' },
  { name: 'ltv_net', type: 'number' },
]

/**
 * `GET /v1/ltv`: historical customer value of the customers whose first purchase fell in the range, within 30, 90, 180
 * and 365 days of it, gross and net of returns, by first-purchase cohort, acquisition channel and number of channels
 * used. SQL: `queries/sql/ltv-historical.sql`. Predictive LTV (BG/NBD, Gamma-Gamma) is `omnistitch ltv fit` for now.
 */
export function registerLtvRoute(app: FastifyInstance, store: Store, settings: Record<string, string | number>): void {
  app.get<{ Querystring: { from?: string; to?: string; format?: TableFormat } }>(
    '/v1/ltv',
    {
      config: { scope: 'reader', rateLimit: {} },
      schema: {
        description:
          'Historical LTV per customer by first-purchase cohort, acquisition channel and number of channels used, ' +
          'within 30/90/180/365 days of the first purchase, gross and net of returns.',
        querystring: rangeAndFormatQuerystring,
      },
    },
    async (request, reply) => {
      const range = timeRangeOf(request.query)
      const segments = await queryRows<LtvSegment>(store, historicalSql, range.params, settings)
      const format = requestedFormat(request)
      if (format !== 'json') return sendTable(reply, format, ltvColumns, segments)
      return { from: range.from, to: range.to, segments }
    },
  )
}
