import type { CaptureFamilies, CapturedEvent, Identifiers, LineItem } from '../../schemas/capture-events.ts'
import type { IdentifierHasher } from '../identifier-hashing.ts'
import { simulatedEventId } from './event-ids.ts'
import { beta, exponential, gamma, hex, mixSeed, pick, stream, weighted, type Random } from './random.ts'
import {
  genericStoreCard,
  junkValues,
  marketingChannels,
  retailModel,
  type MarketingChannel,
  type Segment,
} from './retail-model.ts'

const dayMs = 86_400_000

export interface SimulationOptions {
  readonly customers: number
  readonly days: number
  readonly seed: number
  /** Epoch milliseconds of day 0 (default 2026-01-01T00:00:00Z). */
  readonly start?: number
  /** A marketing channel switched off: its touches and the purchases they cause do not happen. */
  readonly disabled?: MarketingChannel
  readonly hasher: IdentifierHasher
  /** Simulate only customers [from, to) of the run (a shard); default: all. */
  readonly range?: { readonly from: number; readonly to: number }
  /** Also emit what belongs to the whole run: ad costs and the identity truth of shared and junk values (default true). */
  readonly trailers?: boolean
}

/** What is true about one simulated customer. */
export interface CustomerTruth {
  person_id: string
  segment: Segment
  birth_day: number
  /** Purchase rate per day (BG/NBD λ). */
  lambda: number
  /** Dropout probability after each purchase (BG/NBD p). */
  dropout_p: number
  /** The day the customer became inactive, or null if still active at the end. */
  dropout_day: number | null
  /** Gamma-Gamma spend scale ν (rate of the order value's gamma, per rouble). */
  spend_nu: number
  /** Mean order value in roubles, p / ν. */
  mean_order_roubles: number
  organic_purchases: number
  incremental_purchases: Partial<Record<MarketingChannel, number>>
  revenue_minor: number
}

/** The person or people truly behind an identifier as it appears in events. */
export interface IdentityTruth {
  kind: keyof Identifiers
  value: string
  person_ids: string[]
  note: 'own' | 'shared_device' | 'generic_store_card' | 'junk'
}

export interface SimulationSink {
  event(event: CapturedEvent): void
  customer?(truth: CustomerTruth): void
  identity?(truth: IdentityTruth): void
}

export interface SimulationTotals {
  /** People who used the store's generic card, for the identity truth written with the trailers. */
  generic_card_users: string[]
  events: number
  conversions: number
  revenue_minor: number
  conversions_by_channel: Record<string, number>
}

interface Person {
  id: string
  index: number
  segment: Segment
  cookies: string[]
  device: string | null
  customerId: string | null
  emailHash: string | null
  phoneHash: string | null
  card: string | null
  /** Whether the loyalty card has been used at a till yet (its first receipt is its enrolment). */
  cardEnrolled: boolean
}

/** Identifiers with every field present, so every event's identifiers have the same shape (fast in V8). */
function idsOf(fields: Partial<Identifiers>): Identifiers {
  return {
    anonymous_id: fields.anonymous_id ?? null,
    device_id: fields.device_id ?? null,
    customer_id: fields.customer_id ?? null,
    email_hash: fields.email_hash ?? null,
    phone_hash: fields.phone_hash ?? null,
    loyalty_card: fields.loyalty_card ?? null,
    order_id: fields.order_id ?? null,
  }
}

const blankClickIds = { gclid: null, yclid: null, fbclid: null }
const blankConsent = {
  analytics: null,
  marketing_email: null,
  marketing_sms: null,
  marketing_push: null,
  personalisation: null,
}
const blankUtm = { source: null, medium: null, campaign: null, content: null, term: null }
const socialPlatforms = ['vk', 'ok'] as const
const messengerPlatforms = ['telegram', 'whatsapp', 'max'] as const
const messagingTypes = ['delivered', 'opened', 'clicked'] as const
const campaignNames = ['autumn_sale', 'new_collection', 'retargeting', 'loyalty'] as const
const marketplaces = ['ozon', 'wildberries', 'yandex_market'] as const
const storePayments = ['card', 'card', 'sbp', 'cash', 'mir_pay'] as const
const categories = ['shoes', 'clothes', 'accessories', 'home', 'beauty', 'kids'] as const
const phoneFormats = [
  (d: string) => `+7 (${d.slice(1, 4)}) ${d.slice(4, 7)}-${d.slice(7, 9)}-${d.slice(9)}`,
  (d: string) => `8${d.slice(1)}`,
  (d: string) => `${d.slice(1, 4)} ${d.slice(4, 7)} ${d.slice(7)}`,
  (d: string) => `+${d}`,
]

export function emptyTotals(): SimulationTotals {
  return { generic_card_users: [], events: 0, conversions: 0, revenue_minor: 0, conversions_by_channel: {} }
}

/**
 * BG/NBD's purchase process (Fader, Hardie and Lee 2005) for one customer: a first purchase at `birth`, then purchases
 * at `rate` per unit of time until `end`; after each repeat purchase the customer drops out for good with probability
 * `dropoutP` (never at the first purchase: that would be MBG/NBD). Returns the purchase times and when the customer
 * dropped out (`end` if they did not).
 */
export function purchaseTimes(
  random: Random,
  rate: number,
  dropoutP: number,
  birth: number,
  end: number,
): { times: number[]; dropout: number } {
  const times = [birth]
  for (let time = birth; ;) {
    time += exponential(random, rate)
    if (time >= end) return { times, dropout: end }
    times.push(time)
    if (random() < dropoutP) return { times, dropout: time }
  }
}

/**
 * Simulates an omnichannel retailer: each customer's identities, organic purchases from a BG/NBD process with
 * Gamma-Gamma spend, marketing touches that cause extra (incremental) purchases, browsing, fulfilment by courier or
 * pickup point, store visits, marketplace orders, returns, and daily ad costs. Events go to the sink customer by
 * customer, each customer's in time order. Deterministic for a seed; see docs/SIMULATOR.md.
 */
export function simulate(options: SimulationOptions, sink: SimulationSink): SimulationTotals {
  const start = options.start ?? Date.parse('2026-01-01T00:00:00Z')
  const end = start + options.days * dayMs
  const totals = emptyTotals()
  const hashCache = new Map<string, string | null>()
  const hashed = (kind: 'email' | 'phone', raw: string): string | null => {
    const key = `${kind}:${raw}`
    let value = hashCache.get(key)
    if (value === undefined) {
      value = kind === 'email' ? options.hasher.email(raw) : options.hasher.phone(raw)
      hashCache.set(key, value)
    }
    return value
  }
  const emit = (event: CapturedEvent) => {
    totals.events += 1
    sink.event(event)
  }
  const rhythm = (time: number) => {
    const date = new Date(time)
    return (
      (retailModel.rhythm.weekday[(date.getUTCDay() + 6) % 7] ?? 1) *
      (retailModel.rhythm.month[date.getUTCMonth()] ?? 1)
    )
  }
  const maxRhythm = Math.max(...retailModel.rhythm.weekday) * Math.max(...retailModel.rhythm.month)
  /** Times of a Poisson process of `ratePerDay` between `from` and `end`, thinned by the weekly and seasonal rhythm. */
  const poissonTimes = (random: Random, ratePerDay: number, from: number): number[] => {
    const times: number[] = []
    let time = from
    for (;;) {
      time += exponential(random, ratePerDay * maxRhythm) * dayMs
      if (time >= end) return times
      if (random() < rhythm(time) / maxRhythm) times.push(time)
    }
  }
  const genericUsers = new Set<string>()
  const segmentOf = (customer: number) => weighted(stream(options.seed, customer, 1), retailModel.segments)
  const from = options.range?.from ?? 0
  const to = options.range?.to ?? options.customers
  for (let index = from; index < to; index += 1) {
    const idRandom = stream(options.seed, index, 1)
    const personId = `P${String(index + 1).padStart(7, '0')}`
    let eventNumber = 0
    /**
     * The next event id of this customer, unique by construction (see event-ids.ts). The stream still advances by
     * the four draws the id once took from it, so every other value of a seed's run stays what it was.
     */
    const eventId = (random: Random): string => {
      for (let draw = 0; draw < 4; draw += 1) random()
      const id = simulatedEventId(options.seed, index, eventNumber)
      eventNumber += 1
      return id
    }
    const segment = weighted(idRandom, retailModel.segments)
    const online = segment !== 'store_only'
    const registered = idRandom() < retailModel.identity.registered[segment]
    const phoneDigits = `79${String(Math.floor(idRandom() * 1e9)).padStart(9, '0')}`
    const hasPhone = idRandom() < retailModel.identity.hasPhone
    // Registered customers give an e-mail with the account; others only through the site's newsletter form.
    const hasEmail =
      idRandom() < (registered ? retailModel.identity.hasEmail : online ? retailModel.identity.guestEmail : 0)
    const cookies = online
      ? Array.from({ length: 1 + Math.floor(idRandom() * 3) }, () => `ck-${hex(idRandom, 16)}`)
      : []
    let device: string | null = online && idRandom() < 0.5 ? `dev-${hex(idRandom, 16)}` : null
    // Customers 2k and 2k+1 are sometimes one family sharing a device; each can tell from the pair's own stream.
    const pairBase = index - (index % 2)
    const familyDevice =
      pairBase + 1 < options.customers &&
      stream(options.seed, pairBase, 5)() < retailModel.identity.sharedDevice &&
      segmentOf(pairBase) !== 'store_only' &&
      segmentOf(pairBase + 1) !== 'store_only'
    if (familyDevice) device = `dev-fam-${hex(stream(options.seed, pairBase, 6), 16)}`
    const person: Person = {
      id: personId,
      index,
      segment,
      cookies,
      device,
      customerId: registered ? `C${String(100000 + index)}` : null,
      emailHash: hasEmail ? hashed('email', `customer${index}@mail.example`) : null,
      phoneHash: hasPhone ? hashed('phone', pick(idRandom, phoneFormats)(phoneDigits)) : null,
      card: idRandom() < retailModel.identity.loyaltyCard[segment] ? `2770${String(index + 1).padStart(9, '0')}` : null,
      cardEnrolled: false,
    }
    if (sink.identity) {
      for (const cookie of cookies)
        sink.identity({ kind: 'anonymous_id', value: cookie, person_ids: [personId], note: 'own' })
      if (device !== null && !familyDevice) {
        sink.identity({ kind: 'device_id', value: device, person_ids: [personId], note: 'own' })
      } else if (device !== null && index === pairBase) {
        const partner = `P${String(index + 2).padStart(7, '0')}`
        sink.identity({ kind: 'device_id', value: device, person_ids: [personId, partner], note: 'shared_device' })
      }
      if (person.customerId !== null)
        sink.identity({ kind: 'customer_id', value: person.customerId, person_ids: [personId], note: 'own' })
      if (person.emailHash !== null)
        sink.identity({ kind: 'email_hash', value: person.emailHash, person_ids: [personId], note: 'own' })
      if (person.phoneHash !== null)
        sink.identity({ kind: 'phone_hash', value: person.phoneHash, person_ids: [personId], note: 'own' })
      if (person.card !== null)
        sink.identity({ kind: 'loyalty_card', value: person.card, person_ids: [personId], note: 'own' })
    }

    // The purchase process (BG/NBD) and spend (Gamma-Gamma), from their own stream.
    const processRandom = stream(options.seed, index, 2)
    const birth = start + Math.floor(processRandom() * options.days * 0.5) * dayMs + Math.floor(processRandom() * dayMs)
    const lambda = gamma(processRandom, retailModel.purchase.r, retailModel.purchase.alpha)
    const dropoutP = beta(processRandom, retailModel.purchase.a, retailModel.purchase.b)
    const nu = gamma(processRandom, retailModel.spend.q, retailModel.spend.gamma) * retailModel.spend.unitRoubles
    const { times: organic, dropout } = purchaseTimes(processRandom, lambda / dayMs, dropoutP, birth, end)
    const truth: CustomerTruth = {
      person_id: personId,
      segment,
      birth_day: Math.floor((birth - start) / dayMs),
      lambda,
      dropout_p: dropoutP,
      dropout_day: dropout < end ? Math.floor((dropout - start) / dayMs) : null,
      spend_nu: nu,
      mean_order_roubles: retailModel.spend.p / nu,
      organic_purchases: organic.length,
      incremental_purchases: {},
      revenue_minor: 0,
    }

    // Everything that happens to this customer, gathered, then emitted in time order.
    const happenings: { time: number; run: () => void }[] = []
    const purchase = (time: number, key: number) => {
      happenings.push({ time, run: () => purchaseJourney(person, time, stream(options.seed, index, key)) })
    }
    organic.forEach((time, k) => purchase(time, 1000 + k))

    // How the retailer first learns who the customer is online: the account's sign-up, or the newsletter form.
    if (online) {
      const firstRandom = stream(options.seed, index, 7)
      const signUp = registered && firstRandom() < retailModel.identity.signUpOnline[segment]
      const time = birth - (5 + firstRandom() * 55) * 60_000
      if (signUp) happenings.push({ time, run: () => signUpOnline(person, time, firstRandom) })
      else if (!registered && person.emailHash !== null) {
        happenings.push({ time, run: () => subscribe(person, time, firstRandom) })
      }
    }

    for (const [channelIndex, channel] of marketingChannels.entries()) {
      if (!(retailModel.reach[segment] as readonly string[]).includes(channel)) continue
      // A message needs an address: an e-mail, a phone, the app.
      if (channel === 'email' && person.emailHash === null) continue
      if (channel === 'sms' && person.phoneHash === null) continue
      if (channel === 'push' && person.device === null) continue
      const random = stream(options.seed, index, 100 + channelIndex)
      const touches = poissonTimes(random, retailModel.marketing[channel].ratePerDay, birth)
      touches.forEach((time, j) => {
        const causes = random() < retailModel.marketing[channel].lift && time < dropout
        const delay = (0.1 + random() * 2) * 3_600_000
        if (channel === options.disabled) return
        const touchRandom = stream(options.seed, index, mixSeed(200 + channelIndex, j))
        happenings.push({ time, run: () => touch(person, time, channel, touchRandom) })
        if (causes && time + delay < end) {
          truth.incremental_purchases[channel] = (truth.incremental_purchases[channel] ?? 0) + 1
          purchase(time + delay, mixSeed(300 + channelIndex, j))
        }
      })
    }
    if (online) {
      const browseRandom = stream(options.seed, index, 3)
      for (const time of poissonTimes(browseRandom, retailModel.browseRatePerDay[segment], birth)) {
        if (time > dropout + 30 * dayMs) break
        const sessionRandom = stream(options.seed, index, mixSeed(4, Math.floor(time)))
        happenings.push({ time, run: () => browse(person, time, sessionRandom) })
      }
    }
    happenings.sort((a, b) => a.time - b.time)
    const revenueBefore = totals.revenue_minor
    for (const happening of happenings) happening.run()
    truth.revenue_minor = totals.revenue_minor - revenueBefore
    sink.customer?.(truth)

    // --- the pieces of a customer's life ---------------------------------------------------------------------

    function cookieOf(p: Person, random: Random): string | null {
      if (p.cookies.length === 0) return null
      if (random() < retailModel.identity.junkCookie) return pick(random, junkValues)
      return pick(random, p.cookies)
    }

    function digital(
      random: Random,
      time: number,
      channel: 'web' | 'app',
      eventType: string,
      ids: Identifiers,
      extra: Partial<CaptureFamilies['digital']>,
    ) {
      emit({
        family: 'digital',
        value: {
          event_id: eventId(random),
          event_time: Math.floor(time),
          received_at: Math.floor(time) + 500 + Math.floor(random() * 4000),
          channel,
          event_type: eventType as CaptureFamilies['digital']['event_type'],
          source: channel === 'web' ? 'site' : 'app',
          identifiers: ids,
          consent: blankConsent,
          session_id: null,
          page_url: extra.page_url ?? null,
          page_title: null,
          referrer: null,
          screen_name: extra.screen_name ?? null,
          app_version: null,
          platform: channel === 'web' ? 'web' : 'android',
          utm: extra.utm ?? blankUtm,
          click_ids: extra.click_ids ?? blankClickIds,
          product_sku: extra.product_sku ?? null,
          search_query: null,
          value_minor: extra.value_minor ?? null,
          currency: extra.currency ?? null,
        },
      })
    }

    /**
     * A browsing session; a purchase's session passes the channel it buys in and, on the site, the browser's cookie,
     * as one session happens in one browser.
     */
    function browse(
      p: Person,
      time: number,
      random: Random,
      session?: { channel: 'web' | 'app'; cookie: string | null },
    ): void {
      const channel: 'web' | 'app' = session?.channel ?? (p.device !== null && random() < 0.4 ? 'app' : 'web')
      // Registered customers stay logged in to the app; on the site they log in now and then.
      const loggedIn =
        p.customerId !== null &&
        random() < (channel === 'app' ? retailModel.identity.loggedInApp : retailModel.identity.loggedInWeb)
      const ids =
        channel === 'app'
          ? idsOf({ device_id: p.device, customer_id: loggedIn ? p.customerId : null })
          : idsOf({
              anonymous_id: session ? session.cookie : cookieOf(p, random),
              customer_id: loggedIn ? p.customerId : null,
            })
      const views = 1 + Math.floor(random() * 4)
      let t = time
      for (let i = 0; i < views; i += 1) {
        const sku = `SKU-${hex(random, 5)}`
        digital(
          random,
          t,
          channel,
          i === 0 && channel === 'app' ? 'screen_view' : 'product_view',
          ids,
          channel === 'web'
            ? { page_url: `https://shop.example/p/${sku}`, product_sku: sku }
            : { screen_name: 'product', product_sku: sku },
        )
        t += (20 + random() * 120) * 1000
      }
    }

    /** The account's first page or screen: the new customer id with the form's e-mail and phone. */
    function signUpOnline(p: Person, time: number, random: Random): void {
      const inApp = p.device !== null && random() < 0.4
      const ids = idsOf({
        customer_id: p.customerId,
        email_hash: p.emailHash,
        phone_hash: p.phoneHash,
        anonymous_id: inApp ? null : cookieOf(p, random),
        device_id: inApp ? p.device : null,
      })
      if (inApp) digital(random, time, 'app', 'screen_view', ids, { screen_name: 'account_created' })
      else digital(random, time, 'web', 'page_view', ids, { page_url: 'https://shop.example/account/welcome' })
    }

    /** The site's newsletter form, sent by a visitor without an account. */
    function subscribe(p: Person, time: number, random: Random): void {
      const ids = idsOf({ anonymous_id: cookieOf(p, random), email_hash: p.emailHash })
      digital(random, time, 'web', 'lead_form', ids, { page_url: 'https://shop.example/newsletter' })
    }

    function items(random: Random, total: number): LineItem[] {
      const count = 1 + Math.floor(random() * 3)
      const out: LineItem[] = []
      let left = total
      for (let i = 0; i < count; i += 1) {
        const amount = i === count - 1 ? left : Math.floor((left * (0.3 + random() * 0.4)) / 100) * 100
        left -= amount
        out.push({
          sku: `SKU-${hex(random, 5)}`,
          name: null,
          category: pick(random, categories),
          quantity: 1,
          price_minor: amount,
          amount_minor: amount,
        })
      }
      return out
    }

    function touch(p: Person, time: number, channel: MarketingChannel, random: Random): void {
      const campaign = pick(random, campaignNames)
      switch (channel) {
        case 'ads':
        case 'social': {
          const platform = channel === 'ads' ? 'yandex_direct' : pick(random, socialPlatforms)
          const ids = idsOf({
            anonymous_id: cookieOf(p, random),
            device_id: p.cookies.length === 0 ? p.device : null,
          })
          const type = random() < 0.7 ? 'ad_impression' : 'ad_click'
          const utm = { source: platform, medium: 'cpc', campaign, content: null, term: null }
          emit({
            family: 'social',
            value: {
              event_id: eventId(random),
              event_time: Math.floor(time),
              received_at: Math.floor(time) + 500 + Math.floor(random() * 4000),
              channel: channel,
              event_type: type,
              source: platform,
              identifiers: ids,
              consent: blankConsent,
              platform,
              account_id: null,
              campaign_id: campaign,
              ad_id: `ad-${hex(random, 6)}`,
              post_id: null,
              conversation_id: null,
              direction: null,
              utm,
            },
          })
          // A click lands on the site in the browser that saw the ad, logged in as any site visit is.
          if (type === 'ad_click' && ids.anonymous_id !== null && random() < retailModel.identity.adClickLanding) {
            const loggedIn = p.customerId !== null && random() < retailModel.identity.loggedInWeb
            const landingIds = idsOf({ anonymous_id: ids.anonymous_id, customer_id: loggedIn ? p.customerId : null })
            const clickId = hex(random, 16)
            digital(random, time + (2 + random() * 10) * 1000, 'web', 'page_view', landingIds, {
              page_url: `https://shop.example/?utm_source=${platform}&utm_medium=cpc&utm_campaign=${campaign}`,
              utm,
              click_ids: { gclid: null, yclid: channel === 'ads' ? clickId : null, fbclid: null },
            })
          }
          return
        }
        case 'messenger': {
          const platform = pick(random, messengerPlatforms)
          emit({
            family: 'social',
            value: {
              event_id: eventId(random),
              event_time: Math.floor(time),
              received_at: Math.floor(time) + 500 + Math.floor(random() * 4000),
              channel: 'messenger',
              event_type: random() < 0.5 ? 'message' : 'chat_started',
              source: platform,
              identifiers: idsOf({ phone_hash: p.phoneHash }),
              consent: blankConsent,
              platform,
              account_id: 'shop_bot',
              campaign_id: campaign,
              ad_id: null,
              post_id: null,
              conversation_id: `chat-${p.index}`,
              direction: 'outbound',
              utm: blankUtm,
            },
          })
          return
        }
        default: {
          // Pushes go to the app's device, named by the customer id when the app is logged in.
          const appLoggedIn = channel === 'push' && p.customerId !== null && random() < retailModel.identity.loggedInApp
          const ids =
            channel === 'push'
              ? idsOf({ device_id: p.device, customer_id: appLoggedIn ? p.customerId : null })
              : idsOf({
                  email_hash: channel === 'email' ? p.emailHash : null,
                  phone_hash: channel === 'sms' ? p.phoneHash : null,
                  customer_id: p.customerId,
                })
          const type = pick(random, messagingTypes)
          const utm = { source: channel, medium: channel, campaign, content: null, term: null }
          emit({
            family: 'messaging',
            value: {
              event_id: eventId(random),
              event_time: Math.floor(time),
              received_at: Math.floor(time) + 500 + Math.floor(random() * 4000),
              channel: channel,
              event_type: type,
              source: 'crm',
              identifiers: ids,
              consent: blankConsent,
              campaign_id: campaign,
              provider_message_id: `msg-${hex(random, 10)}`,
              provider: channel === 'email' ? 'unisender' : channel === 'sms' ? 'smsc' : 'firebase',
              link_url: null,
              utm,
            },
          })
          const landing = time + (5 + random() * 55) * 1000
          if (channel === 'push' && type !== 'delivered') {
            digital(random, landing, 'app', 'push_open', ids, { screen_name: campaign, utm })
          } else if (
            channel !== 'push' &&
            type === 'clicked' &&
            p.cookies.length > 0 &&
            random() <
              (channel === 'email'
                ? retailModel.identity.emailClickIdentifies
                : retailModel.identity.smsClickIdentifies)
          ) {
            // The link's subscriber token names the e-mail or the phone the message went to.
            const landingIds = idsOf({
              anonymous_id: cookieOf(p, random),
              email_hash: channel === 'email' ? p.emailHash : null,
              phone_hash: channel === 'sms' ? p.phoneHash : null,
            })
            digital(random, landing, 'web', 'page_view', landingIds, {
              page_url: `https://shop.example/?utm_source=${channel}&utm_medium=${channel}&utm_campaign=${campaign}`,
              utm,
            })
          }
        }
      }
    }

    function convert(channel: string, amount: number): void {
      totals.conversions += 1
      totals.revenue_minor += amount
      totals.conversions_by_channel[channel] = (totals.conversions_by_channel[channel] ?? 0) + 1
    }

    function purchaseJourney(p: Person, time: number, random: Random): void {
      const roubles = gamma(random, retailModel.spend.p, nu)
      const amount = Math.max(100, Math.round(roubles) * 100)
      const where = weighted(random, retailModel.purchaseChannel[p.segment]) as string
      const orderId = `O${hex(random, 12)}`
      const lines = items(random, amount)
      if (where === 'store') {
        storeVisit(p, time, random, lines, amount)
        return
      }
      if (where === 'marketplace') {
        const name = pick(random, marketplaces)
        const ids = idsOf({ phone_hash: random() < 0.3 ? p.phoneHash : null })
        for (const [offset, type] of [
          [0, 'order_created'],
          [60_000, 'order_paid'],
        ] as const) {
          emit({
            family: 'marketplace',
            value: {
              event_id: eventId(random),
              event_time: Math.floor(time + offset),
              received_at: Math.floor(time + offset) + 500 + Math.floor(random() * 4000),
              channel: 'marketplace',
              event_type: type,
              source: name,
              identifiers: ids,
              consent: blankConsent,
              marketplace: name,
              marketplace_order_id: `M${orderId}`,
              items: lines,
              amount_minor: amount,
              currency: 'RUB',
            },
          })
        }
        convert('marketplace', amount)
        return
      }
      // Only customers with the app order in it; the others place those orders on the site.
      const placed = (where === 'app' && p.device === null ? 'web' : where) as 'web' | 'app' | 'call_center'
      let t = time - 15 * 60_000
      let cookie: string | null = null
      if (placed === 'call_center') {
        const ids = idsOf({ phone_hash: p.phoneHash })
        emit({
          family: 'call',
          value: {
            event_id: eventId(random),
            event_time: Math.floor(t),
            received_at: Math.floor(t) + 500 + Math.floor(random() * 4000),
            channel: 'call_center',
            event_type: 'call_ended',
            source: 'pbx',
            identifiers: ids,
            consent: blankConsent,
            call_id: `call-${hex(random, 8)}`,
            tracking_number: '78005550101',
            duration_seconds: 60 + Math.floor(random() * 400),
            outcome: 'answered',
            agent_id: `op-${1 + Math.floor(random() * 20)}`,
            first_call: null,
            utm: blankUtm,
          },
        })
      } else {
        // One session in one browser (or the app): browsing, cart, checkout and the order carry the same cookie.
        if (placed === 'web') cookie = cookieOf(p, random)
        browse(p, t, random, { channel: placed, cookie })
        t += 10 * 60_000
        const ids =
          placed === 'app'
            ? idsOf({ device_id: p.device, customer_id: p.customerId })
            : idsOf({ anonymous_id: cookie, customer_id: p.customerId })
        digital(random, t, placed, 'add_to_cart', ids, {})
        digital(random, t + 60_000, placed, 'checkout_start', ids, { value_minor: amount, currency: 'RUB' })
      }
      // The order carries what its channel sends (the site's cookie, the app's device id), the contacts of the account
      // or of the guest checkout, and the loyalty card bound to the account when bonuses accrue online.
      const cardOnOrder =
        placed !== 'call_center' &&
        p.customerId !== null &&
        p.card !== null &&
        random() < retailModel.identity.cardOnOnlineOrders
      const orderIds = idsOf({
        customer_id: p.customerId,
        email_hash: p.emailHash,
        phone_hash: p.phoneHash,
        order_id: orderId,
        anonymous_id: placed === 'web' ? cookie : null,
        device_id: placed === 'app' ? p.device : null,
        loyalty_card: cardOnOrder ? p.card : null,
      })
      const courier = random() < retailModel.fulfilment.courier
      const cod = courier && random() < retailModel.fulfilment.cashOnDelivery
      const order = (when: number, type: string, value: number) =>
        emit({
          family: 'order',
          value: {
            event_id: eventId(random),
            event_time: Math.floor(when),
            received_at: Math.floor(when) + 500 + Math.floor(random() * 4000),
            channel: placed,
            event_type: type as CaptureFamilies['order']['event_type'],
            source: 'oms',
            identifiers: orderIds,
            consent: blankConsent,
            amount_minor: value,
            currency: 'RUB',
            items: lines,
            placed_channel: placed,
            fulfilled_channel: courier ? 'courier' : 'pickup_point',
            fulfilment: courier ? 'courier' : 'pickup_point',
            promo_code: random() < 0.15 ? 'AUTUMN10' : null,
            discount_minor: 0,
            payment_method: cod ? 'cash' : 'card',
          },
        })
      order(time, 'order_created', amount)
      if (!cod) {
        order(time + 60_000, 'order_paid', amount)
        convert(placed, amount)
      }
      const delivery = time + (1 + Math.floor(random() * 3)) * dayMs
      const fulfilIds = idsOf({ order_id: orderId, phone_hash: p.phoneHash })
      if (courier) {
        const refuse = random() < retailModel.fulfilment.partialRefusal && lines.length > 1
        const refused = refuse ? lines.slice(-1) : []
        const paid = amount - refused.reduce((sum, line) => sum + line.amount_minor, 0)
        const deliveryEvent = (when: number, type: string, extra: Partial<CaptureFamilies['delivery']>) =>
          emit({
            family: 'delivery',
            value: {
              event_id: eventId(random),
              event_time: Math.floor(when),
              received_at: Math.floor(when) + 500 + Math.floor(random() * 4000),
              channel: 'courier',
              event_type: type as CaptureFamilies['delivery']['event_type'],
              source: 'tms',
              identifiers: fulfilIds,
              consent: blankConsent,
              delivery_id: `D${orderId}`,
              courier_service: 'own_fleet',
              courier_id: null,
              amount_minor: extra.amount_minor ?? amount,
              currency: 'RUB',
              payment_method: cod ? 'cash' : 'card',
              refused_items: extra.refused_items ?? [],
            },
          })
        deliveryEvent(delivery - 3_600_000, 'courier_assigned', {})
        if (refuse) deliveryEvent(delivery, 'partial_refusal', { refused_items: refused, amount_minor: paid })
        else deliveryEvent(delivery, 'delivered', {})
        if (cod) {
          deliveryEvent(delivery + 60_000, 'paid_on_delivery', { amount_minor: paid })
          order(delivery + 60_000, 'order_paid', paid)
          convert(placed, paid)
        } else if (refuse) {
          order(delivery + 60_000, 'order_refunded', amount - paid)
        }
      } else {
        const point = `pp-${1 + Math.floor(random() * 30)}`
        const pickupEvent = (when: number, type: string) =>
          emit({
            family: 'pickup',
            value: {
              event_id: eventId(random),
              event_time: Math.floor(when),
              received_at: Math.floor(when) + 500 + Math.floor(random() * 4000),
              channel: 'pickup_point',
              event_type: type as CaptureFamilies['pickup']['event_type'],
              source: 'pos',
              identifiers: fulfilIds,
              consent: blankConsent,
              pickup_point_id: point,
              items: type === 'returned_in_store' ? lines.slice(0, 1) : [],
              amount_minor: type === 'returned_in_store' ? (lines[0]?.amount_minor ?? 0) : amount,
              currency: 'RUB',
              payment_method: null,
            },
          })
        pickupEvent(delivery, 'order_ready')
        pickupEvent(delivery + (2 + random() * 48) * 3_600_000, random() < 0.1 ? 'curbside_pickup' : 'picked_up')
        if (random() < retailModel.fulfilment.returnInStore) {
          const back = delivery + (3 + random() * 10) * dayMs
          pickupEvent(back, 'returned_in_store')
          order(back, 'order_refunded', lines[0]?.amount_minor ?? 0)
        }
      }
    }

    function storeVisit(p: Person, time: number, random: Random, lines: LineItem[], amount: number): void {
      const generic =
        p.card === null ? random() < retailModel.identity.genericCard * 4 : random() < retailModel.identity.genericCard
      const card = generic ? genericStoreCard : p.card
      // A card's first receipt is its enrolment, and cards are issued against a phone number.
      const enrolment = card !== null && !generic && !p.cardEnrolled
      if (enrolment) p.cardEnrolled = true
      const phoneAtTill = random() < retailModel.identity.phoneAtTill
      const ids = idsOf({
        loyalty_card: card,
        phone_hash:
          phoneAtTill || (enrolment && random() < retailModel.identity.cardEnrolmentPhone) ? p.phoneHash : null,
      })
      const store = `store-${1 + Math.floor(random() * 12)}`
      const receipt = (
        when: number,
        type: 'pos_receipt' | 'pos_return',
        receiptItems: LineItem[],
        total: number,
        original: string | null,
      ): string => {
        const number = `R${hex(random, 10)}`
        emit({
          family: 'receipt',
          value: {
            event_id: eventId(random),
            event_time: Math.floor(when),
            received_at: Math.floor(when) + 500 + Math.floor(random() * 4000),
            channel: 'store',
            event_type: type,
            source: 'pos',
            identifiers: ids,
            consent: blankConsent,
            store_id: store,
            terminal_id: `T${1 + Math.floor(random() * 4)}`,
            cashier_id: `K${1 + Math.floor(random() * 30)}`,
            receipt_number: number,
            items: receiptItems,
            total_minor: total,
            discount_minor: 0,
            currency: 'RUB',
            payment_method: pick(random, storePayments),
            acquirer: 'sber',
            promo_code: null,
            original_receipt_number: original,
          },
        })
        return number
      }
      const sale = receipt(time, 'pos_receipt', lines, amount, null)
      convert('store', amount)
      if (random() < retailModel.fulfilment.returnInStore) {
        const back = lines.slice(0, 1)
        receipt(time + (2 + random() * 12) * dayMs, 'pos_return', back, back[0]?.amount_minor ?? 0, sale)
      }
      if (generic) genericUsers.add(p.id)
    }
  }

  totals.generic_card_users = [...genericUsers]
  if (options.trailers !== false) emitTrailers(options, totals.generic_card_users, sink, emit)
  return totals
}

/**
 * What belongs to the whole run rather than to a customer: the identity truth of the generic store card and of junk
 * values, and the daily ad costs.
 */
export function emitTrailers(
  options: SimulationOptions,
  genericCardUsers: readonly string[],
  sink: SimulationSink,
  emit: (event: CapturedEvent) => void = (event) => sink.event(event),
): void {
  if (genericCardUsers.length > 0) {
    sink.identity?.({
      kind: 'loyalty_card',
      value: genericStoreCard,
      person_ids: [...genericCardUsers].sort(),
      note: 'generic_store_card',
    })
  }
  for (const value of junkValues) sink.identity?.({ kind: 'anonymous_id', value, person_ids: [], note: 'junk' })
  adCosts(options, options.start ?? Date.parse('2026-01-01T00:00:00Z'), emit)
}

/** Daily costs of the paid channels' campaigns; none for a channel that is switched off. */
function adCosts(options: SimulationOptions, start: number, emit: (event: CapturedEvent) => void): void {
  const campaigns = ['autumn_sale', 'new_collection', 'retargeting', 'loyalty']
  for (let day = 0; day < options.days; day += 1) {
    const random = stream(options.seed, -1, day)
    for (const [channel, source] of [
      ['ads', 'yandex_direct'],
      ['social', 'vk_ads'],
    ] as const) {
      for (const campaign of campaigns) {
        const spend = Math.round((2000 + random() * 8000) * (options.customers / 1000)) * 100
        if (channel === options.disabled) continue
        const date = Math.floor(start / dayMs) + day
        emit({
          family: 'ad-cost',
          value: {
            cost_id: `${source}:${campaign}:${date}`,
            date,
            channel,
            source,
            medium: 'cpc',
            campaign,
            campaign_id: null,
            spend_minor: spend,
            currency: 'RUB',
            impressions: Math.floor(spend / 10),
            clicks: Math.floor(spend / 400),
            received_at: start + (day + 1) * dayMs,
          },
        })
      }
    }
  }
}
