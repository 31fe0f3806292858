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

function optionalNumber(payload: Json, field: string): number | null {
  const value = payload[field]
  if (value === undefined || value === null || value === '') return null
  const number = typeof value === 'number' ? value : Number(value)
  if (!Number.isFinite(number)) throw new PayloadError(`${field}: expected a number`)
  return number
}

/** Roubles as a decimal number or string ("199.99", 199.99, "1 299,50") to kopecks, exactly. */
export function roublesToKopecks(value: unknown, path: string): number {
  const raw =
    typeof value === 'number'
      ? value.toFixed(2)
      : typeof value === 'string'
        ? value.replace(/\s/g, '').replace(',', '.')
        : ''
  const match = /^(-?)(\d+)(?:\.(\d{1,2}))?$/.exec(raw)
  if (!match)
    throw new PayloadError(`${path}: expected an amount in roubles such as 199.99 (got ${JSON.stringify(value)})`)
  const kopecks = Number(match[2]) * 100 + Number((match[3] ?? '').padEnd(2, '0'))
  return match[1] === '-' ? -kopecks : kopecks
}

function list(value: unknown, path: string): unknown[] {
  if (Array.isArray(value)) return value
  if (typeof value === 'object' && value !== null) return [value]
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
 * `call-tracking`: a call notification from a call-tracking service.
 * @example {"call_id": "98431", "caller_phone": "+7 916 123-45-67", "tracking_number": "+7 800 555-01-01",
 *   "start_time": "2026-11-20T10:15:00+03:00", "duration": 184, "status": "answered", "agent_id": "op-7",
 *   "is_first_call": true, "utm_source": "yandex", "utm_medium": "cpc", "utm_campaign": "autumn"}
 */
const callTracking = adapter((payload) => {
  const call = object(payload, '(payload)')
  const callId = text(call, 'call_id')
  const ended = call['duration'] !== undefined || call['status'] !== undefined
  const eventType = ended ? 'call_ended' : 'call_started'
  const duration = optionalNumber(call, 'duration')
  return [
    {
      family: 'call',
      message_id: `${callId}:${eventType}`,
      channel: 'call_center',
      event_type: eventType,
      event_time: optionalText(call, 'start_time') ?? undefined,
      call_id: callId,
      tracking_number: optionalText(call, 'tracking_number'),
      duration_seconds: duration === null ? null : Math.round(duration),
      outcome: optionalText(call, 'status'),
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
 * `messenger`: one message, or an array of messages, from a messenger or chat-bot platform.
 * @example {"platform": "telegram", "chat_id": "5550001", "message_id": "77", "direction": "inbound",
 *   "time": "2026-11-20T10:20:00Z", "first_message": true, "sender_phone": "+79161234567", "lead": false}
 */
const messenger = adapter((payload) =>
  list(payload, '(payload)').map((item, index) => {
    const message = object(item, `[${index}]`)
    const platform = text(message, 'platform', `[${index}].platform`)
    const chatId = text(message, 'chat_id', `[${index}].chat_id`)
    const messageId = text(message, 'message_id', `[${index}].message_id`)
    const eventType =
      message['lead'] === true ? 'bot_lead' : message['first_message'] === true ? 'chat_started' : 'message'
    return {
      family: 'social',
      message_id: `${platform}:${chatId}:${messageId}:${eventType}`,
      channel: 'messenger',
      event_type: eventType,
      event_time: optionalText(message, 'time') ?? undefined,
      platform,
      conversation_id: chatId,
      direction: optionalText(message, 'direction'),
      account_id: optionalText(message, 'bot_id'),
      identifiers: { phone: optionalText(message, 'sender_phone'), customer_id: optionalText(message, 'customer_id') },
    }
  }),
)

const messagingEvents = new Set(['sent', 'delivered', 'opened', 'clicked', 'unsubscribed', 'bounced'])

/**
 * `email-service`: delivery events from an e-mail, SMS or push service, one or an array.
 * @example [{"event": "opened", "email": "anna@example.ru", "campaign_id": "weekly-47", "message_id": "msg-1",
 *   "timestamp": "2026-11-20T09:00:00Z", "provider": "unisender"},
 *   {"event": "clicked", "channel": "sms", "phone": "+79161234567", "message_id": "sms-9", "url": "https://shop.example.ru/"}]
 */
const emailService = adapter((payload) =>
  list(payload, '(payload)').map((item, index) => {
    const delivery = object(item, `[${index}]`)
    const event = text(delivery, 'event', `[${index}].event`)
    if (!messagingEvents.has(event)) {
      throw new PayloadError(
        `[${index}].event: expected one of ${[...messagingEvents].join(', ')} (got ${JSON.stringify(event)})`,
      )
    }
    const messageId = text(delivery, 'message_id', `[${index}].message_id`)
    return {
      family: 'messaging',
      message_id: `${messageId}:${event}`,
      channel: optionalText(delivery, 'channel') ?? 'email',
      event_type: event,
      event_time: optionalText(delivery, 'timestamp') ?? undefined,
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
 * `marketplace`: an order notification from a marketplace. Prices are roubles, converted exactly to kopecks.
 * @example {"marketplace": "ozon", "order_id": "0112-3345", "status": "paid", "created_at": "2026-11-20T11:00:00Z",
 *   "items": [{"sku": "A-1", "name": "Sneakers", "quantity": 1, "price": "4999.90"}], "total": "4999.90",
 *   "currency": "RUB", "buyer_phone": "+79161234567"}
 */
const marketplace = adapter((payload) => {
  const order = object(payload, '(payload)')
  const name = text(order, 'marketplace')
  const orderId = text(order, 'order_id')
  const status = text(order, 'status')
  const eventType = marketplaceStatuses[status]
  if (eventType === undefined) {
    throw new PayloadError(
      `status: expected one of ${Object.keys(marketplaceStatuses).join(', ')} (got ${JSON.stringify(status)})`,
    )
  }
  const items = (order['items'] === undefined ? [] : list(order['items'], 'items')).map((entry, index) => {
    const item = object(entry, `items[${index}]`)
    const quantity = optionalNumber(item, 'quantity') ?? 1
    const price = roublesToKopecks(item['price'], `items[${index}].price`)
    return {
      sku: text(item, 'sku', `items[${index}].sku`),
      name: optionalText(item, 'name'),
      category: optionalText(item, 'category'),
      quantity,
      price_minor: price,
      amount_minor: Math.round(price * quantity),
    }
  })
  const total =
    order['total'] === undefined
      ? items.reduce((sum, item) => sum + item.amount_minor, 0)
      : roublesToKopecks(order['total'], 'total')
  return [
    {
      family: 'marketplace',
      message_id: `${name}:${orderId}:${eventType}`,
      channel: 'marketplace',
      event_type: eventType,
      event_time: optionalText(order, 'created_at') ?? undefined,
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
