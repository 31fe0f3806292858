import gammaln from '@stdlib/math-base-special-gammaln'
import { describe, expect, it } from 'vitest'
import { retailModel } from '../../producers/simulator/retail-model.ts'
import { drawCustomers } from '../../test/fixtures/customers.ts'
import {
  bgnbdLogLikelihood,
  conditionalExpectedPurchases,
  discountedClv,
  expectedAverageValue,
  fitBgNbd,
  fitGammaGamma,
  gammaGammaLogLikelihood,
  hypergeometric2F1,
  probabilityAlive,
} from './ltv.ts'
import { nelderMead } from './optimize.ts'

/** ∫ f over (0, upper) by the midpoint rule on n points. */
function integrate(f: (x: number) => number, upper: number, n = 200_000): number {
  const h = upper / n
  let sum = 0
  for (let i = 0; i < n; i++) sum += f((i + 0.5) * h)
  return sum * h
}

const gammaDensity = (x: number, shape: number, rate: number) =>
  Math.exp(shape * Math.log(rate) + (shape - 1) * Math.log(x) - rate * x - gammaln(shape))
const betaDensity = (x: number, a: number, b: number) =>
  Math.exp((a - 1) * Math.log(x) + (b - 1) * Math.log(1 - x) + gammaln(a + b) - gammaln(a) - gammaln(b))

describe('nelderMead', () => {
  it("finds the minimum of Rosenbrock's valley", () => {
    const result = nelderMead(
      ([x, y]) => 100 * ((y as number) - (x as number) ** 2) ** 2 + (1 - (x as number)) ** 2,
      [-1.2, 1],
    )
    expect(result.converged).toBe(true)
    expect(result.x[0]).toBeCloseTo(1, 6)
    expect(result.x[1]).toBeCloseTo(1, 6)
  })
})

describe('BG/NBD', () => {
  const parameters = { r: 2, alpha: 5, a: 2, b: 3 }

  it.each([
    [{ frequency: 0, recency: 0, T: 30 }],
    [{ frequency: 3, recency: 20, T: 30 }],
    [{ frequency: 7, recency: 2.5, T: 40 }],
  ])('has the likelihood of the paper: the individual likelihood integrated over λ and p (%j)', (customer) => {
    // Given λ and p: (1−p)^x λ^x e^(−λT) + [x > 0] p (1−p)^(x−1) λ^x e^(−λ tx); λ ~ Gamma(r, α), p ~ Beta(a, b).
    const { frequency: x, recency: tx, T } = customer
    const { r, alpha, a, b } = parameters
    const lambdaPart = (t: number) =>
      integrate((lambda) => lambda ** x * Math.exp(-lambda * t) * gammaDensity(lambda, r, alpha), 10)
    const survive = integrate((p) => (1 - p) ** x * betaDensity(p, a, b), 1)
    const dropAfterLast = x > 0 ? integrate((p) => p * (1 - p) ** (x - 1) * betaDensity(p, a, b), 1) : 0
    const numerical = survive * lambdaPart(T) + (x > 0 ? dropAfterLast * lambdaPart(tx) : 0)
    expect(bgnbdLogLikelihood(parameters, customer)).toBeCloseTo(Math.log(numerical), 5)
  })

  it('gives P(alive) as worked by hand, and 1 before any repeat purchase', () => {
    // a/(b+x−1) · ((α+T)/(α+tx))^(r+x) = 1/2 · (11/6)^3; P = 1 / (1 + that).
    const odds = 0.5 * (11 / 6) ** 3
    expect(probabilityAlive({ r: 1, alpha: 1, a: 1, b: 1 }, { frequency: 2, recency: 5, T: 10 })).toBeCloseTo(
      1 / (1 + odds),
      12,
    )
    expect(probabilityAlive(parameters, { frequency: 0, recency: 0, T: 50 })).toBe(1)
  })
})

describe('BG/NBD predictions', () => {
  it('reproduces the paper: customer 0001 of CDNOW expects 1.226 purchases in the next 39 weeks', () => {
    // Fader, Hardie and Lee (2005), section 5, with the parameters fitted there to CDNOW's 2,357 customers.
    const cdnow = { r: 0.243, alpha: 4.414, a: 0.793, b: 2.426 }
    const expected = conditionalExpectedPurchases(cdnow, { frequency: 2, recency: 30.43, T: 38.86 }, 39)
    expect(expected).toBeCloseTo(1.226, 3)
  })

  it("sums ₂F₁ to its closed forms, and Euler's transformation leaves it unchanged", () => {
    // ₂F₁(1, 1; 2; z) = −ln(1−z)/z and ₂F₁(a, b; b; z) = (1−z)^(−a).
    expect(hypergeometric2F1(1, 1, 2, 0.9)).toBeCloseTo(-Math.log(0.1) / 0.9, 10)
    expect(hypergeometric2F1(2.5, 3, 3, 0.7)).toBeCloseTo(0.3 ** -2.5, 8)
    const [a, b, c, z] = [2.3, 4.1, 5.7, 0.8]
    expect(hypergeometric2F1(a, b, c, z)).toBeCloseTo((1 - z) ** (c - a - b) * hypergeometric2F1(c - a, c - b, c, z), 8)
  })

  it.each([
    [{ frequency: 0, recency: 0, T: 30 }, 40],
    [{ frequency: 3, recency: 20, T: 30 }, 60],
    [{ frequency: 6, recency: 5, T: 45 }, 365],
  ])('agrees with the posterior expectation integrated over λ and p (%j, t = %d)', (customer, t) => {
    // Given λ, p and the history, the customer is alive with weight (1−p)^x λ^x e^(−λT) and then buys
    // (1 − e^(−λpt))/p times in t; the history's likelihood is that weight plus the dropped-after-last term.
    const parameters = { r: 2, alpha: 5, a: 2, b: 3 }
    const { frequency: x, recency: tx, T } = customer
    const [lambdaSteps, pSteps, lambdaMax] = [4000, 800, 4]
    let numerator = 0
    let denominator = 0
    for (let i = 0; i < lambdaSteps; i++) {
      const lambda = ((i + 0.5) * lambdaMax) / lambdaSteps
      const g = gammaDensity(lambda, parameters.r, parameters.alpha) * lambda ** x
      for (let j = 0; j < pSteps; j++) {
        const p = (j + 0.5) / pSteps
        const weight = g * betaDensity(p, parameters.a, parameters.b)
        const alive = (1 - p) ** x * Math.exp(-lambda * T)
        const dropped = x > 0 ? p * (1 - p) ** (x - 1) * Math.exp(-lambda * tx) : 0
        numerator += weight * alive * ((1 - Math.exp(-lambda * p * t)) / p)
        denominator += weight * (alive + dropped)
      }
    }
    expect(conditionalExpectedPurchases(parameters, customer, t)).toBeCloseTo(numerator / denominator, 3)
  })

  it('discounts each month of expected purchases, and values a customer without repeats at the population mean', () => {
    const bgnbd = { r: 2, alpha: 5, a: 2, b: 3 }
    const gammaGamma = { p: 6, q: 4, v: 15 }
    const customer = { frequency: 3, recency: 20, T: 30, monetaryValue: 40 }
    const undiscounted = discountedClv(bgnbd, gammaGamma, customer, { horizonDays: 90, annualDiscountRate: 0 })
    const value = expectedAverageValue(gammaGamma, 3, 40)
    expect(undiscounted.expectedValue).toBeCloseTo(value, 12)
    expect(undiscounted.expectedPurchases).toBeCloseTo(conditionalExpectedPurchases(bgnbd, customer, 90), 12)
    expect(undiscounted.clv).toBeCloseTo(undiscounted.expectedPurchases * value, 8)
    // 10% a year over three 30-day months: each month's purchases divided by 1.1^(30k/365).
    const monthly = [30, 60, 90].map((days) => conditionalExpectedPurchases(bgnbd, customer, days))
    const byHand =
      ((monthly[0] as number) * value) / 1.1 ** (30 / 365) +
      (((monthly[1] as number) - (monthly[0] as number)) * value) / 1.1 ** (60 / 365) +
      (((monthly[2] as number) - (monthly[1] as number)) * value) / 1.1 ** (90 / 365)
    const discounted = discountedClv(bgnbd, gammaGamma, customer, { horizonDays: 90, annualDiscountRate: 0.1 })
    expect(discounted.clv).toBeCloseTo(byHand, 8)
    expect(discounted.clv).toBeLessThan(undiscounted.clv)
    const newcomer = discountedClv(
      bgnbd,
      gammaGamma,
      { frequency: 0, recency: 0, T: 30 },
      {
        horizonDays: 90,
        annualDiscountRate: 0,
      },
    )
    expect(newcomer.expectedValue).toBeCloseTo((6 * 15) / 3, 12)
  })
})

describe('Gamma-Gamma', () => {
  it('has the likelihood of the paper: the mean of x Gamma(p, ν) values, integrated over ν ~ Gamma(q, v)', () => {
    const parameters = { p: 6, q: 4, v: 50 }
    for (const [x, m] of [
      [1, 40],
      [4, 75.5],
    ] as const) {
      // The mean of x values ~ Gamma(p, ν) is Gamma(p x, ν x).
      const numerical = integrate(
        (nu) => gammaDensity(m, parameters.p * x, nu * x) * gammaDensity(nu, parameters.q, parameters.v),
        2,
      )
      expect(gammaGammaLogLikelihood(parameters, x, m)).toBeCloseTo(Math.log(numerical), 5)
    }
    expect(expectedAverageValue(parameters, 0, 0)).toBeCloseTo((6 * 50) / 3, 12)
  })
})

describe('fitting to customers drawn with the simulator’s parameters', () => {
  // The simulator's purchase process (producers/simulator/simulate.ts, purchaseTimes) with its retailer's parameters
  // (retail-model.ts): λ ~ Gamma(r, α) per day, p ~ Beta(a, b); values ~ Gamma(p, ν) with ν = unitRoubles·Gamma(q, γ),
  // that is ν ~ Gamma(q, γ/unitRoubles) in roubles. Purchases that marketing causes come on top of this organic
  // process in the simulator, and are not part of it.
  const { purchase, spend } = retailModel
  const truth = { ...purchase, p: spend.p, q: spend.q, v: spend.gamma / spend.unitRoubles }
  const customers = drawCustomers(6000, 2026, truth)

  it('recovers BG/NBD r, α, a and b within three standard errors', () => {
    const fit = fitBgNbd(customers)
    expect(fit.converged).toBe(true)
    // The fitter's grouped sum is the paper's likelihood, customer by customer.
    const total = customers.reduce((sum, customer) => sum + bgnbdLogLikelihood(fit.parameters, customer), 0)
    expect(fit.logLikelihood).toBeCloseTo(total, 6)
    for (const name of ['r', 'alpha', 'a', 'b'] as const) {
      const error = Math.abs(fit.parameters[name] - truth[name])
      expect(error, `${name} ${fit.parameters[name]} ± ${fit.standardErrors[name]}`).toBeLessThan(
        3 * fit.standardErrors[name],
      )
      expect(fit.standardErrors[name] / truth[name], `${name}: a standard error that says something`).toBeLessThan(0.5)
    }
  })

  it('recovers Gamma-Gamma p, q and v within three standard errors', () => {
    const fit = fitGammaGamma(customers)
    expect(fit.customers).toBeGreaterThan(1000)
    const total = customers
      .filter((customer) => customer.frequency > 0)
      .reduce(
        (sum, customer) =>
          sum + gammaGammaLogLikelihood(fit.parameters, customer.frequency, customer.monetaryValue ?? 0),
        0,
      )
    expect(fit.logLikelihood).toBeCloseTo(total, 6)
    for (const name of ['p', 'q', 'v'] as const) {
      const error = Math.abs(fit.parameters[name] - truth[name])
      expect(error, `${name} ${fit.parameters[name]} ± ${fit.standardErrors[name]}`).toBeLessThan(
        3 * fit.standardErrors[name],
      )
      expect(fit.standardErrors[name] / truth[name]).toBeLessThan(0.5)
    }
  })
})
