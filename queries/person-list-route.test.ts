import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { apiOnEvents, expectRowsAsCsvAndArrow } from '../test/api-fixture.ts'
import { events, range } from '../test/fixtures/five-people.ts'
import { asReader } from '../test/helpers.ts'
import { personListColumns, type ListedPerson } from './person-list-route.ts'

describe('GET /v1/persons over five people stored in the real ClickHouse engine', () => {
  let app: FastifyInstance
  let close: (() => Promise<void>) | undefined

  beforeAll(async () => {
    ;({ app, close } = await apiOnEvents(events))
  })

  afterAll(async () => {
    await close?.()
  })

  const list = async (query: string) => {
    const response = await app.inject({ url: `/v1/persons?${query}`, headers: asReader })
    expect(response.statusCode, response.body).toBe(200)
    return response.json<{ sort: string; persons: ListedPerson[] }>().persons
  }
  /** Who a row is, by what the fixture gave them: their customer id, else their channels. */
  const who = (person: ListedPerson) => person.customer_id || person.channels.join('+')

  it('lists the persons seen in the range by net revenue, with the figures of their whole history', async () => {
    const persons = await list(range)
    // Anna 1,000.00 less 100.00 refunded; Boris's receipt; Gleb's order; Dmitri (never paid) and Vera (no order) last,
    // and the anonymous page view belongs to nobody.
    expect(persons.map(who).slice(0, 3)).toEqual(['C-anna', 'sms+store', 'C-gleb'])
    expect(persons.slice(0, 3).map((person) => person.revenue)).toEqual([900, 500, 200])
    expect(new Set(persons.slice(3).map(who))).toEqual(new Set(['C-dmitri', 'email+web']))
    const [anna] = persons
    expect(anna).toMatchObject({
      channels: ['email', 'web'],
      events: 5,
      orders: 1,
      first_seen: '2026-05-01T10:00:00.000Z',
      last_seen: '2026-05-02T09:00:00.000Z',
    })
    expect(anna?.person_id).toMatch(/^pers_[0-9a-f]{16}$/)
    // Gleb's visit on 6 May lies after the range, yet his whole history counts: he was seen in it.
    expect(persons.find((person) => person.customer_id === 'C-gleb')?.last_seen).toBe('2026-05-06T10:00:00.000Z')
  })

  it('opens a listed person with /v1/persons/{person_id}', async () => {
    const [anna] = await list(range)
    const profile = await app.inject({ url: `/v1/persons/${anna?.person_id ?? ''}`, headers: asReader })
    expect(profile.statusCode).toBe(200)
    expect(profile.json<{ identifiers: { identifier: string }[] }>().identifiers.map((id) => id.identifier)).toContain(
      'customer_id:C-anna',
    )
  })

  it('narrows to a range, to channels, sorts by events or last activity, and stops at the limit', async () => {
    expect((await list('from=2026-05-05T00:00:00Z&to=2026-05-08T00:00:00Z')).map(who)).toEqual(['C-gleb'])
    expect((await list(`${range}&channels=sms`)).map(who)).toEqual(['sms+store'])
    expect((await list(`${range}&channels=sms,email`)).map(who)).toEqual(['C-anna', 'sms+store', 'email+web'])
    const byEvents = await list(`${range}&sort=events`)
    expect(byEvents.map((person) => person.events)).toEqual([...byEvents.map((p) => p.events)].sort((a, b) => b - a))
    expect(who(byEvents[0] as ListedPerson)).toBe('C-anna')
    expect(who((await list(`${range}&sort=last_seen`))[0] as ListedPerson)).toBe('C-gleb')
    expect(await list(`${range}&limit=2`)).toHaveLength(2)
    expect(await list('from=2026-06-01T00:00:00Z&to=2026-06-02T00:00:00Z')).toEqual([])
  })

  it('gives the same rows as CSV and an Arrow stream, the channels comma-separated', async () => {
    const persons = await list(range)
    const rows = persons.map((person) => ({ ...person, channels: person.channels.join(',') }))
    await expectRowsAsCsvAndArrow(app, `/v1/persons?${range}`, personListColumns, rows)
  })

  it('refuses a bad parameter with 400, naming it, and a request without a key with 401', async () => {
    for (const [query, text] of [
      ['sort=spend', /"sort" must be equal to one of the allowed values/],
      ['limit=0', /"limit" must be >= 1/],
      ['channels=Email', /"channels" must match pattern/],
    ] as const) {
      const response = await app.inject({ url: `/v1/persons?${query}`, headers: asReader })
      expect(response.statusCode, query).toBe(400)
      expect(response.json<{ error: { message: string } }>().error.message).toMatch(text)
    }
    expect((await app.inject({ url: `/v1/persons?${range}` })).statusCode).toBe(401)
  })
})
