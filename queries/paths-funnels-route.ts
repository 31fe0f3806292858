import type { FastifyInstance } from 'fastify'
import { queryRows, type Store } from '../runtime/clickhouse-store.ts'
import { OmnistitchError } from '../runtime/errors.ts'
import { loadRangeSql } from './sql-files.ts'
import {
  formatProperty,
  metricAnswers,
  requestedFormat,
  sendTable,
  share,
  type TableColumn,
  type TableFormat,
} from './tabular.ts'
import { timeRangeOf, timeRangeProperties } from './time-range.ts'

const pathsSql = loadRangeSql('channel-paths')
const funnelSql = loadRangeSql('funnel')
const maxFunnelSteps = 8
/** Bound to the funnel's unused steps: no event type looks like this. */
const noStep = '\u0000'

interface TopPath {
  path: string
  steps: number
  journeys: number
  conversions: number
  conversion_rate: number
  revenue: number
}

const topPathColumns: readonly TableColumn<TopPath>[] = [
  { name: 'path', type: 'text' },
  { name: 'steps', type: 'number' },
  { name: 'journeys', type: 'number' },
  { name: 'conversions', type: 'number' },
  { name: 'conversion_rate', type: 'number' },
  { name: 'revenue', type: 'number' },
]

interface FunnelStep {
  step: number
  event_type: string
  persons: number
  /** Of the persons at the step before (for the first step: of every person with events in the range). */
  conversion_from_previous: number
  conversion_from_first: number
}

const funnelColumns: readonly TableColumn<FunnelStep>[] = [
  { name: 'step', type: 'number' },
  { name: 'event_type', type: 'text' },
  { name: 'persons', type: 'number' },
  { name: 'conversion_from_previous', type: 'number' },
  { name: 'conversion_from_first', type: 'number' },
]

/**
 * `GET /v1/paths/top`: the commonest journey paths (repeats in a row collapsed) with their conversion rate and revenue.
 * `GET /v1/funnels`: persons reaching each of up to eight event types in order within a window. SQL:
 * `queries/sql/channel-paths.sql` and `funnel.sql`.
 */
export function registerPathAndFunnelRoutes(
  app: FastifyInstance,
  store: Store,
  settings: Record<string, string | number>,
): void {
  app.get<{
    Querystring: {
      from?: string
      to?: string
      limit?: number
      outcome?: 'all' | 'converted' | 'not_converted'
      format?: TableFormat
    }
  }>(
    '/v1/paths/top',
    {
      config: { scope: 'reader', rateLimit: {} },
      schema: {
        description: 'The commonest journey paths (repeated touches of a channel in a row counted once).',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            ...timeRangeProperties,
            ...formatProperty,
            limit: { type: 'integer', minimum: 1, maximum: 1000, description: 'Paths to list (default 20).' },
            outcome: {
              type: 'string',
              enum: ['all', 'converted', 'not_converted'],
              description: 'Which journeys count (default all).',
            },
          },
        },
        response: metricAnswers('The commonest paths; as CSV or Arrow, one row per path.'),
      },
    },
    async (request, reply) => {
      const range = timeRangeOf(request.query)
      const rows = await queryRows<{ steps: string[]; journeys: number; conversions: number; revenue: number }>(
        store,
        pathsSql.for(range),
        { ...range.params, outcome: request.query.outcome ?? 'all', limit: request.query.limit ?? 20, min_channels: 1 },
        settings,
      )
      const outcome = request.query.outcome ?? 'all'
      const paths: TopPath[] = rows
        .map((row) => ({
          path: row.steps.join(' > '),
          steps: row.steps.length,
          journeys:
            outcome === 'all'
              ? row.journeys
              : outcome === 'converted'
                ? row.conversions
                : row.journeys - row.conversions,
          conversions: outcome === 'not_converted' ? 0 : row.conversions,
          conversion_rate: outcome === 'all' ? share(row.conversions, row.journeys) : outcome === 'converted' ? 1 : 0,
          revenue: outcome === 'not_converted' ? 0 : row.revenue,
        }))
        .filter((row) => row.journeys > 0)
        .sort(
          (a, b) =>
            b.journeys - a.journeys || b.revenue - a.revenue || (a.path < b.path ? -1 : a.path > b.path ? 1 : 0),
        )
      const format = requestedFormat(request)
      if (format !== 'json') return sendTable(reply, format, topPathColumns, paths)
      return { from: range.from, to: range.to, outcome, paths }
    },
  )

  app.get<{
    Querystring: {
      from?: string
      to?: string
      steps: string
      window_days?: number
      channel?: string
      format?: TableFormat
    }
  }>(
    '/v1/funnels',
    {
      config: { scope: 'reader', rateLimit: {} },
      schema: {
        description:
          'Persons reaching each step of a funnel (event types in order) within a window after their first step.',
        querystring: {
          type: 'object',
          additionalProperties: false,
          required: ['steps'],
          properties: {
            ...timeRangeProperties,
            ...formatProperty,
            steps: {
              type: 'string',
              pattern: '^[a-z0-9_]+(,[a-z0-9_]+){1,7}$',
              maxLength: 1000,
              description:
                'Two to eight event types, comma-separated, in order (e.g. page_view,add_to_cart,order_created).',
            },
            window_days: {
              type: 'number',
              exclusiveMinimum: 0,
              maximum: 365,
              description: 'How long after the first step the others may come (default 7).',
            },
            channel: {
              type: 'string',
              pattern: '^[a-z_]+$',
              maxLength: 100,
              description: 'Count only events of this channel.',
            },
          },
        },
        response: metricAnswers('Persons reaching each step; as CSV or Arrow, one row per step.'),
      },
    },
    async (request, reply) => {
      const range = timeRangeOf(request.query)
      const steps = request.query.steps.split(',')
      if (new Set(steps).size !== steps.length) {
        throw new OmnistitchError('OMNI_ERR_API_BAD_PARAMETER', 'querystring parameter "steps": a step is repeated')
      }
      const params: Record<string, unknown> = {
        ...range.params,
        window_seconds: Math.round((request.query.window_days ?? 7) * 86_400),
        channel: request.query.channel ?? '',
      }
      for (let step = 1; step <= maxFunnelSteps; step++) params[`step_${step}`] = steps[step - 1] ?? noStep
      const levels = await queryRows<{ level: number; persons: number }>(store, funnelSql.for(range), params, settings)
      const total = levels.reduce((sum, row) => sum + row.persons, 0)
      // Persons who reached step k: those whose level is k or more.
      const reached = steps.map((_, index) =>
        levels.filter((row) => row.level >= index + 1).reduce((sum, row) => sum + row.persons, 0),
      )
      const funnel: FunnelStep[] = steps.map((eventType, index) => ({
        step: index + 1,
        event_type: eventType,
        persons: reached[index] as number,
        conversion_from_previous: share(reached[index] as number, index === 0 ? total : (reached[index - 1] as number)),
        conversion_from_first: share(reached[index] as number, reached[0] as number),
      }))
      const format = requestedFormat(request)
      if (format !== 'json') return sendTable(reply, format, funnelColumns, funnel)
      return { from: range.from, to: range.to, persons_with_events: total, steps: funnel }
    },
  )
}
