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

/** The models attribution-days.sql credits, by their column prefix there. */
const summedModels = ['first_touch', 'last_touch', 'last_non_direct', 'linear', 'position_based', 'shapley'] as const
type SummedModel = (typeof summedModels)[number]

/** A row of attribution-days.sql: a transition of the Markov chain, with the credits of the step it entered. */
type TransitionRow = {
  from_state: string[]
  to_state: string[]
  step: string
  position: number
  journeys: number
  conversions: number
  value: number
  nulls: number
} & Record<`${SummedModel | 'shapley_ordered'}_conversions` | `${SummedModel | 'shapley_ordered'}_value`, number>

/** What the models need to answer: the journeys' totals and each model's credits. */
export interface Attribution {
  readonly totals: { readonly journeys: number; readonly conversions: number; readonly value: number }
  /** One model's answer. */
  readonly run: (model: AttributionModel) => AttributionResult
}

const defaultPositionWeights = [0.4, 0.2, 0.4] as const

/**
 * The attribution of the stored journeys that ended in a range of whole days, worked out in the engine from the daily
 * path aggregate (`attribution-days.sql`: the Markov chain's transitions with each model's credit of the steps, split
 * by position when ordered Shapley is asked for), so that the paths (10^5 of them on a few million events) never
 * leave it; the chain is solved here. The same credits as `attribute` on the paths (tested).
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
  const rows = await queryRows<TransitionRow>(
    store,
    attributionSql,
    {
      ...paths,
      order,
      direct: options.directChannels ?? ['direct'],
      first,
      middle,
      last,
      ordered: models.includes('shapley_ordered') ? 1 : 0,
    },
    settings,
  )
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
  // Ordered Shapley: per step, its credit by position (rows split by the state left add up).
  const orderedShapley = new Map<string, Map<number, { conversions: number; value: number }>>()
  for (const row of rows) {
    if (row.position === 0 || row.to_state.length === 0) continue
    if (row.shapley_ordered_conversions <= 0 && row.shapley_ordered_value <= 0) continue
    const positions = orderedShapley.get(row.step) ?? new Map<number, { conversions: number; value: number }>()
    orderedShapley.set(row.step, positions)
    const entry = positions.get(row.position) ?? { conversions: 0, value: 0 }
    entry.conversions += row.shapley_ordered_conversions
    entry.value += row.shapley_ordered_value
    positions.set(row.position, entry)
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
        const channels = [...orderedShapley].map(([channel, byPosition]) => {
          const positions = [...byPosition]
            .sort(([a], [b]) => a - b)
            .map(([position, entry]) => ({ position, ...entry }))
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
