import crypto from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { derivedTables } from '../consumers/derived-data.ts'
import { defaultIdentityRules, identityRulesOf } from '../consumers/identity-graph.ts'
import { createIdentityLease } from '../consumers/identity-lease.ts'
import { recordSplit, runIdentityResolution, type ResolutionRun } from '../consumers/identity-resolver.ts'
import { mulberry32, type Random } from '../producers/simulator/random.ts'
import { queryRows, type Store } from '../runtime/clickhouse-store.ts'
import { migrate } from '../runtime/clickhouse-migrations.ts'
import { hashFor, openTestStore, testLogger, uniqueName } from './helpers.ts'

/**
 * Incremental identity resolution against the full rebuild, its oracle (docs/ARCHITECTURE.md D21). Two databases get
 * the same events and operator actions; after every step one runs an incremental cycle, the other a rebuild, and their
 * identity maps and combinations must be equal row for row. The steps are random (fixed seeds): batches of events with
 * late ones up to 20 days old and events sent again, logins that merge anonymous histories, shared devices that get
 * quarantined, events with two people's anchors (conflicts), junk values, splits and unsplits, and runs that die
 * halfway through writing.
 */

const day = 86_400_000
const start = Date.UTC(2026, 5, 1)

interface Person {
  readonly customer?: string
  readonly email?: string
  readonly phone?: string
  readonly card?: string
  readonly devices: string[]
  readonly cookies: string[]
}

interface TestEvent {
  event_id: string
  event_time: string
  received_at: string
  channel: string
  event_type: string
  anonymous_id: string
  device_id: string
  customer_id: string
  email_hash: string
  phone_hash: string
  loyalty_card: string
  order_id: string
  order_key: string
  revenue: string
}

const utc = (ms: number) => new Date(ms).toISOString().replace('T', ' ').replace('Z', '')

function world(random: Random, people: number): { persons: Person[]; shared: string[]; receipts: string[] } {
  const id = (prefix: string) => `${prefix}${Math.floor(random() * 1e9).toString(36)}`
  const persons = Array.from({ length: people }, (_, index): Person => {
    const known = random() < 0.7
    return {
      ...(known ? { customer: `C${index}` } : {}),
      ...(known || random() < 0.3 ? { email: hashFor(`email-${index}`) } : {}),
      ...(random() < 0.5 ? { phone: hashFor(`phone-${index}`) } : {}),
      ...(random() < 0.5 ? { card: `27700${index.toString().padStart(5, '0')}` } : {}),
      devices: Array.from({ length: 1 + Math.floor(random() * 2) }, () => id('dev-')),
      cookies: Array.from({ length: 1 + Math.floor(random() * 3) }, () => id('ck-')),
    }
  })
  return { persons, shared: [id('shared-dev-'), id('shared-dev-')], receipts: [] }
}

function eventsOf(random: Random, where: ReturnType<typeof world>, now: number, count: number): TestEvent[] {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T
  const maybe = (value: string | undefined, chance: number) => (value !== undefined && random() < chance ? value : '')
  return Array.from({ length: count }, () => {
    const person = pick(where.persons)
    const other = pick(where.persons)
    const late = random() < 0.15 ? Math.floor(random() * 20 * day) : 0
    const time = now - late - Math.floor(random() * 3_600_000)
    const event: TestEvent = {
      event_id: crypto.randomUUID(),
      event_time: utc(time),
      received_at: utc(now),
      channel: 'web',
      event_type: 'page_view',
      anonymous_id: '',
      device_id: '',
      customer_id: '',
      email_hash: '',
      phone_hash: '',
      loyalty_card: '',
      order_id: '',
      order_key: '',
      revenue: '0',
    }
    const shape = random()
    if (shape < 0.3) {
      event.anonymous_id = pick(person.cookies) // anonymous browsing
      event.device_id = maybe(pick(person.devices), 0.3)
    } else if (shape < 0.45) {
      event.anonymous_id = pick(person.cookies) // a login merges the cookie's history
      event.customer_id = person.customer ?? ''
      event.email_hash = maybe(person.email, 0.5)
    } else if (shape < 0.55) {
      event.channel = 'app'
      event.device_id = pick(person.devices)
      event.customer_id = maybe(person.customer, 0.7)
      event.phone_hash = maybe(person.phone, 0.3)
    } else if (shape < 0.62) {
      const receipt = `receipt:${Math.floor(random() * 1e6)}` // a receipt is named by its number, not an identifier
      where.receipts.push(receipt)
      event.channel = 'store'
      event.event_type = 'pos_receipt'
      event.loyalty_card = person.card ?? ''
      event.phone_hash = maybe(person.phone, 0.5)
      event.order_key = receipt
      event.revenue = '120.00'
    } else if (shape < 0.65) {
      // A return in store names the receipt; it may carry nobody's identifier, or someone else's.
      event.channel = 'store'
      event.event_type = 'returned_in_store'
      event.order_key = where.receipts.length > 0 ? pick(where.receipts) : 'receipt:0'
      event.anonymous_id = maybe(pick(other.cookies), 0.4)
      event.revenue = '-40.00'
    } else if (shape < 0.72) {
      event.channel = 'email'
      event.email_hash = person.email ?? ''
      event.anonymous_id = maybe(pick(person.cookies), 0.5)
    } else if (shape < 0.8) {
      event.channel = 'app'
      event.device_id = pick(where.shared) // a family tablet: quarantined once seen with two people
      event.customer_id = person.customer ?? ''
      event.email_hash = person.customer === undefined ? (person.email ?? '') : ''
    } else if (shape < 0.85) {
      event.customer_id = person.customer ?? '' // two people's anchors on one event
      event.email_hash = other.email ?? ''
      event.anonymous_id = maybe(pick(person.cookies), 0.5)
    } else if (shape < 0.9) {
      event.loyalty_card = pick(['0', 'null', '2770000000000']) // junk and a placeholder card
      event.anonymous_id = maybe(pick(person.cookies), 0.5)
    } else {
      const order = `O${Math.floor(random() * 40)}` // order ids repeat: some orders are claimed by two people
      event.channel = random() < 0.5 ? 'courier' : 'web'
      event.event_type = event.channel === 'courier' ? 'delivered' : 'order_created'
      event.order_id = order
      event.order_key = order
      event.revenue = event.channel === 'web' ? '80.00' : '0'
      event.customer_id = event.channel === 'web' ? (person.customer ?? '') : ''
      event.anonymous_id = event.channel === 'web' ? pick(person.cookies) : ''
    }
    return event
  })
}

async function storeTouchpoints(store: Store, events: readonly TestEvent[]) {
  if (events.length === 0) return
  await store.client.insert({ table: `${store.database}.touchpoints`, values: events, format: 'JSONEachRow' })
}

/** The identity state a rebuild and an incremental run must agree on. */
async function identityState(store: Store) {
  const map = await queryRows<Record<string, unknown>>(
    store,
    `SELECT identifier, argMax(person_id, version) AS person_id, argMax(status, version) AS status,
            argMax(linked_by_event, version) AS linked_by_event, argMax(people_seen, version) AS people_seen
     FROM {database:Identifier}.identity_map GROUP BY identifier ORDER BY identifier`,
  )
  const combos = await queryRows<Record<string, unknown>>(
    store,
    `SELECT toString(combo) AS combo, argMax(person_id, version) AS person_id
     FROM {database:Identifier}.identity_combos GROUP BY combo ORDER BY combo`,
  )
  return { map, combos }
}

/** Every derived table, row for row, in one order. */
async function derivedState(store: Store) {
  const state: Record<string, Record<string, unknown>[]> = {}
  for (const table of derivedTables) {
    state[table] = await queryRows<Record<string, unknown>>(
      store,
      `SELECT * FROM {database:Identifier}.${table} ORDER BY ALL`,
    )
  }
  return state
}

/** The store, with inserts that fail from the `allowed`+1-th on: a process that dies halfway through a run. */
function dyingAfter(store: Store, allowed: number): Store {
  let left = allowed
  const client = new Proxy(store.client, {
    get(target, property, receiver) {
      if (property !== 'insert') return Reflect.get(target, property, receiver) as unknown
      return async (...args: Parameters<Store['client']['insert']>) => {
        if (left-- <= 0) throw new Error('injected: the process died here')
        return target.insert(...args)
      }
    },
  })
  return { ...store, client }
}

describe('incremental identity resolution equals a full rebuild after every step', () => {
  let incremental: Store
  let rebuilt: Store

  beforeAll(async () => {
    incremental = await openTestStore()
  })

  afterAll(async () => {
    await incremental?.close()
  })

  /** Two new databases in the process's store: one resolved incrementally, the other rebuilt. */
  const freshPair = async () => {
    incremental = { ...incremental, database: uniqueName('incremental') }
    rebuilt = { ...incremental, database: uniqueName('rebuilt') }
    await migrate(incremental, { logger: testLogger })
    await migrate(rebuilt, { logger: testLogger })
  }

  const resolve = (store: Store, rebuild: boolean) =>
    runIdentityResolution(store, { rules: defaultIdentityRules, logger: testLogger, rebuild })

  for (const seed of [7, 19, 1207, 4242, 20261207]) {
    it(`seed ${seed}`, async () => {
      const random = mulberry32(seed)
      const where = world(random, 40)
      await freshPair()
      let now = start + seed
      const runs: ResolutionRun[] = []
      const sent: TestEvent[] = []
      let stored = 0
      for (let step = 0; step < 16; step++) {
        now += 3_600_000
        const action = random()
        if (step > 2 && action < 0.15) {
          const [target] = await queryRows<{ identifier: string; status: string }>(
            incremental,
            `SELECT identifier, argMax(status, version) AS status FROM {database:Identifier}.identity_map
             GROUP BY identifier ORDER BY cityHash64(identifier, {salt:UInt32}) LIMIT 1`,
            { salt: step },
          )
          if (target !== undefined) {
            const active = target.status !== 'split'
            for (const store of [incremental, rebuilt]) await recordSplit(store, target.identifier, active, 'test')
          }
        } else {
          const events = eventsOf(random, where, now, 20 + Math.floor(random() * 60))
          stored += events.length
          // A producer's retry: a few earlier events sent again, the same events loaded a second time.
          const resent = sent.length > 0 && random() < 0.4 ? 1 + Math.floor(random() * 4) : 0
          for (let i = 0; i < resent; i++) events.push(sent[Math.floor(random() * sent.length)] as TestEvent)
          sent.push(...events)
          for (const store of [incremental, rebuilt]) await storeTouchpoints(store, events)
        }
        if (step > 0 && action > 0.85) {
          // A run dies after some of its writes; the next one must finish what it left.
          await expect(resolve(dyingAfter(incremental, Math.floor(random() * 6)), false)).rejects.toThrow(/injected/)
        }
        const run = await resolve(incremental, false)
        runs.push(run)
        const oracle = await resolve(rebuilt, true)
        expect(await identityState(incremental), `seed ${seed}, step ${step}`).toEqual(await identityState(rebuilt))
        expect([run.persons, run.quarantined], `totals, seed ${seed}, step ${step}`).toEqual([
          oracle.persons,
          oracle.quarantined,
        ])
        const [mine, theirs] = [await derivedState(incremental), await derivedState(rebuilt)]
        for (const table of derivedTables) {
          expect(mine[table], `${table}, seed ${seed}, step ${step}`).toEqual(theirs[table])
        }
      }
      // Incremental for real: after the first run, no run read everything stored.
      expect(runs[0]?.mode).toBe('rebuild')
      expect(runs.slice(1).every((run) => run.mode === 'incremental')).toBe(true)
      const state = await identityState(incremental)
      expect(state.map.length).toBeGreaterThan(60)
      expect(Math.max(...runs.slice(1).map((run) => run.combos))).toBeLessThan(stored)
      expect(state.map.some((row) => row['status'] === 'quarantined')).toBe(true)
    }, 120_000)
  }

  it("recomputes the buyer's journey when a return without the buyer's identifiers changes the order", async () => {
    await freshPair()
    const base = {
      received_at: utc(start),
      anonymous_id: '',
      device_id: '',
      customer_id: '',
      email_hash: '',
      phone_hash: '',
      order_id: '',
    }
    const steps: TestEvent[][] = [
      [
        {
          ...base,
          event_id: crypto.randomUUID(),
          event_time: utc(start),
          channel: 'web',
          event_type: 'page_view',
          loyalty_card: '2770000000777',
          anonymous_id: 'ck-buyer',
          order_key: '',
          revenue: '0',
        },
        {
          ...base,
          event_id: crypto.randomUUID(),
          event_time: utc(start + 60_000),
          channel: 'store',
          event_type: 'pos_receipt',
          loyalty_card: '2770000000777',
          order_key: 'receipt:777',
          revenue: '120.00',
        },
      ],
      [
        // The return comes days later with no identifier at all, and another with a stranger's cookie.
        {
          ...base,
          event_id: crypto.randomUUID(),
          event_time: utc(start + 3 * day),
          channel: 'store',
          event_type: 'returned_in_store',
          loyalty_card: '',
          order_key: 'receipt:777',
          revenue: '-40.00',
        },
        {
          ...base,
          event_id: crypto.randomUUID(),
          event_time: utc(start + 4 * day),
          channel: 'store',
          event_type: 'returned_in_store',
          loyalty_card: '',
          anonymous_id: 'ck-stranger',
          order_key: 'receipt:777',
          revenue: '-30.00',
        },
      ],
    ]
    for (const events of steps) {
      for (const store of [incremental, rebuilt]) await storeTouchpoints(store, events)
      await resolve(incremental, false)
      await resolve(rebuilt, true)
      const [mine, theirs] = [await derivedState(incremental), await derivedState(rebuilt)]
      for (const table of derivedTables) expect(mine[table], table).toEqual(theirs[table])
    }
    const [journey] = await queryRows<{ revenue: string }>(
      incremental,
      `SELECT toString(revenue) AS revenue FROM {database:Identifier}.journeys WHERE order_key = 'receipt:777'`,
    )
    expect(journey?.revenue).toBe('50')
  })

  it('rebuilds when the identity rules changed since the last run', async () => {
    const rules = identityRulesOf({
      junkValues: ['guest'],
      maxPeople: { device_id: 2 },
      priority: [...defaultIdentityRules.priority],
    })
    const run = await runIdentityResolution(incremental, { rules, logger: testLogger, deriveTables: false })
    expect(run.mode).toBe('rebuild')
    const next = await runIdentityResolution(incremental, { rules, logger: testLogger, deriveTables: false })
    expect(next.mode).toBe('incremental')
  })
})

describe('the identity lease', () => {
  it('lets one of two processes lead, and the other once the leader lets go', async () => {
    const store = await openTestStore()
    try {
      await migrate(store, { logger: testLogger })
      const one = createIdentityLease(store, { settleMs: 50 })
      const two = createIdentityLease(store, { settleMs: 50 })
      const [first, second] = await Promise.all([one.acquire(), two.acquire()])
      expect([first, second].filter(Boolean)).toHaveLength(1)
      const [leader, other] = first ? [one, two] : [two, one]
      expect(await leader.acquire()).toBe(true)
      expect(await other.acquire()).toBe(false)
      await leader.release()
      expect(await other.acquire()).toBe(true)
      expect(await leader.acquire()).toBe(false)
    } finally {
      await store.close()
    }
  })
})
