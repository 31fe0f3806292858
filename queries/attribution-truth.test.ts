import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { defaultIdentityRules } from '../consumers/identity-graph.ts'
import { runIdentityResolution } from '../consumers/identity-resolver.ts'
import { toTouchpointTsvLine, touchpointColumns } from '../consumers/touchpoint-row.ts'
import { createIdentifierHasher } from '../producers/identifier-hashing.ts'
import { marketingChannels, type MarketingChannel } from '../producers/simulator/retail-model.ts'
import { simulate } from '../producers/simulator/simulate.ts'
import { migrate } from '../runtime/clickhouse-migrations.ts'
import { insertTabSeparated, queryRows, type Store } from '../runtime/clickhouse-store.ts'
import { openTestStore, testLogger } from '../test/helpers.ts'
import { attribute, type AttributionModel } from './models/attribution.ts'
import type { PathCount } from './models/paths.ts'
import { loadSql } from './sql-files.ts'

/**
 * Attribution against the simulator's counterfactual truth: the same seed run again with each marketing channel
 * switched off says how many conversions that channel caused. A model is closer to the truth when the shares it gives
 * the marketing channels are closer (L1) to their shares of the caused conversions.
 */
describe('attribution on simulated traffic, against what each channel truly caused', () => {
  const settings = { customers: 1500, days: 120, seed: 7, hasher: createIdentifierHasher('truth-secret-0123456789') }
  const caused = {} as Record<MarketingChannel, number>
  let store: Store
  let paths: PathCount[]

  beforeAll(async () => {
    const lines: string[] = []
    const totals = simulate(settings, {
      event: (event) => {
        if (event.family === 'ad-cost') return
        lines.push(toTouchpointTsvLine(event, { topic: 't', partition: 0, offset: String(lines.length), schemaId: 1 }))
      },
    })
    for (const channel of marketingChannels) {
      caused[channel] =
        totals.conversions - simulate({ ...settings, disabled: channel }, { event: () => undefined }).conversions
    }
    store = await openTestStore()
    await migrate(store, { logger: testLogger })
    for (let at = 0; at < lines.length; at += 50_000) {
      await insertTabSeparated(store, 'touchpoints', touchpointColumns, lines.slice(at, at + 50_000))
    }
    await runIdentityResolution(store, { rules: defaultIdentityRules, logger: testLogger })
    const rows = await queryRows<{ path: string[]; conversions: number; value: number; nulls: number }>(
      store,
      loadSql('attribution-paths'),
      { from: '2000-01-01 00:00:00.000', to: '2100-01-01 00:00:00.000', group_by: 'channel', channels: [] },
    )
    paths = rows.map((row) => ({
      channels: row.path,
      conversions: row.conversions,
      value: row.value,
      nulls: row.nulls,
    }))
  }, 120_000)

  afterAll(async () => {
    await store?.close()
  })

  /** L1 distance between a model's shares of the marketing channels' credit and their shares of caused conversions. */
  function distance(model: AttributionModel, order = 1): number {
    const credit = new Map(
      attribute(paths, model, { order }).channels.map((entry) => [entry.channel, entry.conversions]),
    )
    const credited = marketingChannels.reduce((sum, channel) => sum + (credit.get(channel) ?? 0), 0)
    const total = marketingChannels.reduce((sum, channel) => sum + caused[channel], 0)
    return marketingChannels.reduce(
      (sum, channel) =>
        sum + Math.abs((credited > 0 ? (credit.get(channel) ?? 0) / credited : 0) - caused[channel] / total),
      0,
    )
  }

  it('credits Markov and Shapley closer to the counterfactual truth than last touch', () => {
    expect(marketingChannels.every((channel) => caused[channel] >= 0)).toBe(true)
    // Every purchase happens on the web, in the app, in a store or a marketplace: last touch credits marketing nothing.
    const lastTouch = distance('last_touch')
    expect(lastTouch).toBeCloseTo(1, 9)
    for (const [model, order] of [
      ['markov', 1],
      ['markov', 2],
      ['shapley', 1],
    ] as const) {
      expect(distance(model, order), `${model} order ${order}`).toBeLessThan(lastTouch)
    }
  })

  it('credits Markov and Shapley closer to it than every heuristic that credits marketing at all', () => {
    const heuristics = (['first_touch', 'linear', 'time_decay', 'position_based'] as const).map((model) =>
      distance(model),
    )
    const best = Math.min(...heuristics)
    expect(distance('markov'), `heuristics ${heuristics.map((value) => value.toFixed(3)).join(', ')}`).toBeLessThan(
      best,
    )
    expect(distance('shapley')).toBeLessThan(best)
  })
})
