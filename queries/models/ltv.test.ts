import gammaln from '@stdlib/math-base-special-gammaln'
import { describe, expect, it } from 'vitest'
import { drawCustomers } from '../../test/fixtures/customers.ts'
import {
  bgnbdLogLikelihood,
  expectedAverageValue,
  fitBgNbd,
  fitGammaGamma,
  gammaGammaLogLikelihood,
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
  // The simulator's retailer (producers/simulator/retail-model.ts): r 0.9, α 40, a 0.8, b 4 in days; values
  // ~ Gamma(6, ν), ν ~ Gamma(4, 1.2) per 600 roubles, so v = 720 in roubles. The draws are BG/NBD's own process; the
  // simulator lets a customer drop out at the first purchase too (docs/LTV.md).
  const truth = { r: 0.9, alpha: 40, a: 0.8, b: 4, p: 6, q: 4, v: 720 }
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
