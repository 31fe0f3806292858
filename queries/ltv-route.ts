import { Worker } from 'node:worker_threads'
import type { FastifyInstance } from 'fastify'
import { queryRows, type Store } from '../runtime/clickhouse-store.ts'
import { OmnistitchError } from '../runtime/errors.ts'
import type { ClvOptions, Fit } from './models/ltv.ts'
import { type CustomerRow, type PredictedCustomer, type PredictedSegment, type Prediction } from './ltv-prediction.ts'
import { loadRangeSql, loadSql } from './sql-files.ts'
import {
  formatProperty,
  metricAnswers,
  rangeAndFormatQuerystring,
  requestedFormat,
  sendTable,
  type TableColumn,
  type TableFormat,
} from './tabular.ts'
import { timeRangeOf, timeRangeProperties } from './time-range.ts'

const historicalSql = loadRangeSql('ltv-historical')

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
 * used. SQL: `queries/sql/ltv-historical.sql` (`-days.sql` for whole days). Predictive LTV is `GET /v1/ltv/predictive`.
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
        response: metricAnswers(
          'Historical LTV per segment and horizon; as CSV or Arrow, one row per segment and horizon.',
        ),
      },
    },
    async (request, reply) => {
      const range = timeRangeOf(request.query)
      const segments = await queryRows<LtvSegment>(store, historicalSql.for(range), range.params, settings)
      const format = requestedFormat(request)
      if (format !== 'json') return sendTable(reply, format, ltvColumns, segments)
      return { from: range.from, to: range.to, segments }
    },
  )
}

const customersSql = loadSql('ltv-customers')

export const predictedCustomerColumns: readonly TableColumn<PredictedCustomer>[] = [
  { name: 'person_id', type: 'text' },
  { name: 'first_purchase', type: 'text' },
  { name: 'acquisition_channel', type: 'text' },
  { name: 'channels_used', type: 'text' },
  { name: 'frequency', type: 'number' },
  { name: 'recency', type: 'number' },
  { name: 'T', type: 'number' },
  { name: 'monetary_value', type: 'number' },
  { name: 'probability_alive', type: 'number' },
  { name: 'expected_purchases', type: 'number' },
  { name: 'expected_order_value', type: 'number' },
  { name: 'clv', type: 'number' },
]

export const predictedSegmentColumns: readonly TableColumn<PredictedSegment>[] = [
  { name: 'dimension', type: 'text' },
  { name: 'segment', type: 'text' },
  { name: 'customers', type: 'number' },
  { name: 'probability_alive', type: 'number' },
  { name: 'expected_purchases', type: 'number' },
  { name: 'expected_order_value', type: 'number' },
  { name: 'clv_mean', type: 'number' },
  { name: 'clv_median', type: 'number' },
  { name: 'clv_p90', type: 'number' },
  { name: 'clv_total', type: 'number' },
]

const fitReport = <P extends object>(fit: Fit<P>) => ({
  ...fit.parameters,
  loglik: fit.logLikelihood,
  standard_errors: fit.standardErrors,
  customers: fit.customers,
  iterations: fit.iterations,
  converged: fit.converged,
})

/**
 * The predictions of recent requests, by range and options, with the digest of the customers' rows each was fitted to
 * (`customersDigestSql`, worked out by the engine). A request over unchanged rows gets its prediction without reading
 * them. When they changed (a new order, a merged person) the request still gets the prediction it has, marked stale,
 * and a refit starts in the background, at most one per `refitEvery` (a minute): fitting 170,000 customers takes 6 s of a core
 * (10 M events), which a dashboard should not wait for, nor the pipeline spend after every cycle. Only a range asked
 * for the first time waits for its fit (docs/ARCHITECTURE.md, D28).
 */
interface KeptPrediction {
  digest: string
  made: Promise<Prediction>
  /** When the fit in `made` began and ended (epoch milliseconds; ended stays undefined until it has). */
  startedAt: number
  fittedAt?: number
  refitting: boolean
}
const keptPredictions = new Map<string, KeptPrediction>()
const keptRanges = 4
export const refitEveryMs = 60_000

export interface PredictionAnswer {
  readonly prediction: Prediction
  /** When the fit ended, and whether the rows changed since (a refit is then under way or due). */
  readonly fittedAt: number
  readonly stale: boolean
}

/**
 * Reads the rows, then fits in a worker thread (`ltv-fit-worker.js`): seconds of CPU at 10 M events, during which the
 * API's thread goes on answering and the resolver's cycle goes on. A refusal to fit comes back as the same error.
 */
async function fitPrediction(options: ClvOptions, rows: () => Promise<readonly CustomerRow[]>): Promise<Prediction> {
  const customerRows = await rows()
  return new Promise<Prediction>((resolve, reject) => {
    const worker = new Worker(new URL('./ltv-fit-worker.js', import.meta.url), {
      workerData: { rows: customerRows, options },
    })
    worker.once('message', (message: { prediction?: Prediction; error?: { code?: string; message: string } }) => {
      if (message.prediction !== undefined) resolve(message.prediction)
      else if (message.error?.code === 'OMNI_ERR_LTV_NOT_FITTABLE') {
        reject(new OmnistitchError('OMNI_ERR_LTV_NOT_FITTABLE', message.error.message))
      } else reject(new Error(`predictive LTV fit failed: ${message.error?.message ?? 'no answer'}`))
      void worker.terminate()
    })
    worker.once('error', reject)
    worker.once('exit', (code) => reject(new Error(`predictive LTV fit: the worker exited (${code})`)))
  })
}

export async function predictionFor(
  range: string,
  digest: string,
  options: ClvOptions,
  rows: () => Promise<readonly CustomerRow[]>,
  { refitEvery = refitEveryMs, now = Date.now }: { refitEvery?: number; now?: () => number } = {},
): Promise<PredictionAnswer> {
  const key = `${range} ${JSON.stringify(options)}`
  const known = keptPredictions.get(key)
  if (known !== undefined) {
    keptPredictions.delete(key)
    keptPredictions.set(key, known)
    if (known.digest !== digest && known.fittedAt !== undefined && !known.refitting) {
      if (now() - known.startedAt >= refitEvery) {
        known.refitting = true
        const startedAt = now()
        const made = fitPrediction(options, rows)
        made.then(
          () => Object.assign(known, { digest, made, startedAt, fittedAt: now(), refitting: false }),
          // A refit that fails (too few customers left in the range) drops the old fit: the next request fits anew
          // and gets the error.
          () => keptPredictions.get(key) === known && keptPredictions.delete(key),
        )
      }
    }
    const fitted = { digest: known.digest, made: known.made }
    const prediction = await fitted.made
    return { prediction, fittedAt: known.fittedAt ?? now(), stale: fitted.digest !== digest }
  }
  const entry: KeptPrediction = {
    digest,
    made: fitPrediction(options, rows),
    startedAt: now(),
    refitting: false,
  }
  keptPredictions.set(key, entry)
  // A failed fit (too few customers) is not kept: the next request tries again.
  entry.made.then(
    () => (entry.fittedAt = now()),
    () => keptPredictions.get(key) === entry && keptPredictions.delete(key),
  )
  for (const old of keptPredictions.keys()) {
    if (keptPredictions.size <= keptRanges) break
    keptPredictions.delete(old)
  }
  const prediction = await entry.made
  return { prediction, fittedAt: entry.fittedAt ?? now(), stale: false }
}

/** A digest of ltv-customers.sql's rows, by the engine: how many, and two order-independent sums of row hashes. */
export const customersDigestSql = `SELECT count() AS customers, toString(sumWithOverflow(cityHash64(*))) AS sum_hash,
  toString(groupBitXor(cityHash64(*))) AS xor_hash FROM (${customersSql.trim()})`

interface PredictiveQuery {
  from?: string
  to?: string
  horizon_days?: number
  discount_rate?: number
  level?: 'segment' | 'customer'
  limit?: number
  format?: TableFormat
}

/**
 * `GET /v1/ltv/predictive`: BG/NBD and Gamma-Gamma fitted by maximum likelihood to the customers whose first purchase
 * fell in the range, with standard errors and convergence; per customer the probability of being alive, the purchases
 * expected over the horizon and their discounted value; per segment (everyone, acquisition channel, channels used)
 * their means, median and 90th percentile of CLV, and totals. SQL: `queries/sql/ltv-customers.sql`; the models:
 * `queries/models/ltv.ts`.
 */
export function registerPredictiveLtvRoute(
  app: FastifyInstance,
  store: Store,
  settings: Record<string, string | number>,
  refitEvery = refitEveryMs,
): void {
  app.get<{ Querystring: PredictiveQuery }>(
    '/v1/ltv/predictive',
    {
      config: { scope: 'reader', rateLimit: {} },
      schema: {
        description:
          'Predictive LTV: BG/NBD (purchases, dropout) and Gamma-Gamma (spend) fitted to the customers first buying ' +
          'in the range; expected purchases, probability alive and discounted CLV per customer and per segment.',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            ...timeRangeProperties,
            horizon_days: {
              type: 'integer',
              minimum: 1,
              maximum: 1825,
              default: 365,
              description: 'How far ahead to predict, in days.',
            },
            discount_rate: {
              type: 'number',
              minimum: 0,
              maximum: 1,
              default: 0.1,
              description: 'Yearly discount rate of future revenue (0.1 = 10%), applied monthly.',
            },
            level: {
              type: 'string',
              enum: ['segment', 'customer'],
              default: 'segment',
              description: 'segment: figures per segment; customer: also (CSV, Arrow: only) one row per customer.',
            },
            limit: {
              type: 'integer',
              minimum: 1,
              maximum: 100_000,
              default: 1000,
              description: 'At level=customer, how many customers, highest CLV first.',
            },
            ...formatProperty,
          },
        },
        response: metricAnswers(
          'The fits and the figures per segment (and per customer at level=customer); as CSV or Arrow, the ' +
            'segments, or the customers at level=customer.',
          { errors: ['OMNI_ERR_LTV_NOT_FITTABLE'] },
        ),
      },
    },
    async (request, reply) => {
      const range = timeRangeOf(request.query)
      const options = {
        horizonDays: request.query.horizon_days ?? 365,
        annualDiscountRate: request.query.discount_rate ?? 0.1,
      }
      const [digest] = await queryRows<{ customers: number; sum_hash: string; xor_hash: string }>(
        store,
        customersDigestSql,
        range.params,
        settings,
      )
      const {
        prediction,
        fittedAt: fitted,
        stale,
      } = await predictionFor(
        `${range.from} ${range.to}`,
        `${digest?.customers ?? 0}:${digest?.sum_hash ?? ''}:${digest?.xor_hash ?? ''}`,
        options,
        () => queryRows<CustomerRow>(store, customersSql, range.params, settings),
        { refitEvery },
      )
      const { observedUntil, bgnbd, gammaGamma, customers, segments } = prediction
      const fittedAt = new Date(fitted).toISOString()
      // Every format says how old the fit is; JSON also in its body.
      void reply.header('x-omnistitch-fitted-at', fittedAt).header('x-omnistitch-fit-stale', String(stale))
      const level = request.query.level ?? 'segment'
      const top = level === 'customer' ? customers.slice(0, request.query.limit ?? 1000) : undefined
      const format = requestedFormat(request)
      if (format !== 'json') {
        return top === undefined
          ? sendTable(reply, format, predictedSegmentColumns, segments)
          : sendTable(reply, format, predictedCustomerColumns, top)
      }
      return {
        from: range.from,
        to: range.to,
        observed_until: observedUntil,
        horizon_days: options.horizonDays,
        discount_rate: options.annualDiscountRate,
        fit: {
          bgnbd: fitReport(bgnbd),
          gamma_gamma: fitReport(gammaGamma),
          fitted_at: fittedAt,
          // true: the customers' rows changed since the fit; a refit is under way or due (at most one a minute).
          stale,
        },
        segments,
        ...(top === undefined ? {} : { customers: top }),
      }
    },
  )
}
