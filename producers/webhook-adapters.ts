/**
 * Webhook adapters: each turns one integration's payload into collector events (the intake format of
 * producers/event-intake.ts: the family's record as partial JSON, raw e-mail and phone in `identifiers`), or says
 * what is wrong with the payload. Intake then hashes, validates and gives ids; every adapter sets `message_id` so
 * that a redelivered webhook is the same event. The payloads are documented in docs/WEBHOOKS.md.
 */
export type WebhookAdapter = (payload: unknown) => { ok: true; events: unknown[] } | { ok: false; error: string }

type Json = Record<string, unknown>

class PayloadError extends Error {}

function object(value: unknown, path: string): Json {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new PayloadError(`${path}: expected an object`)
  return value as Json
}

function text(payload: Json, field: string, path = field): string {
  const value = payload[field]
  if (typeof value === 'string' && value !== '') return value
  if (typeof value === 'number') return String(value)
  throw new PayloadError(`${path}: expected a non-empty string`)
}

function optionalText(payload: Json, field: string): string | null {
  const value = payload[field]
  return typeof value === 'string' && value !== '' ? value : typeof value === 'number' ? String(value) : null
}

function optionalNumber(payload: Json, field: string, path = field): number | null {
  const value = payload[field]
  if (value === undefined || value === null || value === '') return null
  const number = typeof value === 'number' ? value : typeof value === 'string' ? Number(value) : Number.NaN
  if (!Number.isFinite(number)) throw new PayloadError(`${path}: expected a number (got ${JSON.stringify(value)})`)
  return number
}

/** One of a fixed set of values. */
function choice(payload: Json, field: string, choices: readonly string[], path = field): string {
  const value = text(payload, field, path)
  if (!choices.includes(value)) {
    throw new PayloadError(`${path}: expected one of ${choices.join(', ')} (got ${JSON.stringify(value)})`)
  }
  return value
}

/** One of a fixed set of values, or null when absent. */
function optionalChoice(payload: Json, field: string, choices: readonly string[], path = field): string | null {
  const value = payload[field]
  return value === undefined || value === null || value === '' ? null : choice(payload, field, choices, path)
}

/** The event's time as sent (an ISO 8601 string, or epoch milliseconds); intake parses it. Absent: receive time. */
function optionalTime(payload: Json, field: string, path = field): string | number | undefined {
  const value = payload[field]
  if (value === undefined || value === null || value === '') return undefined
  if (typeof value === 'string' || typeof value === 'number') return value
  throw new PayloadError(`${path}: expected an ISO 8601 date-time (got ${JSON.stringify(value)})`)
}

/**
 * Roubles as a decimal number or string ("199.99", 199.99, "1 299,50") to kopecks, exactly: the digits are read as
 * written (a JSON number by its shortest decimal form, so 199.99 is "199.99"), never multiplied as a float. More than
 * two decimals is refused rather than rounded.
 */
export function roublesToKopecks(value: unknown, path: string): number {
  const raw =
    typeof value === 'number'
      ? String(value)
      : typeof value === 'string'
        ? value.replace(/\s/g, '').replace(',', '.')
        : ''
  const match = /^(-?)(\d+)(?:\.(\d{1,2}))?$/.exec(raw)
  const kopecks = match ? Number(match[2]) * 100 + Number((match[3] ?? '').padEnd(2, '0')) : Number.NaN
  if (!match || !Number.isSafeInteger(kopecks))
    throw new PayloadError(`${path}: expected an amount in roubles such as 199.99 (got ${JSON.stringify(value)})`)
  return match[1] === '-' ? -kopecks : kopecks
}

/**
 * One object or an array of objects, each with the prefix its fields' errors are named by: `[2].` (or `items[2].`)
 * for an array element, nothing (or `items.`) for a lone object.
 */
function list(value: unknown, path: string): { item: Json; at: string }[] {
  const prefix = path === '(payload)' ? '' : path
  if (Array.isArray(value)) {
    return value.map((entry, index) => ({ item: object(entry, `${prefix}[${index}]`), at: `${prefix}[${index}].` }))
  }
  if (typeof value === 'object' && value !== null) return [{ item: value as Json, at: prefix && `${prefix}.` }]
  throw new PayloadError(`${path}: expected an object or an array of objects`)
}

function adapter(map: (payload: unknown) => unknown[]): WebhookAdapter {
  return (payload) => {
    try {
      return { ok: true, events: map(payload) }
    } catch (error) {
      if (error instanceof PayloadError) return { ok: false, error: error.message }
      throw error
    }
  }
}

/**
 * `call-tracking`: a call notification from a call-tracking service (Calltouch, CoMagic and the like). `call_id` is
 * required. With `duration` or `status` it is a `call_ended`, otherwise a `call_started`; the event type is part of
 * the message id, so the start and the end of one call are two events and a redelivery of either is the same one.
 * @example
 * {"call_id": "98431", "caller_phone": "+7 916 123-45-67", "tracking_number": "+7 800 555-01-01",
 *  "start_time": "2026-11-20T10:15:00+03:00", "duration": 184, "status": "answered", "agent_id": "op-7",
 *  "is_first_call": true, "utm_source": "yandex", "utm_medium": "cpc", "utm_campaign": "autumn"}
 */
const callTracking = adapter((payload) => {
  const call = object(payload, '(payload)')
  const callId = text(call, 'call_id')
  const duration = optionalNumber(call, 'duration')
  const status = optionalText(call, 'status')
  const eventType = duration !== null || status !== null ? 'call_ended' : 'call_started'
  return [
    {
      family: 'call',
      message_id: `${callId}:${eventType}`,
      channel: 'call_center',
      event_type: eventType,
      event_time: optionalTime(call, 'start_time'),
      call_id: callId,
      tracking_number: optionalText(call, 'tracking_number'),
      duration_seconds: duration === null ? null : Math.round(duration),
      outcome: status,
      agent_id: optionalText(call, 'agent_id'),
      first_call: typeof call['is_first_call'] === 'boolean' ? call['is_first_call'] : null,
      identifiers: { phone: optionalText(call, 'caller_phone') },
      utm: {
        source: optionalText(call, 'utm_source'),
        medium: optionalText(call, 'utm_medium'),
        campaign: optionalText(call, 'utm_campaign'),
        content: optionalText(call, 'utm_content'),
        term: optionalText(call, 'utm_term'),
      },
    },
  ]
})

/**
 * `messenger`: one message, or an array of messages, from a messenger or chat-bot platform (telegram, whatsapp, vk,
 * max, ...). `platform`, `chat_id` and `message_id` are required. `lead: true` makes a `bot_lead`,
 * `first_message: true` a `chat_started`, anything else a `message`.
 * @example
 * {"platform": "telegram", "chat_id": "5550001", "message_id": "77", "direction": "inbound",
 *  "time": "2026-11-20T10:20:00Z", "first_message": true, "sender_phone": "+79161234567", "lead": false}
 */
const messenger = adapter((payload) =>
  list(payload, '(payload)').map(({ item: message, at }) => {
    const platform = text(message, 'platform', `${at}platform`)
    const chatId = text(message, 'chat_id', `${at}chat_id`)
    const messageId = text(message, 'message_id', `${at}message_id`)
    const eventType =
      message['lead'] === true ? 'bot_lead' : message['first_message'] === true ? 'chat_started' : 'message'
    return {
      family: 'social',
      message_id: `${platform}:${chatId}:${messageId}:${eventType}`,
      channel: 'messenger',
      event_type: eventType,
      event_time: optionalTime(message, 'time', `${at}time`),
      platform,
      conversation_id: chatId,
      direction: optionalChoice(message, 'direction', ['inbound', 'outbound'], `${at}direction`),
      account_id: optionalText(message, 'bot_id'),
      identifiers: { phone: optionalText(message, 'sender_phone'), customer_id: optionalText(message, 'customer_id') },
    }
  }),
)

const messagingEvents = ['sent', 'delivered', 'opened', 'clicked', 'unsubscribed', 'bounced'] as const
const messagingChannels = ['email', 'sms', 'push'] as const

/**
 * `email-service`: delivery events from an e-mail, SMS or push service, an array or one. `event` and `message_id`
 * are required; `channel` defaults to `email`. The message id is unique per (service message id, event), so an
 * open and a click of one letter are two events.
 * @example
 * [{"event": "opened", "email": "anna@example.ru", "campaign_id": "weekly-47", "message_id": "msg-1",
 *   "timestamp": "2026-11-20T09:00:00Z", "provider": "unisender"},
 *  {"event": "clicked", "channel": "sms", "phone": "+79161234567", "message_id": "sms-9",
 *   "url": "https://shop.example.ru/"}]
 */
const emailService = adapter((payload) =>
  list(payload, '(payload)').map(({ item: delivery, at }) => {
    const event = choice(delivery, 'event', messagingEvents, `${at}event`)
    const messageId = text(delivery, 'message_id', `${at}message_id`)
    return {
      family: 'messaging',
      message_id: `${messageId}:${event}`,
      channel: optionalChoice(delivery, 'channel', messagingChannels, `${at}channel`) ?? 'email',
      event_type: event,
      event_time: optionalTime(delivery, 'timestamp', `${at}timestamp`),
      campaign_id: optionalText(delivery, 'campaign_id'),
      provider_message_id: messageId,
      provider: optionalText(delivery, 'provider'),
      link_url: optionalText(delivery, 'url'),
      identifiers: { email: optionalText(delivery, 'email'), phone: optionalText(delivery, 'phone') },
    }
  }),
)

const marketplaceStatuses: Readonly<Record<string, string>> = {
  created: 'order_created',
  paid: 'order_paid',
  cancelled: 'order_cancelled',
  returned: 'order_returned',
}

/**
 * `marketplace`: an order notification from a marketplace (Ozon, Wildberries and the like). `marketplace`,
 * `order_id` and `status` are required; each status is its own event. Prices are roubles, converted exactly to
 * kopecks; without `total` the items are summed. `time` is when the order reached this status (`created_at` is
 * taken when there is no `time`).
 * @example
 * {"marketplace": "ozon", "order_id": "0112-3345", "status": "paid", "time": "2026-11-20T11:00:00Z",
 *  "items": [{"sku": "A-1", "name": "Sneakers", "quantity": 1, "price": "4999.90"}], "total": "4999.90",
 *  "currency": "RUB", "buyer_phone": "+79161234567"}
 */
const marketplace = adapter((payload) => {
  const order = object(payload, '(payload)')
  const name = text(order, 'marketplace')
  const orderId = text(order, 'order_id')
  const status = choice(order, 'status', Object.keys(marketplaceStatuses))
  const eventType = marketplaceStatuses[status] ?? 'other'
  const items = (order['items'] === undefined ? [] : list(order['items'], 'items')).map(({ item, at }) => {
    const quantity = optionalNumber(item, 'quantity', `${at}quantity`) ?? 1
    if (quantity <= 0) throw new PayloadError(`${at}quantity: expected a positive number (got ${quantity})`)
    const price = roublesToKopecks(item['price'], `${at}price`)
    return {
      sku: text(item, 'sku', `${at}sku`),
      name: optionalText(item, 'name'),
      category: optionalText(item, 'category'),
      quantity,
      price_minor: price,
      amount_minor: Math.round(price * quantity),
    }
  })
  const total =
    order['total'] === undefined || order['total'] === null
      ? items.reduce((sum, item) => sum + item.amount_minor, 0)
      : roublesToKopecks(order['total'], 'total')
  return [
    {
      family: 'marketplace',
      message_id: `${name}:${orderId}:${eventType}`,
      channel: 'marketplace',
      event_type: eventType,
      event_time: optionalTime(order, 'time') ?? optionalTime(order, 'created_at'),
      marketplace: name,
      marketplace_order_id: orderId,
      items,
      amount_minor: total,
      currency: optionalText(order, 'currency') ?? 'RUB',
      identifiers: { phone: optionalText(order, 'buyer_phone') },
    },
  ]
})

export const webhookAdapters: Readonly<Record<string, WebhookAdapter>> = {
  'call-tracking': callTracking,
  messenger,
  'email-service': emailService,
  marketplace,
}

const textOrNumber = { anyOf: [{ type: 'string' }, { type: 'number' }] } as const
const time = {
  anyOf: [
    { type: 'string', format: 'date-time' },
    { type: 'integer', minimum: 0 },
  ],
  description: 'ISO 8601 date-time, or epoch milliseconds; the receive time when left out',
} as const
const roubles = { ...textOrNumber, description: 'roubles, such as 199.99 or "1 299,50"' } as const
const oneOrMany = (item: Readonly<Record<string, unknown>>) => ({ anyOf: [item, { type: 'array', items: item }] })

/**
 * The payload each adapter reads, as JSON Schema (OpenAPI 3.0) for the collector's API document. It documents; the
 * adapters themselves check payloads, so that an error names the field as docs/WEBHOOKS.md does.
 */
export const webhookPayloadSchemas: Readonly<Record<keyof typeof webhookAdapters, object>> = {
  'call-tracking': {
    type: 'object',
    required: ['call_id'],
    properties: {
      call_id: textOrNumber,
      caller_phone: { type: 'string', description: 'hashed at capture' },
      tracking_number: { type: 'string' },
      start_time: time,
      duration: { ...textOrNumber, description: 'seconds; with it or `status` the event is a call_ended' },
      status: { type: 'string' },
      agent_id: { type: 'string' },
      is_first_call: { type: 'boolean' },
      utm_source: { type: 'string' },
      utm_medium: { type: 'string' },
      utm_campaign: { type: 'string' },
      utm_content: { type: 'string' },
      utm_term: { type: 'string' },
    },
  },
  messenger: oneOrMany({
    type: 'object',
    required: ['platform', 'chat_id', 'message_id'],
    properties: {
      platform: { type: 'string' },
      chat_id: textOrNumber,
      message_id: textOrNumber,
      direction: { type: 'string', enum: ['inbound', 'outbound'] },
      time,
      first_message: { type: 'boolean' },
      lead: { type: 'boolean' },
      sender_phone: { type: 'string', description: 'hashed at capture' },
      customer_id: { type: 'string' },
      bot_id: { type: 'string' },
    },
  }),
  'email-service': oneOrMany({
    type: 'object',
    required: ['event', 'message_id'],
    properties: {
      event: { type: 'string', enum: [...messagingEvents] },
      message_id: textOrNumber,
      channel: { type: 'string', enum: [...messagingChannels], default: 'email' },
      timestamp: time,
      campaign_id: { type: 'string' },
      provider: { type: 'string' },
      url: { type: 'string' },
      email: { type: 'string', description: 'hashed at capture' },
      phone: { type: 'string', description: 'hashed at capture' },
    },
  }),
  marketplace: {
    type: 'object',
    required: ['marketplace', 'order_id', 'status'],
    properties: {
      marketplace: { type: 'string' },
      order_id: textOrNumber,
      status: { type: 'string', enum: Object.keys(marketplaceStatuses) },
      time,
      created_at: time,
      items: oneOrMany({
        type: 'object',
        required: ['sku', 'price'],
        properties: {
          sku: textOrNumber,
          name: { type: 'string' },
          category: { type: 'string' },
          quantity: { type: 'number', exclusiveMinimum: true, minimum: 0 },
          price: roubles,
        },
      }),
      total: roubles,
      currency: { type: 'string', default: 'RUB' },
      buyer_phone: { type: 'string', description: 'hashed at capture' },
    },
  },
}
