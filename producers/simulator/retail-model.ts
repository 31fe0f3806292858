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
  /**
   * Which marketing channels reach which segment. A message needs an address on file: e-mail only customers with an
   * e-mail, SMS only those with a phone, push only those with the app (pushes go to the app's device, with the
   * customer id when the app is logged in; an opened push also reports `push_open` from the app).
   */
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
    /** Chance a registered customer's account has an e-mail. */
    hasEmail: 0.9,
    /**
     * Chance an unregistered online customer leaves an e-mail all the same: the site's newsletter form (a `lead_form`
     * with the visitor's cookie and the e-mail) on the first day; guest orders then carry it for the e-receipt and
     * e-mail campaigns reach it. Store-only customers without an account have none on file.
     */
    guestEmail: 0.4,
    loyaltyCard: { online_only: 0.05, store_only: 0.75, omnichannel: 0.7 } as const satisfies Record<Segment, number>,
    /** Share of customers who share a family device with the next customer. */
    sharedDevice: 0.04,
    /** Share of store receipts scanned with the store's generic card instead of the customer's own. */
    genericCard: 0.05,
    /** Chance a registered customer's app session is logged in, and a site session. */
    loggedInApp: 0.8,
    loggedInWeb: 0.35,
    /**
     * Chance an ad click's landing `page_view` is recorded (the rest leave before the site's tracker loads or refuse
     * analytics consent). It carries the browser's cookie, utm medium cpc and, for Yandex Direct, the yclid, and the
     * customer id when that visit is logged in (`loggedInWeb`).
     */
    adClickLanding: 0.8,
    /** Chance the cashier takes the customer's phone number at the till. */
    phoneAtTill: 0.5,
    /**
     * Share of registered online customers who create their account on the site or in the app (the rest were signed
     * up by a cashier with their loyalty card). The account's first page (or screen) carries the new customer id with
     * the e-mail and phone of the form, and the browser's cookie (or the app's device id), an hour or less before the
     * first purchase.
     */
    signUpOnline: { online_only: 1, store_only: 0, omnichannel: 0.7 } as const satisfies Record<Segment, number>,
    /**
     * Chance a loyalty card's first receipt (its enrolment: cards are issued against a phone number) carries the
     * customer's phone with the card; later receipts follow `phoneAtTill`. Customers without a phone get none.
     */
    cardEnrolmentPhone: 1,
    /**
     * Chance a registered card holder's online order (web or app) carries the loyalty card bound to the account, as
     * the order is sent to the loyalty system to accrue bonuses.
     */
    cardOnOnlineOrders: 0.8,
    /**
     * Chance the landing page of a clicked marketing e-mail identifies the subscriber: the e-mail service's links
     * carry a subscriber token that the site's tracker turns into the hashed e-mail on the landing `page_view` (with
     * the browser's cookie, utm medium email). The rest are lost to link scanners, blocked trackers or refused
     * consent. Store-only customers have no site cookie, so their clicks land unrecorded.
     */
    emailClickIdentifies: 0.9,
    /**
     * The same for a clicked SMS: the share of SMS links that are personal short links (the sending service's token
     * names the phone on the landing `page_view`); the rest are one link for everyone and identify no one.
     */
    smsClickIdentifies: 0.5,
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
