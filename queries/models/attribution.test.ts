import { describe, expect, it } from 'vitest'
import { mulberry32 } from '../../producers/simulator/random.ts'
import { hasErrorCode } from '../../runtime/errors.ts'
import {
  attribute,
  attributionModels,
  buildMarkovChain,
  conversionProbability,
  type AttributionResult,
} from './attribution.ts'
import { parsePathFile, type PathCount } from './paths.ts'

const path = (text: string, conversions: number, value = 0, nulls = 0): PathCount => ({
  channels: text.split(' > '),
  conversions,
  value,
  nulls,
})

/** Credits as { channel: [conversions, value] }, for comparing with hand-computed figures. */
function credits(result: AttributionResult): Record<string, [number, number]> {
  return Object.fromEntries(result.channels.map((credit) => [credit.channel, [credit.conversions, credit.value]]))
}

function expectCredits(result: AttributionResult, expected: Record<string, [number, number]>): void {
  const actual = credits(result)
  expect(Object.keys(actual).sort()).toEqual(Object.keys(expected).sort())
  for (const [channel, [conversions, value]] of Object.entries(expected)) {
    expect(actual[channel]?.[0], `${channel} conversions`).toBeCloseTo(conversions, 9)
    expect(actual[channel]?.[1], `${channel} value`).toBeCloseTo(value, 9)
  }
}

describe('heuristic models on hand-computed journeys', () => {
  // Two converting journeys and two that did not convert.
  const paths = [path('A > B > C', 1, 100), path('A > direct', 1, 50), path('B', 0, 0, 2)]

  it('first touch credits the first channel', () => {
    expectCredits(attribute(paths, 'first_touch'), { A: [2, 150] })
  })

  it('last touch credits the last channel', () => {
    expectCredits(attribute(paths, 'last_touch'), { C: [1, 100], direct: [1, 50] })
  })

  it('last non-direct skips direct at the end, and keeps it when nothing else is there', () => {
    expectCredits(attribute(paths, 'last_non_direct'), { C: [1, 100], A: [1, 50] })
    expectCredits(attribute([path('direct > direct', 1, 10)], 'last_non_direct'), { direct: [1, 10] })
  })

  it('linear splits each journey evenly over its touches', () => {
    expectCredits(attribute(paths, 'linear'), {
      A: [1 / 3 + 1 / 2, 100 / 3 + 25],
      B: [1 / 3, 100 / 3],
      C: [1 / 3, 100 / 3],
      direct: [1 / 2, 25],
    })
  })

  it('position-based gives 40/20/40, and 50/50 to a journey of two touches', () => {
    expectCredits(attribute(paths, 'position_based'), {
      A: [0.4 + 0.5, 40 + 25],
      B: [0.2, 20],
      C: [0.4, 40],
      direct: [0.5, 25],
    })
    expectCredits(attribute([path('A > B > C > D', 1, 10)], 'position_based', { positionWeights: [0.3, 0.4, 0.3] }), {
      A: [0.3, 3],
      B: [0.2, 2],
      C: [0.2, 2],
      D: [0.3, 3],
    })
  })

  it('time decay halves a touch per half-life before the conversion (steps without ages, days with them)', () => {
    // Ages 2, 1, 0 steps with a half-life of 1: weights 1/4, 1/2, 1 over 7/4; ages 1, 0: 1/2, 1 over 3/2.
    expectCredits(attribute(paths, 'time_decay', { halfLife: 1 }), {
      A: [1 / 7 + 1 / 3, 100 / 7 + 50 / 3],
      B: [2 / 7, 200 / 7],
      C: [4 / 7, 400 / 7],
      direct: [2 / 3, 100 / 3],
    })
    const aged: PathCount = { ...path('A > B', 1, 30), ages: [14, 0] }
    expectCredits(attribute([aged], 'time_decay', { halfLife: 7 }), { A: [0.2, 6], B: [0.8, 24] })
  })

  it('collapses repeats in a row when asked, and keeps them otherwise', () => {
    const repeated = [path('A > A > B', 1, 30)]
    expectCredits(attribute(repeated, 'linear'), { A: [2 / 3, 20], B: [1 / 3, 10] })
    expectCredits(attribute(repeated, 'linear', { collapseRepeats: true }), { A: [0.5, 15], B: [0.5, 15] })
  })
})

describe('Markov chain attribution', () => {
  // Start → A (2 journeys) or B (1); A → B (1) or null (1); B → conversion (2).
  // P(start) = 2/3 · P(A) + 1/3 · P(B), P(A) = 1/2 · P(B), P(B) = 1: so 2/3.
  // Without A: start → A is lost, P = 1/3, removal effect 1/2. Without B: P = 0, removal effect 1.
  const paths = [path('A > B', 1, 10), path('A', 0, 0, 1), path('B', 1, 20)]

  it('solves a small chain as worked by hand', () => {
    const result = attribute(paths, 'markov')
    expect(result.markov?.conversionProbability).toBeCloseTo(2 / 3, 12)
    expect(result.markov?.removalEffects['A']).toBeCloseTo(0.5, 12)
    expect(result.markov?.removalEffects['B']).toBeCloseTo(1, 12)
    expectCredits(result, { A: [2 / 3, 10], B: [4 / 3, 20] })
  })

  it('with an order as long as the longest journey, converts from the start at the observed rate', () => {
    const observed = [
      path('A > B > C', 3, 0, 5),
      path('B > A', 2, 0, 1),
      path('C', 1, 0, 7),
      path('A > A > B', 4, 0, 2),
    ]
    for (const order of [3]) {
      const chain = buildMarkovChain(observed, order)
      expect(conversionProbability(chain)).toBeCloseTo(10 / 25, 12)
    }
    expect(buildMarkovChain(observed, 2).states.map((state) => state.name)).toContain('A > B')
  })

  it('agrees with a Monte Carlo walk of the same chain, with and without each channel', () => {
    const next = mulberry32(7)
    const channels = ['search', 'email', 'social', 'store']
    const generated: PathCount[] = []
    for (let index = 0; index < 60; index++) {
      const length = 1 + Math.floor(next() * 4)
      const text = Array.from({ length }, () => channels[Math.floor(next() * channels.length)]).join(' > ')
      generated.push(path(text, Math.floor(next() * 4), 0, Math.floor(next() * 6)))
    }
    for (const order of [1, 2]) {
      const chain = buildMarkovChain(generated, order)
      const walk = (removedChannel: string | undefined, walks: number): number => {
        const rows = [...chain.transitions].map(([from, row]) => {
          const total = [...row.values()].reduce((sum, weight) => sum + weight, 0)
          return [from, [...row].map(([to, weight]) => [to, weight / total] as const)] as const
        })
        const table = new Map(rows)
        let converted = 0
        for (let index = 0; index < walks; index++) {
          let state = 0
          for (;;) {
            const row = table.get(state) ?? []
            let draw = next()
            let to: number | 'conversion' | 'null' = 'null'
            for (const [target, p] of row) {
              draw -= p
              to = target
              if (draw < 0) break
            }
            if (to === 'conversion') converted += 1
            if (typeof to !== 'number') break
            if (removedChannel !== undefined && chain.states[to]?.channels.includes(removedChannel)) break
            state = to
          }
        }
        return converted / walks
      }
      const walks = 40_000
      // Three standard errors of a proportion near 0.5: 3 · 0.5 / √40000 = 0.0075.
      expect(Math.abs(walk(undefined, walks) - conversionProbability(chain))).toBeLessThan(0.0075)
      for (const channel of channels) {
        const removed = new Set<number>()
        chain.states.forEach((state, at) => {
          if (state.channels.includes(channel)) removed.add(at)
        })
        expect(Math.abs(walk(channel, walks) - conversionProbability(chain, removed))).toBeLessThan(0.0075)
      }
    }
  })

  it('refuses an order it does not offer, naming the option', () => {
    const error = (() => {
      try {
        attribute(paths, 'markov', { order: 4 })
      } catch (caught) {
        return caught
      }
      return undefined
    })()
    expect(hasErrorCode(error, 'OMNI_ERR_PATHS_INVALID')).toBe(true)
    expect(String(error)).toMatch(/order: expected 1, 2 or 3 \(got 4\)/)
  })
})

describe('Shapley value over channel sets', () => {
  /** Shapley by its definition: every coalition enumerated, v(S) = conversions of journeys whose set lies in S. */
  function bruteForce(paths: readonly PathCount[]): Record<string, number> {
    const channels = [...new Set(paths.flatMap((item) => item.channels))]
    const n = channels.length
    const worth = (mask: number) =>
      paths.reduce((sum, item) => {
        const inside = item.channels.every((channel) => (mask >> channels.indexOf(channel)) & 1)
        return inside ? sum + item.conversions : sum
      }, 0)
    const factorial = (k: number): number => (k <= 1 ? 1 : k * factorial(k - 1))
    const values: Record<string, number> = {}
    channels.forEach((channel, i) => {
      let total = 0
      for (let mask = 0; mask < 1 << n; mask++) {
        if ((mask >> i) & 1) continue
        let size = 0
        for (let bit = 0; bit < n; bit++) size += (mask >> bit) & 1
        total += ((factorial(size) * factorial(n - size - 1)) / factorial(n)) * (worth(mask | (1 << i)) - worth(mask))
      }
      values[channel] = total
    })
    return values
  }

  it('matches the definition on a case worked by hand', () => {
    // {A}: 1 conversion, {A, B}: 2. v(A) = 1, v(B) = 0, v(AB) = 3. φA = ½(1 - 0) + ½(3 - 0) = 2, φB = 1.
    const paths = [path('A', 1), path('A > B > A', 2)]
    expectCredits(attribute(paths, 'shapley'), { A: [2, 0], B: [1, 0] })
  })

  it('in its ordered variant, gives each channel the same total broken down by position', () => {
    // A > B > A converts 2: A and B get 1 each; A's is split over positions 1 and 3, B's is at position 2.
    // B alone converts 1: B gets 1 at position 1.
    const result = attribute([path('A > B > A', 2, 20), path('B', 1, 10)], 'shapley_ordered')
    expect(result.channels).toEqual([
      {
        channel: 'B',
        conversions: 2,
        value: 20,
        positions: [
          { position: 1, conversions: 1, value: 10 },
          { position: 2, conversions: 1, value: 10 },
        ],
      },
      {
        channel: 'A',
        conversions: 1,
        value: 10,
        positions: [
          { position: 1, conversions: 0.5, value: 5 },
          { position: 3, conversions: 0.5, value: 5 },
        ],
      },
    ])
  })

  it('matches enumeration of every coalition on random journeys over six channels', () => {
    const next = mulberry32(11)
    const channels = ['a', 'b', 'c', 'd', 'e', 'f']
    const paths: PathCount[] = Array.from({ length: 40 }, () => {
      const length = 1 + Math.floor(next() * 5)
      const text = Array.from({ length }, () => channels[Math.floor(next() * channels.length)]).join(' > ')
      return path(text, Math.floor(next() * 5), 0, 1)
    })
    const expected = bruteForce(paths)
    const result = credits(attribute(paths, 'shapley'))
    for (const channel of channels) expect(result[channel]?.[0] ?? 0).toBeCloseTo(expected[channel] ?? 0, 9)
  })
})

describe('every model', () => {
  const paths = [
    path('search > email > store', 3, 300, 4),
    path('social > direct', 1, 80, 9),
    path('email', 2, 120, 5),
    path('store > store', 1, 40),
  ]
  it.each(attributionModels)('%s credits all the conversions and all the value, no more', (model) => {
    const result = attribute(paths, model, { order: 2 })
    const sum = (pick: (credit: { conversions: number; value: number }) => number) =>
      result.channels.reduce((total, credit) => total + pick(credit), 0)
    expect(sum((credit) => credit.conversions)).toBeCloseTo(7, 9)
    expect(sum((credit) => credit.value)).toBeCloseTo(540, 9)
  })
})

describe('parsePathFile', () => {
  it("reads ChannelAttribution's layout with ; or , between fields", () => {
    const semicolons = 'path;total_conversions;total_conversion_value;total_null\nA > B;3;30.5;7\nB;0;0;2\n'
    expect(parsePathFile(semicolons)).toEqual([path('A > B', 3, 30.5, 7), path('B', 0, 0, 2)])
    const commas = 'path,total_conversions\n"A > C",1\n'
    expect(parsePathFile(commas)).toEqual([path('A > C', 1, 0, 0)])
  })

  it('names the line and field it cannot read', () => {
    expect(() => parsePathFile('journey;conversions\nA;1\n')).toThrow(/line 1: expected a header with at least path/)
    expect(() => parsePathFile('path;total_conversions\nA > B;lots\n')).toThrow(
      /line 2, total_conversions: expected a number of 0 or more \(got "lots"\)/,
    )
    expect(() => parsePathFile('path;total_conversions\n ;1\n')).toThrow(/line 2, path: expected channels/)
  })
})
