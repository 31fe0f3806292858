import type { FastifyInstance } from 'fastify'
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

const totalsSql = loadSql('overview-totals')
const seriesSql = loadSql('overview-series')

/** The periods of the overview series: UTC days, or ISO weeks starting on Monday. */
export const overviewIntervals = ['day', 'week'] as const
export type OverviewInterval = (typeof overviewIntervals)[number]

export interface OverviewTotals {
  events: number
  /** Distinct resolved persons among the events. */
  persons: number
  /** Orders placed in the range with gross revenue above 0. */
  orders: number
  /** Net revenue of those orders. */
  revenue: number
  /** converted_journeys / journeys (0 without journeys). */
  conversion_rate: number
  /** The share of the persons whose touches in the range span two channels or more (every channel counted). */
  omnichannel_share: number
  /** Journeys that ended in the range. */
  journeys: number
  converted_journeys: number
}

export interface OverviewPeriod {
  /** `YYYY-MM-DD`: the day, or the Monday of the ISO week. */
  period: string
  events: number
  persons: number
  orders: number
  revenue: number
}

export const overviewSeriesColumns: readonly TableColumn<OverviewPeriod>[] = [
  { name: 'period', type: 'text' },
  { name: 'events', type: 'number' },
  { name: 'persons', type: 'number' },
  { name: 'orders', type: 'number' },
  { name: 'revenue', type: 'number' },
]

interface OverviewQuery {
  from?: string
  to?: string
  channels?: string
  interval?: OverviewInterval
  format?: TableFormat
}

/**
 * `GET /v1/overview`: the dashboard's headline figures over a range (events, persons, orders, net revenue, journey
 * conversion rate, omnichannel share) and events, persons, orders and revenue per day or ISO week, optionally for some
 * channels only. SQL: `queries/sql/overview-totals.sql` and `overview-series.sql`; definitions in docs/OVERVIEW.md.
 */
export function registerOverviewRoute(
  app: FastifyInstance,
  store: Store,
  settings: Record<string, string | number>,
): void {
  app.get<{ Querystring: OverviewQuery }>(
    '/v1/overview',
    {
      config: { scope: 'reader', rateLimit: {} },
      schema: {
        description:
          'Dashboard overview: events, persons, orders, net revenue, journey conversion rate and omnichannel share ' +
          'in a range, and a series per day or ISO week. As CSV or Arrow: the series.',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            ...timeRangeProperties,
            channels: {
              type: 'string',
              pattern: '^[a-z_]+(,[a-z_]+)*$',
              maxLength: 1000,
              description:
                'Comma-separated channels: only their events, the orders placed in them and the journeys touching ' +
                'them count (default: every channel).',
            },
            interval: {
              type: 'string',
              enum: overviewIntervals,
              default: 'day',
              description: 'The period of the series: day (UTC) or week (ISO, from Monday).',
            },
            ...formatProperty,
          },
        },
        response: metricAnswers('The totals and the series; as CSV or Arrow, the series.'),
      },
    },
    async (request, reply) => {
      const range = timeRangeOf(request.query)
      const interval = request.query.interval ?? 'day'
      const channels = request.query.channels === undefined ? [] : request.query.channels.split(',')
      const params = { ...range.params, channels }
      const [[totals], series] = await Promise.all([
        queryRows<OverviewTotals>(store, totalsSql, params, settings),
        queryRows<OverviewPeriod>(store, seriesSql, { ...params, interval }, settings),
      ])
      const format = requestedFormat(request)
      if (format !== 'json') return sendTable(reply, format, overviewSeriesColumns, series)
      return {
        from: range.from,
        to: range.to,
        interval,
        totals: {
          events: totals?.events ?? 0,
          persons: totals?.persons ?? 0,
          orders: totals?.orders ?? 0,
          revenue: totals?.revenue ?? 0,
          conversion_rate: totals?.conversion_rate ?? 0,
          omnichannel_share: totals?.omnichannel_share ?? 0,
          journeys: totals?.journeys ?? 0,
          converted_journeys: totals?.converted_journeys ?? 0,
        },
        series,
      }
    },
  )
}
