import type { FastifyInstance } from 'fastify'
import { queryRows, type Store } from '../runtime/clickhouse-store.ts'
import { loadRangeSql } from './sql-files.ts'
import {
  metricAnswers,
  rangeAndFormatQuerystring,
  requestedFormat,
  sendTable,
  share,
  type TableColumn,
  type TableFormat,
} from './tabular.ts'
import { timeRangeOf } from './time-range.ts'

const transitionsSql = loadRangeSql('channel-transitions')
const switchersSql = loadRangeSql('channel-switchers')
const pathsSql = loadRangeSql('channel-paths')
const flowsSql = loadRangeSql('channel-flows')

/** Channels where a customer is met in person or by phone; every other channel is online. */
export const offlineChannels: ReadonlySet<string> = new Set(['store', 'pickup_point', 'courier', 'call_center'])

/** Steps of a journey shown in the Sankey flows. */
const flowSteps = 5
const topPathCount = 20

export interface Transition {
  from_channel: string
  to_channel: string
  transitions: number
  /** The share of the from-channel's transitions that go to the to-channel. */
  probability: number
  /** For a switch (channels differ): the median time between the two touches; null for a repeat. */
  median_hours: number | null
}

export const transitionColumns: readonly TableColumn<Transition>[] = [
  { name: 'from_channel', type: 'text' },
  { name: 'to_channel', type: 'text' },
  { name: 'transitions', type: 'number' },
  { name: 'probability', type: 'number' },
  { name: 'median_hours', type: 'number' },
]

/**
 * `GET /v1/channel-switch`: how customers move between channels. The transition matrix between the channels of
 * consecutive touches, switches online to offline and back, the share of journeys and customers using more than one
 * channel, conversion and value of multichannel against single-channel customers, the top cross-channel paths, and
 * step-to-step flows for a Sankey chart. SQL: `queries/sql/channel-*.sql`.
 */
export function registerChannelSwitchRoute(
  app: FastifyInstance,
  store: Store,
  settings: Record<string, string | number>,
): void {
  app.get<{ Querystring: { from?: string; to?: string; format?: TableFormat } }>(
    '/v1/channel-switch',
    {
      config: { scope: 'reader', rateLimit: {} },
      schema: {
        description:
          'Channel switching: the transition matrix, online/offline switches, multichannel shares, switchers against ' +
          'single-channel customers, top cross-channel paths and Sankey flows. As CSV or Arrow: the transition matrix.',
        querystring: rangeAndFormatQuerystring,
        response: metricAnswers('Channel switching; as CSV or Arrow, the transition matrix.'),
      },
    },
    async (request, reply) => {
      const range = timeRangeOf(request.query)
      const [pairRows, segmentRows, pathRows, flowRows] = await Promise.all([
        queryRows<Omit<Transition, 'probability'> & { switches: number }>(
          store,
          transitionsSql.for(range),
          range.params,
          settings,
        ),
        queryRows<{ segment: string; customers: number; converted_customers: number; orders: number; revenue: number }>(
          store,
          switchersSql.for(range),
          range.params,
          settings,
        ),
        queryRows<{ steps: string[]; journeys: number; conversions: number; revenue: number; channels: number }>(
          store,
          pathsSql.for(range),
          { ...range.params, outcome: 'all', limit: topPathCount, min_channels: 2 },
          settings,
        ),
        queryRows<{
          step: number
          from_channel: string
          to_channel: string
          journeys: number
          multichannel_journeys: number
        }>(store, flowsSql.for(range), { ...range.params, flow_steps: flowSteps }, settings),
      ])
      // The row with empty channels holds the totals: the switches and their median time apart.
      const times = pairRows.find((row) => row.from_channel === '')
      const transitionRows = pairRows.filter((row) => row.from_channel !== '')
      const outgoing = new Map<string, number>()
      for (const row of transitionRows) {
        outgoing.set(row.from_channel, (outgoing.get(row.from_channel) ?? 0) + row.transitions)
      }
      const transitions: Transition[] = transitionRows.map((row) => ({
        from_channel: row.from_channel,
        to_channel: row.to_channel,
        transitions: row.transitions,
        probability: share(row.transitions, outgoing.get(row.from_channel) ?? 0),
        median_hours: row.median_hours,
      }))
      const format = requestedFormat(request)
      if (format !== 'json') return sendTable(reply, format, transitionColumns, transitions)

      const switched = (fromOffline: boolean) =>
        transitions
          .filter(
            (row) =>
              offlineChannels.has(row.from_channel) === fromOffline &&
              offlineChannels.has(row.to_channel) !== fromOffline,
          )
          .reduce((sum, row) => sum + row.transitions, 0)
      // The row of step 0 holds the journeys' totals; the others are the flows.
      const totals = flowRows.find((row) => row.step === 0)
      const journeys = totals?.journeys ?? 0
      const multichannelJourneys = totals?.multichannel_journeys ?? 0
      const segments = segmentRows.map((row) => ({
        ...row,
        conversion_rate: share(row.converted_customers, row.customers),
        average_order_value: row.orders > 0 ? row.revenue / row.orders : null,
        revenue_per_customer: share(row.revenue, row.customers),
      }))
      const customers = segments.reduce((sum, row) => sum + row.customers, 0)
      const multichannelCustomers = segments.find((row) => row.segment === 'multichannel')?.customers ?? 0
      const flows = flowRows
        .filter((row) => row.step > 0)
        .map((row) => ({
          source: `${row.step}. ${row.from_channel}`,
          target: `${row.step + 1}. ${row.to_channel}`,
          value: row.journeys,
        }))
        .sort((a, b) => b.value - a.value || (a.source < b.source ? -1 : a.source > b.source ? 1 : 0))
      return {
        from: range.from,
        to: range.to,
        transitions,
        switches: {
          total: times?.switches ?? 0,
          online_to_offline: switched(false),
          offline_to_online: switched(true),
          median_hours_between: times?.median_hours ?? null,
        },
        multichannel: {
          journeys,
          multichannel_journeys: multichannelJourneys,
          journey_share: share(multichannelJourneys, journeys),
          customers,
          multichannel_customers: multichannelCustomers,
          customer_share: share(multichannelCustomers, customers),
        },
        segments,
        top_paths: pathRows.map(({ steps, journeys: count, conversions, revenue }) => ({
          path: steps,
          journeys: count,
          conversions,
          revenue,
        })),
        flows,
      }
    },
  )
}
