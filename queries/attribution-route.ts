import type { FastifyInstance } from 'fastify'
import { queryRows, type Store } from '../runtime/clickhouse-store.ts'
import { OmnistitchError } from '../runtime/errors.ts'
import {
  attribute,
  attributionModels,
  type AttributionModel,
  type AttributionOptions,
  type ChannelCredit,
} from './models/attribution.ts'
import type { PathCount } from './models/paths.ts'
import { attributionInEngine, type Attribution } from './attribution-engine.ts'
import { loadRangeSql, loadSql } from './sql-files.ts'
import {
  formatProperty,
  metricAnswers,
  requestedFormat,
  sendTable,
  type TableColumn,
  type TableFormat,
} from './tabular.ts'
import { timeRangeOf, timeRangeProperties } from './time-range.ts'

const pathsSql = loadSql('attribution-paths')
const journeyPathsSql = loadSql('attribution-journey-paths')
const timeDecaySql = loadRangeSql('attribution-time-decay')
const spendSql = loadSql('ad-spend')
export const journeySettingsSql =
  'SELECT argMax(conversion_types, updated_at) AS conversion_types, argMax(lookback_days, updated_at) AS lookback_days ' +
  'FROM {database:Identifier}.journey_settings'

const dayMs = 86_400_000

interface AttributionQuery {
  from?: string
  to?: string
  models?: string
  order?: number
  half_life?: number
  position_weights?: string
  collapse_repeats?: boolean
  group_by?: 'channel' | 'channel_source' | 'channel_campaign'
  channels?: string
  conversion_types?: string
  lookback_days?: number
  format?: TableFormat
}

/** A channel's credit under one model, with what its advertising cost in the range. */
export interface CreditedChannel {
  channel: string
  conversions: number
  value: number
  /** The channel's share of the credited conversions. */
  share: number
  spend: number
  /** Cost per credited conversion; null without spend or without conversions. */
  cpa: number | null
  /** Credited revenue per unit of spend; null without spend. */
  roas: number | null
  /** (Credited revenue − spend) / spend; null without spend. */
  romi: number | null
  /** Ordered Shapley only: the credit by position in the journey. */
  positions?: { position: number; conversions: number; value: number }[]
}

const nullableNumber = { type: ['number', 'null'] } as const

const creditSchema = {
  type: 'object',
  properties: {
    channel: { type: 'string' },
    conversions: { type: 'number' },
    value: { type: 'number' },
    share: { type: 'number' },
    spend: { type: 'number' },
    cpa: nullableNumber,
    roas: nullableNumber,
    romi: nullableNumber,
    positions: {
      type: 'array',
      items: {
        type: 'object',
        properties: { position: { type: 'integer' }, conversions: { type: 'number' }, value: { type: 'number' } },
      },
    },
  },
} as const

function bad(message: string): OmnistitchError {
  return new OmnistitchError('OMNI_ERR_API_BAD_PARAMETER', message)
}

/** Parses `models=a,b`: every name must be a model; the default is all of them. */
function parseModels(raw: string | undefined): AttributionModel[] {
  if (raw === undefined || raw.trim() === '') return [...attributionModels]
  const names = raw.split(',').map((name) => name.trim())
  for (const name of names) {
    if (!attributionModels.includes(name as AttributionModel)) {
      throw bad(`querystring parameter "models": expected names from ${attributionModels.join(', ')} (got "${name}")`)
    }
  }
  return [...new Set(names)] as AttributionModel[]
}

/**
 * `GET /v1/attribution`: the journeys that ended in a range through one or more attribution models, with each channel's
 * ad spend joined (CPA, ROAS, ROMI). The models are `queries/models/attribution.ts`, the same code as `omnistitch
 * attribution`: for stored journeys over whole days their credits and Markov transitions are worked out in the engine
 * from the daily path aggregate (`attribution-engine.ts`; tested equal), for any other request on the paths
 * (`attribution-paths.sql`, or `attribution-journey-paths.sql` for journeys built for the request's conversion types
 * and lookback window). Time decay weighs touches by their age in days and so runs in SQL
 * (`attribution-time-decay.sql`); spend is `ad-spend.sql`.
 */
export function registerAttributionRoute(
  app: FastifyInstance,
  store: Store,
  settings: Record<string, string | number>,
): void {
  app.get<{ Querystring: AttributionQuery }>(
    '/v1/attribution',
    {
      config: { scope: 'reader', rateLimit: {} },
      schema: {
        description:
          'Credit for conversions and revenue per channel under attribution models, over journeys that ended in a range.',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            ...timeRangeProperties,
            ...formatProperty,
            models: {
              type: 'string',
              maxLength: 500,
              description: `Comma-separated: ${attributionModels.join(', ')} (default: all).`,
            },
            order: { type: 'integer', minimum: 1, maximum: 3, description: 'Markov: states remember k channels.' },
            half_life: {
              type: 'number',
              exclusiveMinimum: 0,
              maximum: 3650,
              description: 'Time decay: the age in days at which a touch counts half (default 7).',
            },
            conversion_types: {
              type: 'string',
              pattern: '^[a-z_]+(,[a-z_]+)*$',
              maxLength: 1000,
              description:
                'Comma-separated event types that end a journey as a conversion, e.g. pos_receipt or ' +
                'order_created,lead_created (default: those the stored journeys were built with, journey_settings).',
            },
            lookback_days: {
              type: 'number',
              exclusiveMinimum: 0,
              maximum: 3650,
              description: 'Only touches this many days before the end of a journey count (default: journey_settings).',
            },
            position_weights: {
              type: 'string',
              maxLength: 50,
              pattern: '^\\d+(\\.\\d+)?/\\d+(\\.\\d+)?/\\d+(\\.\\d+)?$',
              description: 'Position-based: first/middle/last percentages (default 40/20/40).',
            },
            group_by: {
              type: 'string',
              enum: ['channel', 'channel_source', 'channel_campaign'],
              description:
                'What a path step is: the channel (default), or the channel with its UTM source or campaign.',
            },
            channels: {
              type: 'string',
              pattern: '^[a-z_]+(,[a-z_]+)*$',
              maxLength: 1000,
              description: 'Comma-separated channels: only their touches make the paths (default: every channel).',
            },
            collapse_repeats: {
              type: 'boolean',
              description: 'Count repeated touches of one channel in a row once (default false).',
            },
          },
        },
        response: metricAnswers(
          'Per model, the credit of each channel; as CSV or Arrow one row per model and channel.',
          {
            json: {
              type: 'object',
              properties: {
                from: { type: 'string' },
                to: { type: 'string' },
                conversion_types: { type: 'array', items: { type: 'string' } },
                lookback_days: { type: 'number' },
                journeys: { type: 'integer' },
                conversions: { type: 'number' },
                value: { type: 'number' },
                spend: { type: 'number' },
                models: {
                  type: 'array',
                  items: {
                    type: 'object',
                    properties: {
                      model: { type: 'string' },
                      channels: { type: 'array', items: creditSchema },
                    },
                  },
                },
              },
            },
          },
        ),
      },
    },
    async (request, reply) => {
      const query = request.query
      const range = timeRangeOf(query)
      const models = parseModels(query.models)
      let positionWeights: [number, number, number] | undefined
      if (query.position_weights !== undefined) {
        positionWeights = query.position_weights.split('/').map((part) => Number(part) / 100) as [
          number,
          number,
          number,
        ]
        if (Math.abs(positionWeights[0] + positionWeights[1] + positionWeights[2] - 1) > 1e-9) {
          throw bad(`querystring parameter "position_weights": expected percentages adding up to 100`)
        }
      }
      const options: AttributionOptions = {
        ...(query.order === undefined ? {} : { order: query.order }),
        ...(positionWeights === undefined ? {} : { positionWeights }),
        collapseRepeats: query.collapse_repeats ?? false,
      }
      const groupBy = query.group_by ?? 'channel'
      const channels = query.channels === undefined ? [] : query.channels.split(',')
      const [stored] = await queryRows<{ conversion_types: string[]; lookback_days: number }>(
        store,
        journeySettingsSql,
        {},
        settings,
      )
      const conversionTypes = query.conversion_types?.split(',') ?? stored?.conversion_types ?? []
      const lookbackDays = query.lookback_days ?? stored?.lookback_days ?? 30
      // The stored journeys answer unless the request cuts journeys differently; then they are built for it.
      const asStored =
        stored !== undefined &&
        lookbackDays === stored.lookback_days &&
        [...conversionTypes].sort().join(',') === [...stored.conversion_types].sort().join(',')
      const journeyParams = {
        ...range.params,
        group_by: groupBy,
        channels,
        conversion_types: conversionTypes,
        lookback_seconds: Math.round((lookbackDays * dayMs) / 1000),
      }
      const [spendRows, decayRows, answer] = await Promise.all([
        queryRows<{ channel: string; spend: number }>(
          store,
          spendSql,
          { ...range.params, group_by: groupBy },
          settings,
        ),
        models.includes('time_decay')
          ? queryRows<ChannelCredit>(
              store,
              // The stored journeys over whole days: from conversion_touch_ages; otherwise cut from the touches.
              timeDecaySql.for({ wholeDays: asStored && range.wholeDays }),
              {
                ...(asStored && range.wholeDays ? { ...range.params, group_by: groupBy, channels } : journeyParams),
                half_life_days: query.half_life ?? 7,
                collapse_repeats: query.collapse_repeats === true ? 1 : 0,
              },
              settings,
            )
          : Promise.resolve([]),
        asStored && range.wholeDays
          ? attributionInEngine(store, settings, models, options, { ...range.params, group_by: groupBy, channels })
          : creditsOfPaths(
              store,
              settings,
              options,
              asStored ? pathsSql : journeyPathsSql,
              asStored ? { ...range.params, group_by: groupBy, channels } : journeyParams,
            ),
      ])
      const spend = new Map(spendRows.map((row) => [row.channel, row.spend]))
      const { totals } = answer
      const body = {
        from: range.from,
        to: range.to,
        conversion_types: conversionTypes,
        lookback_days: lookbackDays,
        journeys: totals.journeys,
        conversions: totals.conversions,
        value: totals.value,
        spend: spendRows.reduce((sum, row) => sum + row.spend, 0),
        models: models.map((model) => ({
          model,
          channels: withCosts(
            model === 'time_decay' ? decayRows : answer.run(model).channels,
            spend,
            totals.conversions,
          ),
        })),
      }
      const format = requestedFormat(request)
      if (format === 'json') return body
      const credits = body.models.flatMap((entry) =>
        entry.channels.map((credit) => ({ model: entry.model, ...credit })),
      )
      return sendTable(reply, format, attributionColumns, credits)
    },
  )
}

/** Otherwise the journeys' paths are read and the models run here (queries/models/attribution.ts). */
async function creditsOfPaths(
  store: Store,
  settings: Record<string, string | number>,
  options: AttributionOptions,
  sql: string,
  params: Record<string, unknown>,
): Promise<Attribution> {
  const rows = await queryRows<{ path: string[]; conversions: number; value: number; nulls: number }>(
    store,
    sql,
    params,
    settings,
  )
  const paths: PathCount[] = rows.map((row) => ({
    channels: row.path,
    conversions: row.conversions,
    value: row.value,
    nulls: row.nulls,
  }))
  return {
    totals: {
      journeys: paths.reduce((sum, path) => sum + path.conversions + path.nulls, 0),
      conversions: paths.reduce((sum, path) => sum + path.conversions, 0),
      value: paths.reduce((sum, path) => sum + path.value, 0),
    },
    run: (model) => attribute(paths, model, options),
  }
}

/** The rows of an attribution answer as CSV or Arrow: one per model and channel. */
export const attributionColumns: readonly TableColumn<CreditedChannel & { model: string }>[] = [
  { name: 'model', type: 'text' },
  { name: 'channel', type: 'text' },
  { name: 'conversions', type: 'number' },
  { name: 'value', type: 'number' },
  { name: 'share', type: 'number' },
  { name: 'spend', type: 'number' },
  { name: 'cpa', type: 'number' },
  { name: 'roas', type: 'number' },
  { name: 'romi', type: 'number' },
]

/** Each credited channel with its share and its spend, CPA, ROAS and ROMI; channels with spend and no credit too. */
export function withCosts(
  credits: readonly ChannelCredit[],
  spend: ReadonlyMap<string, number>,
  totalConversions: number,
): CreditedChannel[] {
  const channels = new Map<string, ChannelCredit>(credits.map((credit) => [credit.channel, credit]))
  for (const channel of spend.keys()) {
    if (!channels.has(channel)) channels.set(channel, { channel, conversions: 0, value: 0 })
  }
  return [...channels.values()].map(({ channel, conversions, value, positions }) => {
    const cost = spend.get(channel) ?? 0
    return {
      ...(positions === undefined ? {} : { positions: [...positions] }),
      channel,
      conversions,
      value,
      share: totalConversions > 0 ? conversions / totalConversions : 0,
      spend: cost,
      cpa: cost > 0 && conversions > 0 ? cost / conversions : null,
      roas: cost > 0 ? value / cost : null,
      romi: cost > 0 ? (value - cost) / cost : null,
    }
  })
}
