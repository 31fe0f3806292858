import crypto from 'node:crypto'
import { completeRecord, type CapturedEvent, type Family } from '../schemas/capture-events.ts'
import { loadSchemaCatalog, type SchemaCatalog } from '../schemas/schema-catalog.ts'
import type { IdentifierHasher } from './identifier-hashing.ts'
import { mulberry32 } from './simulator/random.ts'

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
  readonly catalog?: SchemaCatalog
}

const weights: readonly [Family, number][] = [
  ['digital', 45],
  ['social', 12],
  ['messaging', 10],
  ['call', 4],
  ['receipt', 8],
  ['pickup', 3],
  ['delivery', 3],
  ['marketplace', 5],
  ['order', 8],
  ['ad-cost', 2],
]

/**
 * Generates plausible events of every capture family for a small population of made-up customers, so a newcomer sees
 * every channel move. Not the simulator: no ground truth. E-mails and phones go through the hasher as they would at
 * a real capture edge.
 */
export function createDemoTouchpointGenerator(options: DemoGeneratorOptions): () => CapturedEvent {
  const catalog = options.catalog ?? loadSchemaCatalog()
  const random = mulberry32(options.seed ?? crypto.randomInt(2 ** 31))
  const now = options.now ?? Date.now
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T
  const chance = (p: number) => random() < p
  const hex = (length: number) => Array.from({ length }, () => Math.floor(random() * 16).toString(16)).join('')
  const uuid = () => `${hex(8)}-${hex(4)}-4${hex(3)}-${pick(['8', '9', 'a', 'b'])}${hex(3)}-${hex(12)}`
  const money = () => 50_000 + Math.floor(random() * 1_500_000)
  const people: DemoPerson[] = Array.from({ length: options.people ?? 200 }, (_, index) => {
    const known = chance(0.6)
    return {
      anonymousId: `cookie-${hex(12)}`,
      deviceId: `device-${hex(12)}`,
      customerId: known ? `C${100000 + index}` : null,
      emailHash: known ? options.hasher.email(`customer${index}@example.ru`) : null,
      phoneHash: chance(0.5)
        ? options.hasher.phone(
            `+7 (9${String(index % 100).padStart(2, '0')}) 555-01-${String(index % 97).padStart(2, '0')}`,
          )
        : null,
      loyaltyCard: chance(0.4) ? `2770${String(index).padStart(9, '0')}` : null,
    }
  })
  const total = weights.reduce((sum, [, weight]) => sum + weight, 0)
  const pickFamily = (): Family => {
    let roll = random() * total
    for (const [family, weight] of weights) {
      roll -= weight
      if (roll < 0) return family
    }
    return 'digital'
  }
  const items = () =>
    Array.from({ length: 1 + Math.floor(random() * 3) }, () => {
      const quantity = 1 + Math.floor(random() * 3)
      const price = 10_000 + Math.floor(random() * 500_000)
      return {
        sku: `SKU-${hex(5)}`,
        category: pick(['shoes', 'clothes', 'home', 'beauty']),
        quantity,
        price_minor: price,
        amount_minor: price * quantity,
      }
    })
  const utm = () =>
    chance(0.4)
      ? {
          source: pick(['yandex', 'vk', 'telegram', 'email']),
          medium: pick(['cpc', 'social', 'email']),
          campaign: pick(['autumn_sale', 'new_collection', 'retargeting']),
        }
      : {}

  function partial(family: Family, person: DemoPerson, time: number): Record<string, unknown> {
    const envelope = {
      event_id: uuid(),
      event_time: time - Math.floor(random() * 5_000),
      received_at: time,
      source: 'demo',
    }
    const order = `O${hex(10)}`
    switch (family) {
      case 'digital': {
        const app = chance(0.35)
        return {
          ...envelope,
          channel: app ? 'app' : 'web',
          event_type: pick(
            app
              ? ['screen_view', 'push_open', 'add_to_cart']
              : ['page_view', 'product_view', 'search', 'add_to_cart', 'checkout_start'],
          ),
          identifiers: {
            anonymous_id: app ? null : person.anonymousId,
            device_id: app ? person.deviceId : null,
            customer_id: chance(0.4) ? person.customerId : null,
          },
          page_url: app ? null : `https://shop.example.ru/${pick(['', 'catalog', 'product/42', 'cart'])}`,
          screen_name: app ? pick(['home', 'catalog', 'cart']) : null,
          utm: utm(),
        }
      }
      case 'social':
        return {
          ...envelope,
          channel: pick(['social', 'messenger', 'ads']),
          event_type: pick(['ad_impression', 'ad_click', 'post_engagement', 'chat_started', 'message']),
          platform: pick(['vk', 'telegram', 'whatsapp', 'yandex_direct']),
          identifiers: { anonymous_id: person.anonymousId, phone_hash: chance(0.3) ? person.phoneHash : null },
        }
      case 'messaging':
        return {
          ...envelope,
          channel: pick(['email', 'sms', 'push']),
          event_type: pick(['sent', 'delivered', 'opened', 'clicked']),
          campaign_id: pick(['weekly_digest', 'birthday', 'abandoned_cart']),
          identifiers: { email_hash: person.emailHash, phone_hash: person.phoneHash, customer_id: person.customerId },
        }
      case 'call':
        return {
          ...envelope,
          channel: 'call_center',
          event_type: pick(['call_started', 'call_ended']),
          call_id: `call-${hex(8)}`,
          tracking_number: '78005550101',
          duration_seconds: Math.floor(random() * 600),
          outcome: pick(['answered', 'missed']),
          identifiers: { phone_hash: person.phoneHash },
        }
      case 'receipt': {
        const lines = items()
        const totalMinor = lines.reduce((sum, line) => sum + line.amount_minor, 0)
        return {
          ...envelope,
          channel: 'store',
          event_type: chance(0.9) ? 'pos_receipt' : 'pos_return',
          store_id: pick(['msk-01', 'msk-02', 'spb-01']),
          receipt_number: `R${hex(8)}`,
          items: lines,
          total_minor: totalMinor,
          currency: 'RUB',
          payment_method: pick(['card', 'cash', 'sbp']),
          identifiers: { loyalty_card: person.loyaltyCard, phone_hash: chance(0.2) ? person.phoneHash : null },
        }
      }
      case 'pickup':
        return {
          ...envelope,
          channel: 'pickup_point',
          event_type: pick(['order_ready', 'picked_up', 'returned_in_store']),
          pickup_point_id: pick(['pp-101', 'pp-202']),
          amount_minor: money(),
          currency: 'RUB',
          identifiers: { order_id: order, phone_hash: person.phoneHash },
        }
      case 'delivery':
        return {
          ...envelope,
          channel: 'courier',
          event_type: pick(['courier_assigned', 'delivered', 'paid_on_delivery', 'partial_refusal']),
          delivery_id: `D${hex(8)}`,
          amount_minor: money(),
          currency: 'RUB',
          identifiers: { order_id: order, phone_hash: person.phoneHash },
        }
      case 'marketplace':
        return {
          ...envelope,
          channel: 'marketplace',
          event_type: pick(['order_created', 'order_paid', 'order_cancelled']),
          marketplace: pick(['ozon', 'wildberries', 'yandex_market']),
          marketplace_order_id: `M${hex(10)}`,
          items: items(),
          amount_minor: money(),
          currency: 'RUB',
          identifiers: { phone_hash: chance(0.3) ? person.phoneHash : null },
        }
      case 'order': {
        const placed = pick(['web', 'app', 'call_center'])
        return {
          ...envelope,
          channel: placed,
          event_type: pick(['order_created', 'order_paid', 'order_paid', 'order_cancelled']),
          amount_minor: money(),
          currency: 'RUB',
          items: items(),
          placed_channel: placed,
          fulfilled_channel: pick([null, 'courier', 'pickup_point', 'store']),
          identifiers: {
            customer_id: person.customerId,
            email_hash: person.emailHash,
            order_id: order,
            anonymous_id: person.anonymousId,
          },
        }
      }
      case 'ad-cost': {
        const day = Math.floor(time / 86_400_000)
        const campaign = pick(['autumn_sale', 'new_collection', 'retargeting'])
        const source = pick(['yandex_direct', 'vk_ads'])
        return {
          cost_id: `${source}:${campaign}:${day}`,
          date: day,
          channel: 'ads',
          source,
          campaign,
          spend_minor: Math.floor(random() * 5_000_000),
          currency: 'RUB',
          impressions: Math.floor(random() * 100_000),
          clicks: Math.floor(random() * 3_000),
          received_at: time,
        }
      }
      default:
        return envelope
    }
  }

  return () => {
    const family = pickFamily()
    const type = catalog.latest(family)?.type
    if (type === undefined) throw new Error(`no schema for family ${family}`)
    const { value, errors } = completeRecord(type, partial(family, pick(people), now()))
    if (errors.length > 0) throw new Error(`demo ${family} event is invalid: ${errors.join('; ')}`)
    return { family, value } as CapturedEvent
  }
}
