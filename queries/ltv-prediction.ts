import { OmnistitchError } from '../runtime/errors.ts'
import {
  discountedPurchases,
  expectedOrderValue,
  fitBgNbd,
  fitGammaGamma,
  probabilityAlive,
  type BgNbdParameters,
  type ClvOptions,
  type Fit,
  type GammaGammaParameters,
} from './models/ltv.ts'

/**
 * Predictive LTV from the customers' rows (ltv-customers.sql): the fits, each customer's prediction, the segments. Pure
 * computation, no engine: the API runs it in a worker thread (ltv-fit-worker.js), which must not load chDB.
 */

/** Below this many customers (or repeat buyers, for Gamma-Gamma) a maximum-likelihood fit means little. */
export const minimumCustomersToFit = 20

export interface CustomerRow {
  person_id: string
  first_purchase: string
  observed_until: string
  frequency: number
  recency: number
  T: number
  monetary_value: number
  acquisition_channel: string
  channels_used: string
}

export interface PredictedCustomer {
  person_id: string
  first_purchase: string
  acquisition_channel: string
  channels_used: string
  frequency: number
  recency: number
  T: number
  monetary_value: number
  probability_alive: number
  expected_purchases: number
  expected_order_value: number
  clv: number
}

export interface PredictedSegment {
  dimension: string
  segment: string
  customers: number
  probability_alive: number
  expected_purchases: number
  expected_order_value: number
  clv_mean: number
  clv_median: number
  clv_p90: number
  clv_total: number
}

/** The value below which a share q of the sorted values lies (nearest rank). */
function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return 0
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] as number
}

/** Per-segment means, quantiles and totals of predicted customers: everyone, by acquisition channel, by channels used. */
export function predictedSegments(customers: readonly PredictedCustomer[]): PredictedSegment[] {
  const groups = new Map<string, { dimension: string; segment: string; members: PredictedCustomer[] }>()
  for (const customer of customers) {
    for (const [dimension, segment] of [
      ['all', 'all'],
      ['acquisition_channel', customer.acquisition_channel],
      ['channels_used', customer.channels_used],
    ] as const) {
      const id = `${dimension}\u0000${segment}`
      const group = groups.get(id) ?? { dimension, segment, members: [] }
      group.members.push(customer)
      groups.set(id, group)
    }
  }
  const mean = (members: readonly PredictedCustomer[], pick: (customer: PredictedCustomer) => number) =>
    members.reduce((sum, customer) => sum + pick(customer), 0) / members.length
  return [...groups.values()]
    .sort((x, y) => x.dimension.localeCompare(y.dimension) || x.segment.localeCompare(y.segment))
    .map(({ dimension, segment, members }) => {
      const clvs = members.map((customer) => customer.clv).sort((x, y) => x - y)
      return {
        dimension,
        segment,
        customers: members.length,
        probability_alive: mean(members, (customer) => customer.probability_alive),
        expected_purchases: mean(members, (customer) => customer.expected_purchases),
        expected_order_value: mean(members, (customer) => customer.expected_order_value),
        clv_mean: mean(members, (customer) => customer.clv),
        clv_median: quantile(clvs, 0.5),
        clv_p90: quantile(clvs, 0.9),
        clv_total: clvs.reduce((sum, value) => sum + value, 0),
      }
    })
}

/**
 * Fits BG/NBD and Gamma-Gamma to the customers and predicts each one's purchases, probability of being alive and
 * discounted value over the horizon. Refuses (422) when there is too little to fit.
 */
export function predictCustomers(
  rows: readonly Omit<CustomerRow, 'observed_until'>[],
  options: ClvOptions,
): { bgnbd: Fit<BgNbdParameters>; gammaGamma: Fit<GammaGammaParameters>; customers: PredictedCustomer[] } {
  const summaries = rows.map((row) => ({
    frequency: row.frequency,
    recency: row.recency,
    T: row.T,
    monetaryValue: row.monetary_value,
  }))
  const buyers = summaries.filter((summary) => summary.frequency > 0 && summary.monetaryValue > 0).length
  if (summaries.length < minimumCustomersToFit || buyers < minimumCustomersToFit) {
    throw new OmnistitchError(
      'OMNI_ERR_LTV_NOT_FITTABLE',
      `predictive LTV needs at least ${minimumCustomersToFit} customers with repeat purchases of positive value ` +
        `whose first purchase falls in the range (found ${summaries.length} customers, ${buyers} with repeats); ` +
        'widen "from"/"to"',
    )
  }
  const bgnbd = fitBgNbd(summaries)
  const gammaGamma = fitGammaGamma(summaries)
  if (gammaGamma.parameters.q <= 1) {
    throw new OmnistitchError(
      'OMNI_ERR_LTV_NOT_FITTABLE',
      `the Gamma-Gamma fit gave q = ${gammaGamma.parameters.q.toPrecision(4)} ≤ 1, for which the mean order value is ` +
        'infinite: the spend data are too heavy-tailed for the model in this range',
    )
  }
  // The expected purchases depend on the history (x, tx, T) alone: worked out once per distinct history.
  const byHistory = new Map<string, ReturnType<typeof discountedPurchases>>()
  const customers = rows.map((row, index) => {
    const summary = summaries[index] as (typeof summaries)[number]
    const history = `${summary.frequency},${summary.recency},${summary.T}`
    let purchases = byHistory.get(history)
    if (purchases === undefined) {
      purchases = discountedPurchases(bgnbd.parameters, summary, options)
      byHistory.set(history, purchases)
    }
    const expectedValue = expectedOrderValue(gammaGamma.parameters, summary)
    return {
      person_id: row.person_id,
      first_purchase: row.first_purchase,
      acquisition_channel: row.acquisition_channel,
      channels_used: row.channels_used,
      frequency: row.frequency,
      recency: row.recency,
      T: row.T,
      monetary_value: row.monetary_value,
      probability_alive: probabilityAlive(bgnbd.parameters, summary),
      expected_purchases: purchases.expectedPurchases,
      expected_order_value: expectedValue,
      clv: purchases.discounted * expectedValue,
    }
  })
  return { bgnbd, gammaGamma, customers }
}

export /** What a predictive LTV answer is computed from the customers' rows: the fits, customers (highest CLV first), segments. */
interface Prediction {
  readonly observedUntil: string | undefined
  readonly bgnbd: Fit<BgNbdParameters>
  readonly gammaGamma: Fit<GammaGammaParameters>
  readonly customers: readonly PredictedCustomer[]
  readonly segments: readonly PredictedSegment[]
}

/** The prediction from the customers' rows, on this thread (the worker's side of fitPrediction). */
export function fitPredictionHere(customerRows: readonly CustomerRow[], options: ClvOptions): Prediction {
  const { bgnbd, gammaGamma, customers } = predictCustomers(customerRows, options)
  return {
    observedUntil: customerRows[0]?.observed_until,
    bgnbd,
    gammaGamma,
    customers: customers.sort((x, y) => y.clv - x.clv),
    segments: predictedSegments(customers),
  }
}
