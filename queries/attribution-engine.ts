import { queryRows, type Store } from '../runtime/clickhouse-store.ts'
import {
  markovAttribution,
  markovChainOf,
  credited,
  type AttributionModel,
  type AttributionOptions,
  type AttributionResult,
} from './models/attribution.ts'
import { loadSql } from './sql-files.ts'

const attributionSql = loadSql('attribution-days')
const orderedShapleySql = loadSql('attribution-shapley-ordered-days')

/** The models attribution-days.sql credits, by their column prefix there. */
const summedModels = ['first_touch', 'last_touch', 'last_non_direct', 'linear', 'position_based', 'shapley'] as const
type SummedModel = (typeof summedModels)[number]

/** A row of attribution-days.sql: a transition of the Markov chain, with the credits of the step it entered. */
type TransitionRow = {
  from_state: string[]
  to_state: string[]
  step: string
  journeys: number
  conversions: number
  value: number
  nulls: number
} & Record<`${SummedModel}_conversions` | `${SummedModel}_value`, number>

/** What the models need to answer: the journeys' totals and each model's credits. */
export interface Attribution {
  readonly totals: { readonly journeys: number; readonly conversions: number; readonly value: number }
  /** One model's answer. */
  readonly run: (model: AttributionModel) => AttributionResult
}

const defaultPositionWeights = [0.4, 0.2, 0.4] as const

/**
 * The attribution of the stored journeys that ended in a range of whole days, worked out in the engine from the daily
 * path aggregate (`attribution-days.sql`: the Markov chain's transitions with each model's credit of the steps; and
 * `attribution-shapley-ordered-days.sql` when ordered Shapley is asked for), so that the paths (10^5 of them on a few
 * million events) never leave it; the chain is solved here. The same credits as `attribute` on the paths (tested).
 * `pathParams`: from, to, group_by, channels. Time decay is not here: it needs the touches' ages.
 */
export async function attributionInEngine(
  store: Store,
  settings: Record<string, string | number>,
  models: readonly AttributionModel[],
  options: AttributionOptions,
  pathParams: { from: string; to: string; group_by: string; channels: readonly string[] },
): Promise<Attribution> {
  const [first, middle, last] = options.positionWeights ?? defaultPositionWeights
  const order = options.order ?? 1
  const paths = { ...pathParams, collapse_repeats: options.collapseRepeats === true ? 1 : 0 }
  const [rows, orderedRows] = await Promise.all([
    queryRows<TransitionRow>(
      store,
      attributionSql,
      { ...paths, order, direct: options.directChannels ?? ['direct'], first, middle, last },
      settings,
    ),
    models.includes('shapley_ordered')
      ? queryRows<{ step: string; position: number; conversions: number; value: number }>(
          store,
          orderedShapleySql,
          paths,
          settings,
        )
      : Promise.resolve([]),
  ])
  const totals = { journeys: 0, conversions: 0, value: 0 }
  const byModel = new Map<SummedModel, Map<string, { conversions: number; value: number }>>(
    summedModels.map((model) => [model, new Map()]),
  )
  for (const row of rows) {
    if (row.to_state.length === 0) {
      // How the journeys that ended in from_state ended: their sums are the totals.
      totals.journeys += row.conversions + row.nulls
      totals.conversions += row.conversions
      totals.value += row.value
      continue
    }
    for (const [model, channels] of byModel) {
      const credit = channels.get(row.step) ?? { conversions: 0, value: 0 }
      credit.conversions += row[`${model}_conversions`]
      credit.value += row[`${model}_value`]
      channels.set(row.step, credit)
    }
  }
  const orderedShapley = new Map<string, { position: number; conversions: number; value: number }[]>()
  for (const row of orderedRows) {
    const positions = orderedShapley.get(row.step) ?? []
    positions.push({ position: row.position, conversions: row.conversions, value: row.value })
    orderedShapley.set(row.step, positions)
  }
  return {
    totals,
    run(model) {
      if (model === 'markov') {
        const transitions = rows.map((row) => ({
          from: row.from_state,
          to: row.to_state,
          journeys: row.journeys,
          conversions: row.conversions,
          nulls: row.nulls,
        }))
        return markovAttribution(markovChainOf(transitions), order, totals)
      }
      if (model === 'shapley_ordered') {
        const channels = [...orderedShapley].map(([channel, positions]) => {
          positions.sort((a, b) => a.position - b.position)
          return {
            channel,
            conversions: positions.reduce((sum, entry) => sum + entry.conversions, 0),
            value: positions.reduce((sum, entry) => sum + entry.value, 0),
            positions,
          }
        })
        return { model, channels: credited(channels) }
      }
      if (model === 'time_decay') throw new Error('time decay is not worked out from the path aggregate')
      const channels = byModel.get(model) ?? new Map<string, { conversions: number; value: number }>()
      return { model, channels: credited([...channels].map(([channel, credit]) => ({ channel, ...credit }))) }
    },
  }
}
