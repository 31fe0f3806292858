/**
 * The parameters of the simulated retailer. Everything the simulator draws from is here, and all of it is written to
 * `truth/parameters.json`, so a model fitted on the generated data can be checked against what generated it.
 */

/** Channels whose touches can cause a purchase; each is switched off in turn to measure its incremental effect. */
export const marketingChannels = ['ads', 'social', 'messenger', 'email', 'sms', 'push'] as const
export type MarketingChannel = (typeof marketingChannels)[number]

export type Segment = 'online_only' | 'store_only' | 'omnichannel'

export const retailModel = {
  /** Share of customers per segment. */
  segments: [
    ['online_only', 0.35],
    ['store_only', 0.25],
    ['omnichannel', 0.4],
  ] as const satisfies readonly (readonly [Segment, number])[],
  /**
   * BG/NBD purchase process (Fader, Hardie and Lee 2005), time in days: each customer's purchase rate
   * λ ~ Gamma(r, α) (shape r, rate α) and dropout probability after each purchase p ~ Beta(a, b).
   */
  purchase: { r: 0.9, alpha: 40, a: 0.8, b: 4 },
  /**
   * Gamma-Gamma spend (Fader, Hardie and Lee 2005): each customer's spend scale ν ~ Gamma(q, γ) (shape q, rate γ) and
   * each order's value ~ Gamma(p, ν), in roubles.
   */
  spend: { p: 6, q: 4, gamma: 1.2, unitRoubles: 1 / 600 },
  /** Touches per customer per day, and the chance a touch causes a purchase the customer would not have made. */
  marketing: {
    ads: { ratePerDay: 0.08, lift: 0.03 },
    social: { ratePerDay: 0.05, lift: 0.025 },
    messenger: { ratePerDay: 0.02, lift: 0.05 },
    email: { ratePerDay: 0.1, lift: 0.015 },
    sms: { ratePerDay: 0.03, lift: 0.01 },
    push: { ratePerDay: 0.05, lift: 0.01 },
  } as const satisfies Record<MarketingChannel, { ratePerDay: number; lift: number }>,
  /** Which marketing channels reach which segment. */
  reach: {
    online_only: ['ads', 'social', 'messenger', 'email', 'push'],
    store_only: ['sms', 'email', 'social'],
    omnichannel: ['ads', 'social', 'messenger', 'email', 'sms', 'push'],
  } as const satisfies Record<Segment, readonly MarketingChannel[]>,
  /** Browsing days without a purchase, per customer per day. */
  browseRatePerDay: { online_only: 0.06, store_only: 0.005, omnichannel: 0.05 } as const satisfies Record<
    Segment,
    number
  >,
  /** Where a purchase happens, per segment. */
  purchaseChannel: {
    online_only: [
      ['web', 0.55],
      ['app', 0.25],
      ['marketplace', 0.2],
    ],
    store_only: [['store', 1]],
    omnichannel: [
      ['web', 0.3],
      ['app', 0.15],
      ['store', 0.35],
      ['marketplace', 0.1],
      ['call_center', 0.1],
    ],
  } as const satisfies Record<Segment, readonly (readonly [string, number])[]>,
  /** Online orders: how they are fulfilled and what goes wrong. */
  fulfilment: { courier: 0.6, pickupPoint: 0.4, cashOnDelivery: 0.5, partialRefusal: 0.1, returnInStore: 0.08 },
  identity: {
    registered: { online_only: 0.8, store_only: 0.3, omnichannel: 0.85 } as const satisfies Record<Segment, number>,
    hasPhone: 0.8,
    hasEmail: 0.9,
    loyaltyCard: { online_only: 0.05, store_only: 0.75, omnichannel: 0.7 } as const satisfies Record<Segment, number>,
    /** Share of customers who share a family device with the next customer. */
    sharedDevice: 0.04,
    /** Share of store receipts scanned with the store's generic card instead of the customer's own. */
    genericCard: 0.05,
    /** Chance a registered customer's app session is logged in, and a site session. */
    loggedInApp: 0.8,
    loggedInWeb: 0.35,
    /** Chance the cashier takes the customer's phone number at the till. */
    phoneAtTill: 0.5,
    /** Share of digital events whose cookie is a junk value. */
    junkCookie: 0.01,
  },
  /** Weekly and seasonal rhythm: intensity multipliers (Monday first; January first). */
  rhythm: {
    weekday: [0.9, 0.9, 0.95, 1, 1.1, 1.3, 1.2],
    month: [0.8, 0.8, 0.9, 0.95, 1, 0.95, 0.9, 0.95, 1, 1.05, 1.3, 1.5],
  },
} as const

/** The store's generic loyalty card that cashiers scan for customers without one. */
export const genericStoreCard = '2770000000000'
/** Junk values that real systems send as identifiers. */
export const junkValues = ['0', 'null', 'undefined', ''] as const
