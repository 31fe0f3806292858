import { describeError } from '../../runtime/errors.ts'
import type { Logger } from '../../runtime/logger.ts'
import type { CapturedEvent } from '../../schemas/capture-events.ts'
import type { IdentifierHasher } from '../identifier-hashing.ts'
import type { TouchpointProducer } from '../touchpoint-producer.ts'
import { emitTrailers, simulate } from './simulate.ts'

export interface SimulatedTraffic {
  readonly sent: () => number
  stop(): Promise<void>
}

export interface SimulatedTrafficOptions {
  readonly producer: TouchpointProducer
  readonly hasher: IdentifierHasher
  readonly logger: Logger
  /** Events per second. */
  readonly rate: number
  readonly seed: number
  /** Customers of the simulated retailer, and the days of history that end today. */
  readonly customers: number
  readonly days: number
  /**
   * Customers sent at once before the steady stream begins (default none): their whole history, so that a dashboard
   * opened right after start has cohorts old enough for LTV and enough repeat buyers to fit the predictive models.
   */
  readonly backlogCustomers?: number
}

/**
 * Feeds the simulator's retailer into Kafka at a steady rate, as `omnistitch start` does for its demo: the last
 * `days` days of history ending now, customer by customer, a few customers simulated at a time so memory stays flat;
 * the first `backlogCustomers` at once.
 */
export function startSimulatedTraffic(options: SimulatedTrafficOptions): SimulatedTraffic {
  const logger = options.logger.child({ component: 'simulated-traffic' })
  const dayMs = 86_400_000
  const start = (Math.floor(Date.now() / dayMs) - options.days + 1) * dayMs
  const settings = {
    customers: options.customers,
    days: options.days,
    seed: options.seed,
    start,
    hasher: options.hasher,
  }
  const queue: CapturedEvent[] = []
  emitTrailers(settings, [], { event: (event) => queue.push(event) })
  let next = 0
  const refill = () => {
    while (queue.length < 1000 && next < options.customers) {
      const to = Math.min(options.customers, next + 10)
      simulate({ ...settings, range: { from: next, to }, trailers: false }, { event: (event) => queue.push(event) })
      next = to
    }
  }
  const ticksPerSecond = 4
  let sent = 0
  let carry = 0
  let stopped = false
  const backlog = Math.min(options.backlogCustomers ?? 0, options.customers)
  let caughtUp = backlog === 0
  const sendBacklog = async () => {
    while (next < backlog && !stopped) {
      const to = Math.min(backlog, next + 10)
      simulate({ ...settings, range: { from: next, to }, trailers: false }, { event: (event) => queue.push(event) })
      next = to
      if (queue.length < 5_000 && next < backlog) continue
      const batch = queue.splice(0)
      await options.producer.send(batch)
      sent += batch.length
    }
    logger.info({ customers: next, events: sent }, 'simulated backlog sent')
  }
  let sending: Promise<void> = sendBacklog().then(
    () => {
      caughtUp = true
    },
    (error: unknown) => {
      caughtUp = true
      logger.warn({ err: describeError(error) }, 'simulated backlog not sent')
    },
  )
  const timer = setInterval(() => {
    if (!caughtUp) return
    carry += options.rate / ticksPerSecond
    const count = Math.floor(carry)
    carry -= count
    refill()
    const batch = queue.splice(0, count)
    if (batch.length === 0) return
    sending = sending
      .then(() => options.producer.send(batch))
      .then(
        () => {
          sent += batch.length
        },
        (error: unknown) => logger.warn({ err: describeError(error) }, 'simulated batch not sent'),
      )
  }, 1000 / ticksPerSecond)
  return {
    sent: () => sent,
    async stop() {
      stopped = true
      clearInterval(timer)
      await sending
    },
  }
}
