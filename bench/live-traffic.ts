// Live traffic for the freshness benchmark, from the simulator's retailer (producers/simulator/simulate.ts), whose
// model is not changed here: only when its events happen is.
import type { IdentifierHasher } from '../producers/identifier-hashing.ts'
import { mixSeed, stream, type Random } from '../producers/simulator/random.ts'
import { simulate } from '../producers/simulator/simulate.ts'
import type { CapturedEvent } from '../schemas/capture-events.ts'

export interface LiveTrafficOptions {
  readonly hasher: IdentifierHasher
  /** The seed of the live customers; not the loaded store's, so that no event id repeats one stored. */
  readonly seed: number
  /** Customers of the loaded store (indices 0 to storedCustomers - 1). */
  readonly storedCustomers: number
  /** New customers' indices start here (past the stored ones and past earlier runs' new customers). */
  readonly newCustomersFrom: number
  /** Share of live customers who are stored customers coming back (default 0.5). */
  readonly returningShare?: number
  /** Days of each live customer's simulated life sent during the run (default 30). */
  readonly lifeDays?: number
  /** Share of events that arrive late (default 0.05), and how late at most (default 20 days). */
  readonly lateShare?: number
  readonly maxLateMs?: number
  /** Customers whose events are interleaved at any moment (default 1000). */
  readonly activeCustomers?: number
}

export interface LiveTraffic {
  /** The next `count` events, happening and received at `now`; a late one happened up to `maxLateMs` before. */
  next(count: number, now: number): CapturedEvent[]
  /** What has been handed out so far. */
  readonly counts: { events: number; late: number; newCustomers: number; returningCustomers: number }
}

const dayMs = 86_400_000
const minuteMs = 60_000

/**
 * A steady stream of live events. Each live customer is the simulator's customer over `lifeDays` days: anonymous
 * browsing and ad touches with cookies, sign-up or login, orders, deliveries, store visits, in the simulator's order.
 * Half of them (`returningShare`) are stored customers coming back: the same index, so the same customer id, e-mail
 * and loyalty card as in the store, but under another seed new cookies and devices, so that their login merges a new
 * anonymous history into a stored person. The others are new customers. `activeCustomers` lives are interleaved
 * event by event, so a person's events spread over seconds rather than arriving in one burst. Every event is stamped
 * with the time it is sent (the simulator's months are compressed into the run); `lateShare` of them arrive late:
 * their event time is set back by 1 minute to `maxLateMs` (log-uniform), received now.
 */
export function createLiveTraffic(options: LiveTrafficOptions): LiveTraffic {
  const returningShare = options.returningShare ?? 0.5
  const lifeDays = options.lifeDays ?? 30
  const lateShare = options.lateShare ?? 0.05
  const maxLateMs = options.maxLateMs ?? 20 * dayMs
  const activeCustomers = options.activeCustomers ?? 1000
  const random: Random = stream(options.seed, -7, 0)
  const counts = { events: 0, late: 0, newCustomers: 0, returningCustomers: 0 }
  const active: { events: CapturedEvent[]; at: number }[] = []
  let nextNew = options.newCustomersFrom
  const start = Date.now() - lifeDays * dayMs

  const life = (index: number, seed: number): CapturedEvent[] => {
    const events: CapturedEvent[] = []
    simulate(
      {
        customers: index + 2,
        days: lifeDays,
        seed,
        hasher: options.hasher,
        start,
        range: { from: index, to: index + 1 },
        trailers: false,
      },
      { event: (event) => events.push(event) },
    )
    return events
  }
  const refill = () => {
    while (active.length < activeCustomers) {
      const returning = random() < returningShare
      const index = returning ? Math.floor(random() * options.storedCustomers) : nextNew++
      if (returning) counts.returningCustomers += 1
      else counts.newCustomers += 1
      // A stored customer may come back more than once: each visit is simulated with a seed of its own, so its event
      // ids are new (the same seed and customer would repeat the same events, which the store collapses).
      const events = life(index, returning ? mixSeed(options.seed, counts.returningCustomers) : options.seed)
      if (events.length > 0) active.push({ events, at: 0 })
    }
  }

  return {
    counts,
    next(count, now) {
      const out: CapturedEvent[] = []
      while (out.length < count) {
        refill()
        const slot = Math.floor(random() * active.length)
        const customer = active[slot]
        if (customer === undefined) break
        const event = customer.events[customer.at]
        customer.at += 1
        if (customer.at >= customer.events.length) {
          active[slot] = active[active.length - 1] ?? customer
          active.pop()
        }
        if (event === undefined || event.family === 'ad-cost') continue
        let time = now
        if (random() < lateShare) {
          time = now - Math.round(Math.exp(Math.log(minuteMs) + random() * Math.log(maxLateMs / minuteMs)))
          counts.late += 1
        }
        event.value.event_time = time
        event.value.received_at = now
        out.push(event)
      }
      counts.events += out.length
      return out
    },
  }
}
