import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { defaultIdentityRules } from '../consumers/identity-graph.ts'
import { runIdentityResolution } from '../consumers/identity-resolver.ts'
import { simulate } from '../producers/simulator/simulate.ts'
import { migrate } from '../runtime/clickhouse-migrations.ts'
import { queryRows, type Store } from '../runtime/clickhouse-store.ts'
import type { CapturedEvent } from '../schemas/capture-events.ts'
import { storeEvents, testApiServer } from '../test/api-fixture.ts'
import { asReader, openTestStore, testHasher, testLogger } from '../test/helpers.ts'

type Touchpoint = Exclude<CapturedEvent, { family: 'ad-cost' }>

interface Profile {
  person_id: string
  events: number
  channels: string[]
  first_seen: string
  last_seen: string
  timeline: { event_time: string; channel: string; event_type: string }[]
}

/**
 * The profile reads a person's events straight from `touchpoints` by their identity combinations; this checks it
 * against the plain definition, `touchpoints_resolved WHERE person_id = …`, on simulated customers whose identities
 * were resolved in two runs (the second merges persons of the first, so combinations move to newer versions), with
 * every event of the first half stored twice, as a re-delivery would.
 */
describe('GET /v1/persons/{id} against touchpoints_resolved, on simulated customers resolved in two runs', () => {
  let store: Store
  let app: FastifyInstance
  let persons: string[] = []
  let firstRunPersons: string[] = []
  const personsNow = async () =>
    (
      await queryRows<{ person_id: string }>(
        store,
        `SELECT DISTINCT person_id FROM {database:Identifier}.touchpoints_resolved
         WHERE NOT startsWith(person_id, 'event:')`,
      )
    ).map((row) => row.person_id)

  beforeAll(async () => {
    const events: Touchpoint[] = []
    simulate(
      { customers: 40, days: 60, seed: 23, hasher: testHasher, trailers: false },
      { event: (event) => void (event.family === 'ad-cost' ? undefined : events.push(event)) },
    )
    events.sort((a, b) => a.value.event_time - b.value.event_time)
    const half = Math.floor(events.length / 2)
    store = await openTestStore()
    await migrate(store, { logger: testLogger })
    await storeEvents(store, events.slice(0, half))
    await storeEvents(store, events.slice(0, half))
    await runIdentityResolution(store, { rules: defaultIdentityRules, logger: testLogger })
    firstRunPersons = await personsNow()
    await storeEvents(store, events.slice(half))
    await runIdentityResolution(store, { rules: defaultIdentityRules, logger: testLogger })
    app = await testApiServer(store)
    persons = (
      await queryRows<{ person_id: string }>(
        store,
        `SELECT person_id FROM {database:Identifier}.touchpoints_resolved
         WHERE NOT startsWith(person_id, 'event:') GROUP BY person_id ORDER BY count() DESC, person_id LIMIT 25`,
      )
    ).map((row) => row.person_id)
  }, 120_000)

  afterAll(async () => {
    await app?.close()
    await store?.close()
  })

  it('shows each person the events, channels and times the resolved view gives them, each event once', async () => {
    const versions = await queryRows<{ n: number }>(
      store,
      'SELECT uniqExact(version) AS n FROM {database:Identifier}.identity_combos',
    )
    expect(versions[0]?.n, 'two resolver runs wrote combinations').toBeGreaterThan(1)
    expect(persons.length).toBeGreaterThan(20)
    for (const person of persons) {
      const response = await app.inject({ url: `/v1/persons/${person}?events=1000`, headers: asReader })
      expect(response.statusCode, response.body).toBe(200)
      const profile = response.json<Profile>()
      const [expected] = await queryRows<{
        events: number
        channels: string[]
        first_seen: string
        last_seen: string
        timeline: [string, string, string][]
      }>(
        store,
        `SELECT count() AS events, arraySort(groupUniqArray(toString(channel))) AS channels,
                min(event_time) AS first_seen, max(event_time) AS last_seen,
                arrayReverseSort(x -> x.1, groupArray((toString(event_time), toString(channel), event_type))) AS timeline
         FROM {database:Identifier}.touchpoints_resolved WHERE person_id = {person_id:String}`,
        { person_id: person },
      )
      expect(profile.events, person).toBe(expected?.events)
      expect(profile.channels, person).toEqual(expected?.channels)
      expect([profile.first_seen, profile.last_seen], person).toEqual([expected?.first_seen, expected?.last_seen])
      const timeline = profile.timeline.map((event) => `${event.event_time} ${event.channel} ${event.event_type}`)
      const truth = (expected?.timeline ?? []).map(([time, channel, type]) => `${time} ${channel} ${type}`)
      expect(timeline.sort(), person).toEqual(truth.sort())
    }
  })

  it('finds no events for a person of the first run that the second merged into another', async () => {
    const now = new Set(await personsNow())
    const mergedAway = firstRunPersons.filter((person) => !now.has(person))
    expect(mergedAway.length, 'the second run merged persons of the first').toBeGreaterThan(0)
    for (const person of mergedAway) {
      const response = await app.inject({ url: `/v1/persons/${person}`, headers: asReader })
      expect(response.statusCode, `${person}: ${response.body}`).toBe(404)
    }
  })
})
