import { describe, expect, it } from 'vitest'
import { beta, exponential, gamma, mixSeed, mulberry32, stream, weighted } from './random.ts'

const mean = (values: number[]) => values.reduce((sum, value) => sum + value, 0) / values.length
const draw = (count: number, sample: () => number) => Array.from({ length: count }, sample)

describe('simulator random numbers', () => {
  it('repeat for the same seed and differ between customers and purposes', () => {
    expect(draw(5, mulberry32(7))).toEqual(draw(5, mulberry32(7)))
    expect(stream(1, 2, 3)()).toBe(stream(1, 2, 3)())
    expect(stream(1, 2, 3)()).not.toBe(stream(1, 3, 3)())
    expect(stream(1, 2, 3)()).not.toBe(stream(1, 2, 4)())
    expect(mixSeed(1, 2)).not.toBe(mixSeed(2, 1))
  })

  it.each([
    ['gamma(0.9, 40)', (r: () => number) => gamma(r, 0.9, 40), 0.9 / 40],
    ['gamma(6, 2)', (r: () => number) => gamma(r, 6, 2), 3],
    ['beta(0.8, 4)', (r: () => number) => beta(r, 0.8, 4), 0.8 / 4.8],
    ['exponential(0.5)', (r: () => number) => exponential(r, 0.5), 2],
  ])('draws %s with the right mean', (_name, sampler, expected) => {
    const random = mulberry32(11)
    expect(mean(draw(50_000, () => sampler(random)))).toBeCloseTo(expected, expected < 0.1 ? 3 : 1)
  })

  it('picks by weight', () => {
    const random = mulberry32(3)
    const picks = draw(20_000, () =>
      weighted(random, [
        ['a', 3],
        ['b', 1],
      ] as const) === 'a'
        ? 1
        : 0,
    )
    expect(mean(picks)).toBeCloseTo(0.75, 1)
  })
})
