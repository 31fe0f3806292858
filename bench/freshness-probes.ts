// Probes of the freshness benchmark: a customer made up for the probe browses with a campaign of its own, then logs
// in and orders; the probe is visible when a reader of the API can see that customer and that conversion.
import { randomUUID } from 'node:crypto'
import { emptyIdentifiers, type CapturedEvent } from '../schemas/capture-events.ts'
import type { BenchApi } from './bench-api-server.ts'

const dayMs = 86_400_000

export interface Probe {
  readonly customerId: string
  /** The UTM campaign of the probe's first touch: its path step is `web / <campaign>` when grouped by campaign. */
  readonly campaign: string
  /** UTC midnight of the day the probe happened (epoch milliseconds). */
  readonly day: number
  /** performance.now() just before the probe's events were handed to the producer. */
  readonly sentAt: number
  /** Seconds from sending to the first poll that found the customer in GET /v1/persons/{id}. */
  personsSeconds?: number
  /** Seconds from sending to the first poll that found the conversion in the day's GET /v1/attribution. */
  attributionSeconds?: number
}

const noConsent = {
  analytics: null,
  marketing_email: null,
  marketing_sms: null,
  marketing_push: null,
  personalisation: null,
}

/**
 * The probe's two events, both happening at `now`: an anonymous page view (a cookie of its own, UTM campaign of its
 * own), then an order with that cookie and a new customer id. Only identity resolution puts them into one person, so
 * the conversion's journey starts with the campaign's touch only once the resolver and the journeys have run.
 */
export function probeEvents(
  tag: string,
  number: number,
  now: number,
): { events: CapturedEvent[]; probe: Omit<Probe, 'sentAt'> } {
  const customerId = `probe-${tag}-${number}`
  const campaign = `freshness_probe_${tag}_${number}`
  const cookie = `ck-probe-${tag}-${number}`
  const base = { source: 'site', consent: noConsent }
  const view: CapturedEvent = {
    family: 'digital',
    value: {
      ...base,
      event_id: randomUUID(),
      event_time: now,
      received_at: now,
      channel: 'web',
      event_type: 'page_view',
      identifiers: { ...emptyIdentifiers, anonymous_id: cookie },
      session_id: null,
      page_url: 'https://shop.example/',
      page_title: null,
      referrer: null,
      screen_name: null,
      app_version: null,
      platform: 'web',
      utm: { source: 'probe', medium: 'email', campaign, content: null, term: null },
      click_ids: { gclid: null, yclid: null, fbclid: null },
      product_sku: null,
      search_query: null,
      value_minor: null,
      currency: null,
    },
  }
  const order: CapturedEvent = {
    family: 'order',
    value: {
      ...base,
      source: 'oms',
      event_id: randomUUID(),
      event_time: now + 1,
      received_at: now + 1,
      channel: 'web',
      event_type: 'order_created',
      identifiers: { ...emptyIdentifiers, anonymous_id: cookie, customer_id: customerId, order_id: `O-${customerId}` },
      amount_minor: 100_000,
      currency: 'RUB',
      items: [
        { sku: 'SKU-PROBE', name: null, category: 'home', quantity: 1, price_minor: 100_000, amount_minor: 100_000 },
      ],
      placed_channel: 'web',
      fulfilled_channel: 'courier',
      fulfilment: 'courier',
      promo_code: null,
      discount_minor: 0,
      payment_method: 'card',
    },
  }
  return { events: [view, order], probe: { customerId, campaign, day: Math.floor(now / dayMs) * dayMs } }
}

/**
 * One round of polls: each probe not yet seen in the person endpoint is looked up there (all at once), and the
 * whole-day attribution of each day with probes not yet seen there is read once (first touch, by channel and
 * campaign); a probe is seen when its campaign's step has its conversion. A probe's time is taken at the start of the
 * poll that saw it.
 */
export async function pollProbes(api: BenchApi, probes: readonly Probe[]): Promise<void> {
  // Together, so that a round takes one lookup's time however many probes wait (a lookup that finds nobody is cheap).
  await Promise.all(
    probes
      .filter((probe) => probe.personsSeconds === undefined)
      .map(async (probe) => {
        const started = performance.now()
        const response = await api.get(`/v1/persons/${encodeURIComponent(`customer:${probe.customerId}`)}`)
        if (response.statusCode === 200) probe.personsSeconds = (started - probe.sentAt) / 1000
      }),
  )
  const days = new Set(probes.filter((probe) => probe.attributionSeconds === undefined).map((probe) => probe.day))
  for (const day of days) {
    const started = performance.now()
    const range = `from=${new Date(day).toISOString()}&to=${new Date(day + dayMs).toISOString()}`
    const response = await api.get(`/v1/attribution?${range}&models=first_touch&group_by=channel_campaign`)
    if (response.statusCode !== 200) continue
    const body = JSON.parse(response.body) as {
      models: { channels: { channel: string; conversions: number }[] }[]
    }
    const converted = new Set(
      (body.models[0]?.channels ?? []).filter((credit) => credit.conversions > 0).map((credit) => credit.channel),
    )
    for (const probe of probes) {
      if (probe.day !== day || probe.attributionSeconds !== undefined) continue
      if (converted.has(`web / ${probe.campaign}`)) probe.attributionSeconds = (started - probe.sentAt) / 1000
    }
  }
}
