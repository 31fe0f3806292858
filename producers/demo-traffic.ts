import crypto from 'node:crypto'
import type { Logger } from '../runtime/logger.ts'
import { describeError } from '../runtime/errors.ts'
import type { Channel, Touchpoint } from '../schemas/touchpoint.ts'
import type { IdentifierHasher } from './identifier-hashing.ts'
import type { TouchpointProducer } from './touchpoint-producer.ts'

/** Event types the demo sends per channel, with a weight for how often the channel appears. */
const demoChannels: readonly { channel: Channel; weight: number; events: readonly string[] }[] = [
  { channel: 'web', weight: 30, events: ['page_view', 'product_view', 'search', 'add_to_cart', 'checkout_start'] },
  { channel: 'app', weight: 15, events: ['screen_view', 'push_open', 'add_to_cart'] },
  { channel: 'ads', weight: 12, events: ['ad_impression', 'ad_click'] },
  { channel: 'social', weight: 8, events: ['ad_click', 'post_engagement', 'direct_message'] },
  { channel: 'messenger', weight: 5, events: ['chat_started', 'bot_lead'] },
  { channel: 'email', weight: 8, events: ['email_opened', 'email_clicked'] },
  { channel: 'call_center', weight: 3, events: ['call_started', 'call_ended'] },
  { channel: 'store', weight: 8, events: ['pos_receipt'] },
  { channel: 'pickup_point', weight: 3, events: ['order_picked_up'] },
  { channel: 'courier', weight: 3, events: ['delivered', 'paid_on_delivery'] },
  { channel: 'marketplace', weight: 5, events: ['order_created', 'order_paid'] },
]
const purchaseEvents = new Set(['pos_receipt', 'paid_on_delivery', 'order_paid', 'order_picked_up'])

/** A small seeded PRNG (mulberry32): the same seed gives the same demo events. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

interface DemoPerson {
  anonymousId: string
  deviceId: string
  customerId: string | null
  emailHash: string | null
  phoneHash: string | null
  loyaltyCard: string | null
}

export interface DemoGeneratorOptions {
  readonly hasher: IdentifierHasher
  readonly seed?: number
  readonly people?: number
  readonly now?: () => number
}

/**
 * Generates varied touchpoints for a small population of made-up customers, so a newcomer sees every channel move.
 * Not the simulator: no ground truth, just plausible traffic. E-mails and phones go through the hasher as they
 * would at a real capture edge.
 */
export function createDemoTouchpointGenerator(options: DemoGeneratorOptions): () => Touchpoint {
  const random = seededRandom(options.seed ?? crypto.randomInt(2 ** 31))
  const now = options.now ?? Date.now
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T
  const hex = (length: number) => Array.from({ length }, () => Math.floor(random() * 16).toString(16)).join('')
  const uuid = () => `${hex(8)}-${hex(4)}-4${hex(3)}-${pick(['8', '9', 'a', 'b'])}${hex(3)}-${hex(12)}`
  const people: DemoPerson[] = Array.from({ length: options.people ?? 200 }, (_, index) => {
    const known = random() < 0.6
    return {
      anonymousId: `cookie-${hex(12)}`,
      deviceId: `device-${hex(12)}`,
      customerId: known ? `C${100000 + index}` : null,
      emailHash: known ? options.hasher.email(`customer${index}@example.ru`) : null,
      phoneHash:
        random() < 0.5
          ? options.hasher.phone(
              `+7 (9${String(index).padStart(2, '0')}) 555-01-${String(index % 100).padStart(2, '0')}`,
            )
          : null,
      loyaltyCard: random() < 0.4 ? `2770${String(index).padStart(9, '0')}` : null,
    }
  })
  const totalWeight = demoChannels.reduce((sum, entry) => sum + entry.weight, 0)
  const pickChannel = () => {
    let roll = random() * totalWeight
    for (const entry of demoChannels) {
      roll -= entry.weight
      if (roll < 0) return entry
    }
    return demoChannels[0] as (typeof demoChannels)[number]
  }

  return () => {
    const person = pick(people)
    const { channel, events } = pickChannel()
    const eventType = pick(events)
    const digital = channel === 'web' || channel === 'app' || channel === 'ads' || channel === 'social'
    const offline =
      channel === 'store' || channel === 'pickup_point' || channel === 'courier' || channel === 'call_center'
    const purchase = purchaseEvents.has(eventType)
    const time = now()
    return {
      event_id: uuid(),
      event_time: time - Math.floor(random() * 5_000),
      received_at: time,
      channel,
      event_type: eventType,
      anonymous_id: digital ? person.anonymousId : null,
      device_id: channel === 'app' ? person.deviceId : null,
      customer_id: digital && random() < 0.5 ? person.customerId : purchase ? person.customerId : null,
      email_hash: channel === 'email' ? person.emailHash : null,
      phone_hash:
        channel === 'call_center' || channel === 'courier' || channel === 'messenger' ? person.phoneHash : null,
      loyalty_card: offline ? person.loyaltyCard : null,
      order_id: purchase ? `O${hex(10)}` : null,
      revenue_minor: purchase ? 50_000 + Math.floor(random() * 1_500_000) : null,
      currency: purchase ? 'RUB' : null,
    }
  }
}

export interface DemoTraffic {
  readonly sent: () => number
  stop(): Promise<void>
}

/** Sends `rate` generated touchpoints per second, in four small batches a second, until stopped. */
export function startDemoTraffic(options: {
  producer: TouchpointProducer
  generate: () => Touchpoint
  rate: number
  logger: Logger
}): DemoTraffic {
  const logger = options.logger.child({ component: 'demo-traffic' })
  const ticksPerSecond = 4
  let sent = 0
  let carry = 0
  let sending: Promise<void> = Promise.resolve()
  const timer = setInterval(() => {
    carry += options.rate / ticksPerSecond
    const count = Math.floor(carry)
    carry -= count
    if (count === 0) return
    const batch = Array.from({ length: count }, options.generate)
    sending = sending
      .then(() => options.producer.send(batch))
      .then(
        () => {
          sent += batch.length
        },
        (error: unknown) => logger.warn({ err: describeError(error) }, 'demo batch not sent'),
      )
  }, 1000 / ticksPerSecond)
  return {
    sent: () => sent,
    async stop() {
      clearInterval(timer)
      await sending
    },
  }
}
