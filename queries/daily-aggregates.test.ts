import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { defaultIdentityRules } from '../consumers/identity-graph.ts'
import { runIdentityResolution } from '../consumers/identity-resolver.ts'
import { simulate } from '../producers/simulator/simulate.ts'
import { migrate } from '../runtime/clickhouse-migrations.ts'
import { queryRows, type Store } from '../runtime/clickhouse-store.ts'
import { formatDateTime64 } from '../runtime/clickhouse-values.ts'
import type { CapturedEvent } from '../schemas/capture-events.ts'
import { storeEvents } from '../test/api-fixture.ts'
import { openTestStore, testHasher, testLogger } from '../test/helpers.ts'
import { attributionInEngine } from './attribution-engine.ts'
import { journeySettingsSql } from './attribution-route.ts'
import { attribute, attributionModels, type ChannelCredit } from './models/attribution.ts'
import type { PathCount } from './models/paths.ts'
import { loadSql } from './sql-files.ts'

type Touchpoint = Exclude<CapturedEvent, { family: 'ad-cost' }>

const dayMs = 86_400_000
const start = Date.parse('2026-03-01T00:00:00Z')
const days = (from: number, to: number) => ({
  from: formatDateTime64(start + from * dayMs),
  to: formatDateTime64(start + to * dayMs),
})

/** Rows as sorted JSON lines, numbers rounded to 6 decimals: equal sets of rows compare equal whatever their order. */
function canonical(rows: readonly Record<string, unknown>[]): string[] {
  const round = (value: unknown): unknown =>
    typeof value === 'number' ? Math.round(value * 1e6) / 1e6 : Array.isArray(value) ? value.map(round) : value
  return rows
    .map((row) => JSON.stringify(Object.fromEntries(Object.entries(row).map(([key, value]) => [key, round(value)]))))
    .sort()
}

/** The same channels with the same credit, up to the order of floating-point sums (positions too). */
function expectSameCredits(actual: readonly ChannelCredit[], expected: readonly ChannelCredit[], label: string): void {
  const flat = (credits: readonly ChannelCredit[]) =>
    credits
      .flatMap((credit) => [
        { key: credit.channel, conversions: credit.conversions, value: credit.value },
        ...(credit.positions ?? []).map((entry) => ({ key: `${credit.channel} @${entry.position}`, ...entry })),
      ])
      .sort((a, b) => a.key.localeCompare(b.key))
  const [got, want] = [flat(actual), flat(expected)]
  expect(
    got.map((entry) => entry.key),
    label,
  ).toEqual(want.map((entry) => entry.key))
  got.forEach((entry, at) => {
    expect(entry.conversions, `${label} ${entry.key}`).toBeCloseTo(want[at]?.conversions ?? NaN, 6)
    expect(entry.value, `${label} ${entry.key}`).toBeCloseTo(want[at]?.value ?? NaN, 4)
  })
}

/**
 * Every `NAME-days.sql` (daily aggregates kept by the view refresh) answers as `NAME.sql` (the events) for ranges of
 * whole days: simulated customers over 60 days, half of their events stored twice (re-deliveries), resolved, views
 * refreshed; then both files run on the same ranges and parameters and their rows compared.
 */
describe('daily aggregates answer as the events do, for ranges of whole days', () => {
  let store: Store
  const both = async (name: string, params: Record<string, unknown>) => {
    const [events, aggregated] = await Promise.all([
      queryRows<Record<string, unknown>>(store, loadSql(name), params),
      queryRows<Record<string, unknown>>(store, loadSql(`${name}-days`), params),
    ])
    return { events: canonical(events), aggregated: canonical(aggregated) }
  }
  const ranges = [days(0, 60), days(7, 35), days(20, 21)]

  beforeAll(async () => {
    const events: Touchpoint[] = []
    simulate(
      { customers: 150, days: 60, seed: 41, hasher: testHasher, start, trailers: false },
      { event: (event) => void (event.family === 'ad-cost' ? undefined : events.push(event)) },
    )
    store = await openTestStore()
    await migrate(store, { logger: testLogger })
    await storeEvents(store, events)
    await storeEvents(store, events.slice(0, Math.floor(events.length / 2)))
    await runIdentityResolution(store, { rules: defaultIdentityRules, logger: testLogger })
  }, 180_000)
  afterAll(async () => {
    await store?.close()
  })

  it('the simulated data has what the comparisons need', async () => {
    const [counts] = await queryRows<{ events: number; journeys: number; switches: number; funnel: number }>(
      store,
      `SELECT
         (SELECT count() FROM {database:Identifier}.touchpoints_resolved) AS events,
         (SELECT countIf(converted = 1) FROM {database:Identifier}.journeys) AS journeys,
         (SELECT sum(transitions) FROM {database:Identifier}.channel_transition_days WHERE from_channel != to_channel)
           AS switches,
         (SELECT count() FROM {database:Identifier}.funnel_events WHERE event_type = 'add_to_cart') AS funnel`,
    )
    expect(counts?.events).toBeGreaterThan(3000)
    expect(counts?.journeys).toBeGreaterThan(100)
    expect(counts?.switches).toBeGreaterThan(100)
    expect(counts?.funnel).toBeGreaterThan(50)
  })

  for (const name of ['channel-stats', 'channel-transitions', 'channel-switchers', 'ltv-historical']) {
    it(`${name}`, async () => {
      for (const range of ranges) {
        const { events, aggregated } = await both(name, range)
        expect(events.length, `${name} ${JSON.stringify(range)}`).toBeGreaterThan(0)
        expect(aggregated, `${name} ${JSON.stringify(range)}`).toEqual(events)
      }
    })
  }

  it('channel-paths, for each outcome, whole and limited', async () => {
    for (const range of ranges) {
      for (const outcome of ['all', 'converted', 'not_converted']) {
        for (const [limit, min_channels] of [
          [5, 1],
          [1_000_000, 1],
          [1_000_000, 2],
        ]) {
          const params = { ...range, outcome, limit, min_channels }
          const [events, aggregated] = await Promise.all([
            queryRows<Record<string, unknown>>(store, loadSql('channel-paths'), params),
            queryRows<Record<string, unknown>>(store, loadSql('channel-paths-days'), params),
          ])
          const label = `${outcome} ${limit} ${min_channels} ${JSON.stringify(range)}`
          expect(events.length, label).toBeGreaterThan(0)
          // In order: the rows a limit keeps must be the same ones.
          expect(
            aggregated.map((row) => canonical([row])[0]),
            label,
          ).toEqual(events.map((row) => canonical([row])[0]))
        }
      }
    }
  })

  it('channel-flows, over up to two and five steps', async () => {
    for (const range of ranges) {
      for (const flow_steps of [2, 5]) {
        const { events, aggregated } = await both('channel-flows', { ...range, flow_steps })
        const totals = events.map((row) => JSON.parse(row) as { step: number; journeys: number })
        expect(totals.find((row) => row.step === 0)?.journeys, JSON.stringify(range)).toBeGreaterThan(0)
        expect(totals.filter((row) => row.step > 0).length, JSON.stringify(range)).toBeGreaterThan(0)
        expect(aggregated, `${flow_steps} ${JSON.stringify(range)}`).toEqual(events)
      }
    }
  })

  it('attribution-days: the models of attribution.ts on the paths of the events', async () => {
    const engineModels = attributionModels.filter((model) => model !== 'time_decay')
    const positionWeights = [0.3, 0.5, 0.2] as const
    const directChannels = ['web'] // the simulator has no "direct"; web stands in for it
    let compared = 0
    for (const range of ranges.slice(0, 2)) {
      for (const group_by of ['channel', 'channel_source', 'channel_campaign']) {
        for (const channels of [[], ['email', 'web', 'store']]) {
          for (const collapse of [false, true]) {
            const pathParams = { ...range, group_by, channels }
            const paths: PathCount[] = (
              await queryRows<{ path: string[]; conversions: number; value: number; nulls: number }>(
                store,
                loadSql('attribution-paths'),
                pathParams,
              )
            ).map((row) => ({ channels: row.path, conversions: row.conversions, value: row.value, nulls: row.nulls }))
            for (const order of [1, 2, 3]) {
              const label = `${group_by} ${channels.join(',')} collapse=${collapse} order=${order} ${JSON.stringify(range)}`
              expect(paths.length, label).toBeGreaterThan(10)
              const options = { collapseRepeats: collapse, positionWeights, directChannels, order }
              // Without ordered Shapley the engine does not split its rows by position: order 2 runs that way.
              const models = order === 2 ? engineModels.filter((model) => model !== 'shapley_ordered') : engineModels
              const engine = await attributionInEngine(store, {}, models, options, pathParams)
              expect(engine.totals.journeys, label).toBe(
                paths.reduce((sum, path) => sum + path.conversions + path.nulls, 0),
              )
              expect(engine.totals.conversions, label).toBe(paths.reduce((sum, path) => sum + path.conversions, 0))
              expect(engine.totals.value, label).toBeCloseTo(
                paths.reduce((sum, path) => sum + path.value, 0),
                6,
              )
              for (const model of models) {
                const [actual, expected] = [engine.run(model), attribute(paths, model, options)]
                expectSameCredits(actual.channels, expected.channels, `${model} ${label}`)
                expect(actual.markov?.states, `${model} ${label}`).toBe(expected.markov?.states)
                expect(actual.markov?.conversionProbability ?? 0).toBeCloseTo(
                  expected.markov?.conversionProbability ?? 0,
                  9,
                )
              }
              compared += 1
            }
          }
        }
      }
    }
    expect(compared).toBe(72)
  })

  it('attribution-time-decay-days answers as attribution-time-decay with the stored journey settings', async () => {
    const [stored] = await queryRows<{ conversion_types: string[]; lookback_days: number }>(store, journeySettingsSql)
    expect(stored?.conversion_types.length).toBeGreaterThan(0)
    const cut = {
      conversion_types: stored?.conversion_types ?? [],
      lookback_seconds: Math.round((stored?.lookback_days ?? 0) * 86_400),
    }
    let compared = 0
    for (const range of ranges.slice(0, 2)) {
      for (const group_by of ['channel', 'channel_source', 'channel_campaign']) {
        for (const channels of [[], ['email', 'web', 'store']]) {
          for (const [half_life_days, collapse_repeats] of [
            [7, 0],
            [2.5, 1],
          ]) {
            const params = { ...range, group_by, channels, half_life_days, collapse_repeats }
            const label = JSON.stringify(params)
            const [events, aggregated] = await Promise.all([
              queryRows<ChannelCredit>(store, loadSql('attribution-time-decay'), { ...params, ...cut }),
              queryRows<ChannelCredit>(store, loadSql('attribution-time-decay-days'), params),
            ])
            expect(events.length, label).toBeGreaterThan(0)
            expectSameCredits(aggregated, events, label)
            compared += 1
          }
        }
      }
    }
    expect(compared).toBe(24)
  })

  it('funnel, over every channel and one, with unused steps', async () => {
    const noStep = '\u0000'
    const funnels = [
      ['page_view', 'add_to_cart', 'order_created'],
      ['add_to_cart', 'order_created'],
      ['clicked', 'page_view', 'order_created', 'order_paid'],
    ]
    for (const range of ranges) {
      for (const steps of funnels) {
        for (const channel of ['', 'web', 'email']) {
          const params: Record<string, unknown> = { ...range, window_seconds: 7 * 86_400, channel }
          for (let step = 1; step <= 8; step++) params[`step_${step}`] = steps[step - 1] ?? noStep
          const { events, aggregated } = await both('funnel', params)
          const label = `${steps.join('>')} ${channel} ${JSON.stringify(range)}`
          expect(aggregated, label).toEqual(events)
        }
      }
    }
  })
})
