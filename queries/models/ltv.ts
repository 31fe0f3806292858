import gammaln from '@stdlib/math-base-special-gammaln'
import { invert, nelderMead, numericalHessian } from './optimize.ts'

/**
 * One customer's purchase history in the layout of lifetimes' `summary_data_from_transaction_data`: `frequency`
 * repeat purchases (the first one not counted), the last at `recency` after the first, observed for `T` since the
 * first (recency and T in one unit of time, days here), and the mean value of the repeat purchases.
 */
export interface CustomerSummary {
  readonly frequency: number
  readonly recency: number
  readonly T: number
  readonly monetaryValue?: number | undefined
}

/** BG/NBD (Fader, Hardie and Lee 2005): purchase rate λ ~ Gamma(r, α), dropout after a purchase p ~ Beta(a, b). */
export interface BgNbdParameters {
  readonly r: number
  readonly alpha: number
  readonly a: number
  readonly b: number
}

/** Gamma-Gamma (Fader, Hardie and Lee 2005): a purchase's value ~ Gamma(p, ν), ν ~ Gamma(q, v). */
export interface GammaGammaParameters {
  readonly p: number
  readonly q: number
  readonly v: number
}

export interface Fit<P> {
  readonly parameters: P
  /** Standard errors from the inverse of the observed information (the Hessian of −log-likelihood at the optimum). */
  readonly standardErrors: { readonly [K in keyof P]: number }
  readonly logLikelihood: number
  readonly customers: number
  readonly iterations: number
  readonly converged: boolean
}

function logAddExp(x: number, y: number): number {
  const high = Math.max(x, y)
  return high + Math.log(Math.exp(x - high) + Math.exp(y - high))
}

/**
 * One customer's BG/NBD log-likelihood, equation (6) of Fader, Hardie and Lee (2005), "Counting your customers the
 * easy way", in logs:
 * L = B(a, b+x)/B(a, b) · Γ(r+x) α^r / (Γ(r) (α+T)^(r+x)) + [x > 0] B(a+1, b+x−1)/B(a, b) · Γ(r+x) α^r / (Γ(r) (α+tx)^(r+x)).
 */
export function bgnbdLogLikelihood(parameters: BgNbdParameters, customer: CustomerSummary): number {
  const { r, alpha, a, b } = parameters
  const { frequency: x, recency: tx, T } = customer
  const common = gammaln(r + x) - gammaln(r) + r * Math.log(alpha)
  const beta = gammaln(a + b) + gammaln(b + x) - gammaln(b) - gammaln(a + b + x)
  const stillAlive = -(r + x) * Math.log(alpha + T)
  if (x === 0) return common + beta + stillAlive
  const goneAfterLast = Math.log(a) - Math.log(b + x - 1) - (r + x) * Math.log(alpha + tx)
  return common + beta + logAddExp(stillAlive, goneAfterLast)
}

/**
 * One customer's Gamma-Gamma log-likelihood of the mean value m of x repeat purchases (Fader, Hardie and Lee 2005,
 * "RFM and CLV"): f(m | p, q, v, x) = Γ(px+q) / (Γ(px) Γ(q)) · v^q m^(px−1) x^(px) / (v + m x)^(px+q).
 */
export function gammaGammaLogLikelihood(parameters: GammaGammaParameters, x: number, m: number): number {
  const { p, q, v } = parameters
  return (
    gammaln(p * x + q) -
    gammaln(p * x) -
    gammaln(q) +
    q * Math.log(v) +
    (p * x - 1) * Math.log(m) +
    p * x * Math.log(x) -
    (p * x + q) * Math.log(v + m * x)
  )
}

/**
 * Maximum likelihood over positive parameters: Nelder-Mead on their logs (as lifetimes does), polished by a second
 * run from the first one's optimum, then standard errors from the Hessian in the parameters themselves.
 */
function fitPositive<K extends string>(
  names: readonly K[],
  start: readonly number[],
  logLikelihood: (values: number[]) => number,
  customers: number,
): Fit<Record<K, number>> {
  const negative = (logs: number[]) => -logLikelihood(logs.map(Math.exp))
  let result = nelderMead(negative, start.map(Math.log))
  result = nelderMead(negative, result.x)
  const values = result.x.map(Math.exp)
  const covariance = invert(numericalHessian((point) => -logLikelihood(point), values))
  const pick = (list: readonly number[]) =>
    Object.fromEntries(names.map((name, i) => [name, list[i] as number])) as Record<K, number>
  return {
    parameters: pick(values),
    standardErrors: pick(covariance.map((row, i) => Math.sqrt(Math.max(0, row[i] as number)))),
    logLikelihood: -result.value,
    customers,
    iterations: result.iterations,
    converged: result.converged,
  }
}

/** The distinct values of a list, and for each item the index of its value among them. */
function indexed(values: readonly number[]): { distinct: Float64Array; index: Uint32Array } {
  const positions = new Map<number, number>()
  const index = new Uint32Array(values.length)
  values.forEach((value, i) => {
    let position = positions.get(value)
    if (position === undefined) {
      position = positions.size
      positions.set(value, position)
    }
    index[i] = position
  })
  return { distinct: Float64Array.from(positions.keys()), index }
}

/**
 * Fits BG/NBD to customer summaries by maximum likelihood. The log-likelihood is a sum over customers, so customers
 * with the same history (x, tx, T) count once with their number; per evaluation the terms that depend on x alone
 * are computed once per frequency, and log(α + T), log(α + tx) once per distinct T and tx (days: a few hundred).
 */
export function fitBgNbd(customers: readonly CustomerSummary[]): Fit<BgNbdParameters> {
  const counts = new Map<string, number>()
  for (const { frequency, recency, T } of customers) {
    const id = `${frequency},${recency},${T}`
    counts.set(id, (counts.get(id) ?? 0) + 1)
  }
  const histories = [...counts.entries()]
    .map(([id, n]) => [...id.split(',').map(Number), n] as [number, number, number, number])
    .sort((p, q) => p[0] - q[0])
  const n = Float64Array.from(histories, (history) => history[3])
  const frequencies = indexed(histories.map((history) => history[0]))
  const ts = indexed(histories.map((history) => history[2]))
  const recencies = indexed(histories.map((history) => history[1]))
  const commonOf = new Float64Array(frequencies.distinct.length)
  const dropOf = new Float64Array(frequencies.distinct.length)
  const logAlphaT = new Float64Array(ts.distinct.length)
  const logAlphaTx = new Float64Array(recencies.distinct.length)
  const meanT = customers.reduce((sum, customer) => sum + customer.T, 0) / Math.max(1, customers.length)
  return fitPositive(
    ['r', 'alpha', 'a', 'b'],
    [1, Math.max(1, meanT / 4), 1, 1],
    ([r, alpha, a, b]) => {
      const [rr, al, aa, bb] = [r as number, alpha as number, a as number, b as number]
      const shared = gammaln(aa + bb) - gammaln(bb) - gammaln(rr) + rr * Math.log(al)
      frequencies.distinct.forEach((x, k) => {
        commonOf[k] = shared + gammaln(rr + x) + gammaln(bb + x) - gammaln(aa + bb + x)
        dropOf[k] = x > 0 ? Math.log(aa) - Math.log(bb + x - 1) : 0
      })
      ts.distinct.forEach((T, k) => (logAlphaT[k] = Math.log(al + T)))
      recencies.distinct.forEach((tx, k) => (logAlphaTx[k] = Math.log(al + tx)))
      let total = 0
      for (let i = 0; i < n.length; i++) {
        const k = frequencies.index[i] as number
        const x = frequencies.distinct[k] as number
        const stillAlive = -(rr + x) * (logAlphaT[ts.index[i] as number] as number)
        const common = commonOf[k] as number
        total +=
          (n[i] as number) *
          (x === 0
            ? common + stillAlive
            : common +
              logAddExp(
                stillAlive,
                (dropOf[k] as number) - (rr + x) * (logAlphaTx[recencies.index[i] as number] as number),
              ))
      }
      return total
    },
    customers.length,
  )
}

/**
 * Fits Gamma-Gamma to the customers with repeat purchases and a positive mean value. Per frequency x, the sums of
 * log m are constant across evaluations and computed once; only log(v + m x) is evaluated per customer.
 */
export function fitGammaGamma(customers: readonly CustomerSummary[]): Fit<GammaGammaParameters> {
  const buyers = customers.filter((customer) => customer.frequency > 0 && (customer.monetaryValue ?? 0) > 0)
  const meanValue =
    buyers.reduce((sum, customer) => sum + (customer.monetaryValue ?? 0), 0) / Math.max(1, buyers.length)
  const byFrequency = new Map<number, number[]>()
  for (const { frequency, monetaryValue } of buyers) {
    const values = byFrequency.get(frequency) ?? []
    values.push(monetaryValue ?? 0)
    byFrequency.set(frequency, values)
  }
  const groups = [...byFrequency].map(([x, values]) => ({
    x,
    count: values.length,
    sumLogM: values.reduce((sum, m) => sum + Math.log(m), 0),
    mx: Float64Array.from(values, (m) => m * x),
  }))
  return fitPositive(
    ['p', 'q', 'v'],
    [1, 1, Math.max(1, meanValue)],
    ([p, q, v]) => {
      const [pp, qq, vv] = [p as number, q as number, v as number]
      let total = 0
      for (const { x, count, sumLogM, mx } of groups) {
        const shape = pp * x
        const common = gammaln(shape + qq) - gammaln(shape) - gammaln(qq) + qq * Math.log(vv) + shape * Math.log(x)
        let sumLogVmx = 0
        for (let i = 0; i < mx.length; i++) sumLogVmx += Math.log(vv + (mx[i] as number))
        total += count * common + (shape - 1) * sumLogM - (shape + qq) * sumLogVmx
      }
      return total
    },
    buyers.length,
  )
}

/** P(still active | x, tx, T) under BG/NBD (Fader, Hardie and Lee 2008, note on P(alive)). */
export function probabilityAlive(parameters: BgNbdParameters, customer: CustomerSummary): number {
  const { r, alpha, a, b } = parameters
  const { frequency: x, recency: tx, T } = customer
  if (x === 0) return 1
  const ratio = Math.log(a) - Math.log(b + x - 1) + (r + x) * (Math.log(alpha + T) - Math.log(alpha + tx))
  return 1 / (1 + Math.exp(ratio))
}

/** E[value of a purchase | x purchases with mean m] under Gamma-Gamma: p (v + x m) / (p x + q − 1). */
export function expectedAverageValue(parameters: GammaGammaParameters, x: number, m: number): number {
  const { p, q, v } = parameters
  return (p * (v + x * m)) / (p * x + q - 1)
}

/**
 * The Gauss hypergeometric function ₂F₁(a, b; c; z) for 0 ≤ z < 1, by its power series Σ (a)ₖ(b)ₖ/((c)ₖ k!) zᵏ,
 * summed until a term no longer moves the sum. The callers keep a and b small (see conditionalExpectedPurchases), so the
 * terms neither overflow nor cancel.
 */
export function hypergeometric2F1(a: number, b: number, c: number, z: number): number {
  if (!(z >= 0 && z < 1)) throw new RangeError(`hypergeometric2F1: z must lie in [0, 1) (got ${z})`)
  let term = 1
  let sum = 1
  for (let k = 0; k < 1_000_000; k++) {
    term *= ((a + k) * (b + k) * z) / ((c + k) * (k + 1))
    sum += term
    if (Math.abs(term) <= 1e-15 * Math.abs(sum) && k > 2) return sum
  }
  return sum
}

/**
 * E[purchases in (T, T + t] | x, tx, T] under BG/NBD, equation (10) of Fader, Hardie and Lee (2005):
 * (a+b+x−1)/(a−1) · [1 − ((α+T)/(α+T+t))^(r+x) ₂F₁(r+x, b+x; a+b+x−1; z)] / (1 + [x > 0] a/(b+x−1) ((α+T)/(α+tx))^(r+x)),
 * z = t/(α+T+t). Euler's transformation turns (1−z)^(r+x) ₂F₁(r+x, b+x; c; z) into (1−z)^(a−1) ₂F₁(a+b−1−r, a−1; c; z),
 * whose series has small parameters whatever the customer's frequency.
 */
export function conditionalExpectedPurchases(
  parameters: BgNbdParameters,
  customer: CustomerSummary,
  t: number,
): number {
  if (t <= 0) return 0
  const { r, alpha, a, b } = parameters
  const { frequency: x, recency: tx, T } = customer
  const z = t / (alpha + T + t)
  const c = a + b + x - 1
  const carried = (1 - z) ** (a - 1) * hypergeometric2F1(a + b - 1 - r, a - 1, c, z)
  const alive = x > 0 ? 1 + (a / (b + x - 1)) * ((alpha + T) / (alpha + tx)) ** (r + x) : 1
  return ((c / (a - 1)) * (1 - carried)) / alive
}

export interface ClvOptions {
  /** How far ahead, in days. */
  readonly horizonDays: number
  /** Yearly discount rate, e.g. 0.1 for 10%. */
  readonly annualDiscountRate: number
  /** Length of a discounting period in days (30: monthly, as lifetimes). */
  readonly stepDays?: number
}

/**
 * The purchases a customer is expected to make over the horizon, and the same discounted: each period's expected
 * purchases (BG/NBD) divided by (1 + rate) to the power of the period, at its end, summed. It depends on the
 * purchase history only (x, tx, T), so customers with the same history share it.
 */
export function discountedPurchases(
  bgnbd: BgNbdParameters,
  customer: CustomerSummary,
  options: ClvOptions,
): { expectedPurchases: number; discounted: number } {
  const step = options.stepDays ?? 30
  const periodRate = (1 + options.annualDiscountRate) ** (step / 365) - 1
  let previous = 0
  let discounted = 0
  for (let period = 1; (period - 1) * step < options.horizonDays; period++) {
    const cumulative = conditionalExpectedPurchases(bgnbd, customer, Math.min(period * step, options.horizonDays))
    discounted += (cumulative - previous) / (1 + periodRate) ** period
    previous = cumulative
  }
  return { expectedPurchases: previous, discounted }
}

/**
 * A customer's expected order value: Gamma-Gamma's posterior mean given their repeat purchases, or the population
 * mean p·v/(q−1) for a customer without repeat purchases of positive mean value.
 */
export function expectedOrderValue(gammaGamma: GammaGammaParameters, customer: CustomerSummary): number {
  const m = customer.monetaryValue ?? 0
  return customer.frequency > 0 && m > 0
    ? expectedAverageValue(gammaGamma, customer.frequency, m)
    : expectedAverageValue(gammaGamma, 0, 0)
}

/**
 * A customer's discounted value over the horizon: the purchases expected in each period (BG/NBD) times the expected
 * value of a purchase (Gamma-Gamma), discounted to today at the end of the period, summed.
 */
export function discountedClv(
  bgnbd: BgNbdParameters,
  gammaGamma: GammaGammaParameters,
  customer: CustomerSummary,
  options: ClvOptions,
): { expectedPurchases: number; expectedValue: number; clv: number } {
  const { expectedPurchases, discounted } = discountedPurchases(bgnbd, customer, options)
  const expectedValue = expectedOrderValue(gammaGamma, customer)
  return { expectedPurchases, expectedValue, clv: discounted * expectedValue }
}
