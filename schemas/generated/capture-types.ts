// Generated from schemas/avro/*/v<latest>.avsc by `npm run schemas:types`. Do not edit by hand.

export type Channel =
  | 'web'
  | 'app'
  | 'social'
  | 'messenger'
  | 'email'
  | 'sms'
  | 'push'
  | 'call_center'
  | 'store'
  | 'pickup_point'
  | 'courier'
  | 'marketplace'
  | 'ads'
  | 'other'

/** Daily spend, impressions and clicks of one campaign. Not a touchpoint: it goes to its own topic. */
export interface AdCost {
  /** Stable id of the row (such as source:campaign_id:date); a repeat replaces the earlier value. */
  cost_id: string
  /** The day, as days since 1970-01-01. */
  date: number
  channel: Channel
  /** The ad platform: yandex_direct, vk_ads, google_ads, ... */
  source: string
  medium: null | string
  campaign: string
  campaign_id: null | string
  /** In minor units. */
  spend_minor: number
  /** ISO 4217. */
  currency: string
  impressions: number
  clicks: number
  received_at: number
}

export type CallEventType = 'call_started' | 'call_ended' | 'other'

/** Every identifier an event carries. E-mail and phone only as keyed hashes (HMAC-SHA256, hex) of their normalised form. */
export interface Identifiers {
  /** Cookie or other anonymous browser id. */
  anonymous_id: null | string
  /** Mobile advertising id or app installation id. */
  device_id: null | string
  /** The retailer's account id. */
  customer_id: null | string
  email_hash: null | string
  phone_hash: null | string
  loyalty_card: null | string
  order_id: null | string
}

/** What the person agreed to; null where unknown. */
export interface Consent {
  analytics: null | boolean
  marketing_email: null | boolean
  marketing_sms: null | boolean
  marketing_push: null | boolean
  personalisation: null | boolean
}

export interface Utm {
  source: null | string
  medium: null | string
  campaign: null | string
  content: null | string
  term: null | string
}

/** Call-centre calls. */
export interface CallEvent {
  /** Unique per event; repeats of the same id are one event. */
  event_id: string
  /** When it happened, UTC milliseconds. */
  event_time: number
  /** When the capture edge received it. */
  received_at: number
  /** Always call_center. */
  channel: Channel
  event_type: CallEventType
  /** The system that reported the event, such as site, app-ios, pos-1c, calltouch. */
  source: string
  identifiers: Identifiers
  consent: Consent
  call_id: string
  /** The number the customer dialled (call tracking). */
  tracking_number: null | string
  duration_seconds: null | number
  /** answered, missed, busy, voicemail or callback. */
  outcome: null | string
  agent_id: null | string
  /** True for the caller's first call. */
  first_call: null | boolean
  utm: Utm
}

export type DeliveryEventType =
  'courier_assigned' | 'delivered' | 'paid_on_delivery' | 'partial_refusal' | 'delivery_failed' | 'other'

export type PaymentMethod =
  'card' | 'cash' | 'sbp' | 'apple_pay' | 'google_pay' | 'mir_pay' | 'gift_card' | 'bonus_points' | 'invoice' | 'other'

export interface LineItem {
  sku: string
  name: null | string
  category: null | string
  /** Units, or kilograms for goods sold by weight. */
  quantity: number
  /** Price of one unit in minor units (kopecks). */
  price_minor: number
  /** Line total after line discounts, in minor units. */
  amount_minor: number
}

/** Courier delivery. */
export interface DeliveryEvent {
  /** Unique per event; repeats of the same id are one event. */
  event_id: string
  /** When it happened, UTC milliseconds. */
  event_time: number
  /** When the capture edge received it. */
  received_at: number
  /** Always courier. */
  channel: Channel
  event_type: DeliveryEventType
  /** The system that reported the event, such as site, app-ios, pos-1c, calltouch. */
  source: string
  identifiers: Identifiers
  consent: Consent
  delivery_id: string
  courier_service: null | string
  courier_id: null | string
  /** In minor units (kopecks). */
  amount_minor: null | number
  /** ISO 4217, such as RUB. */
  currency: null | string
  payment_method: null | PaymentMethod
  /** For partial_refusal: what the customer did not take. */
  refused_items: Array<LineItem>
}

export type DigitalEventType =
  | 'page_view'
  | 'product_view'
  | 'search'
  | 'add_to_cart'
  | 'checkout_start'
  | 'lead_form'
  | 'screen_view'
  | 'app_install'
  | 'push_open'
  | 'other'

/** Ad click ids from the landing URL. */
export interface ClickIds {
  gclid: null | string
  yclid: null | string
  fbclid: null | string
}

/** Website and mobile app behaviour. */
export interface DigitalEvent {
  /** Unique per event; repeats of the same id are one event. */
  event_id: string
  /** When it happened, UTC milliseconds. */
  event_time: number
  /** When the capture edge received it. */
  received_at: number
  /** Always web or app. */
  channel: Channel
  event_type: DigitalEventType
  /** The system that reported the event, such as site, app-ios, pos-1c, calltouch. */
  source: string
  identifiers: Identifiers
  consent: Consent
  /** The client's own session id, where the SDK keeps one. */
  session_id: null | string
  page_url: null | string
  page_title: null | string
  referrer: null | string
  screen_name: null | string
  app_version: null | string
  /** ios, android, or web. */
  platform: null | string
  utm: Utm
  click_ids: ClickIds
  product_sku: null | string
  search_query: null | string
  /** Value of the product, cart or lead, in minor units. */
  value_minor: null | number
  currency: null | string
}

export type MarketplaceEventType = 'order_created' | 'order_paid' | 'order_cancelled' | 'order_returned' | 'other'

/** Orders on marketplaces. */
export interface MarketplaceEvent {
  /** Unique per event; repeats of the same id are one event. */
  event_id: string
  /** When it happened, UTC milliseconds. */
  event_time: number
  /** When the capture edge received it. */
  received_at: number
  /** Always marketplace. */
  channel: Channel
  event_type: MarketplaceEventType
  /** The system that reported the event, such as site, app-ios, pos-1c, calltouch. */
  source: string
  identifiers: Identifiers
  consent: Consent
  /** ozon, wildberries, yandex_market, megamarket, avito, ... by name. */
  marketplace: string
  marketplace_order_id: string
  items: Array<LineItem>
  /** In minor units (kopecks). */
  amount_minor: null | number
  /** ISO 4217, such as RUB. */
  currency: null | string
}

export type MessagingEventType = 'sent' | 'delivered' | 'opened' | 'clicked' | 'unsubscribed' | 'bounced' | 'other'

/** E-mail, SMS and push campaigns. */
export interface MessagingEvent {
  /** Unique per event; repeats of the same id are one event. */
  event_id: string
  /** When it happened, UTC milliseconds. */
  event_time: number
  /** When the capture edge received it. */
  received_at: number
  /** Always email, sms or push. */
  channel: Channel
  event_type: MessagingEventType
  /** The system that reported the event, such as site, app-ios, pos-1c, calltouch. */
  source: string
  identifiers: Identifiers
  consent: Consent
  campaign_id: null | string
  /** The sending service's id of the message. */
  provider_message_id: null | string
  /** The sending service. */
  provider: null | string
  link_url: null | string
  utm: Utm
}

export type OrderEventType = 'order_created' | 'order_paid' | 'order_cancelled' | 'order_refunded' | 'other'

/** Orders across channels, with where they were placed and fulfilled. */
export interface OrderEvent {
  /** Unique per event; repeats of the same id are one event. */
  event_id: string
  /** When it happened, UTC milliseconds. */
  event_time: number
  /** When the capture edge received it. */
  received_at: number
  /** Always the channel where the order was placed. */
  channel: Channel
  event_type: OrderEventType
  /** The system that reported the event, such as site, app-ios, pos-1c, calltouch. */
  source: string
  identifiers: Identifiers
  consent: Consent
  /** Order amount (refund amount for order_refunded), in minor units. */
  amount_minor: number
  /** ISO 4217. */
  currency: string
  items: Array<LineItem>
  placed_channel: Channel
  fulfilled_channel: null | Channel
  /** courier, pickup_point, store or marketplace. */
  fulfilment: null | string
  promo_code: null | string
  discount_minor: number
  payment_method: null | PaymentMethod
}

export type PickupEventType = 'order_ready' | 'picked_up' | 'returned_in_store' | 'curbside_pickup' | 'other'

/** Pickup points: buy online, pick up or return in store. */
export interface PickupEvent {
  /** Unique per event; repeats of the same id are one event. */
  event_id: string
  /** When it happened, UTC milliseconds. */
  event_time: number
  /** When the capture edge received it. */
  received_at: number
  /** Always pickup_point. */
  channel: Channel
  event_type: PickupEventType
  /** The system that reported the event, such as site, app-ios, pos-1c, calltouch. */
  source: string
  identifiers: Identifiers
  consent: Consent
  pickup_point_id: string
  items: Array<LineItem>
  /** In minor units (kopecks). */
  amount_minor: null | number
  /** ISO 4217, such as RUB. */
  currency: null | string
  payment_method: null | PaymentMethod
}

export type ReceiptEventType = 'pos_receipt' | 'pos_return' | 'other'

/** Store POS receipts and returns. */
export interface ReceiptEvent {
  /** Unique per event; repeats of the same id are one event. */
  event_id: string
  /** When it happened, UTC milliseconds. */
  event_time: number
  /** When the capture edge received it. */
  received_at: number
  /** Always store. */
  channel: Channel
  event_type: ReceiptEventType
  /** The system that reported the event, such as site, app-ios, pos-1c, calltouch. */
  source: string
  identifiers: Identifiers
  consent: Consent
  store_id: string
  terminal_id: null | string
  cashier_id: null | string
  receipt_number: string
  items: Array<LineItem>
  /** Amount paid, in minor units; positive for returns too. */
  total_minor: number
  /** Discount given, in minor units. */
  discount_minor: number
  /** ISO 4217. */
  currency: string
  payment_method: PaymentMethod
  /** The acquiring bank for card and SBP payments. */
  acquirer: null | string
  promo_code: null | string
  /** For a return: the receipt being returned. */
  original_receipt_number: null | string
}

export type SocialEventType =
  | 'ad_impression'
  | 'ad_click'
  | 'post_engagement'
  | 'direct_message'
  | 'chat_started'
  | 'message'
  | 'bot_lead'
  | 'other'

/** Social networks, messengers, and the impressions and clicks of paid ad platforms. */
export interface SocialEvent {
  /** Unique per event; repeats of the same id are one event. */
  event_id: string
  /** When it happened, UTC milliseconds. */
  event_time: number
  /** When the capture edge received it. */
  received_at: number
  /** social, messenger, or ads (paid ad platforms such as Yandex Direct). */
  channel: Channel
  event_type: SocialEventType
  /** The system that reported the event, such as site, app-ios, pos-1c, calltouch. */
  source: string
  identifiers: Identifiers
  consent: Consent
  /** vk, ok, telegram, whatsapp, max, viber, yandex_direct, ... by name. */
  platform: string
  /** The brand's account or bot. */
  account_id: null | string
  campaign_id: null | string
  ad_id: null | string
  post_id: null | string
  conversation_id: null | string
  /** inbound (from the customer) or outbound. */
  direction: null | string
  utm: Utm
}

/** One contact between a customer and the retailer, in any channel. E-mail and phone travel only as keyed hashes. */
export interface Touchpoint {
  /** Unique per event; repeats of the same id are one event. */
  event_id: string
  /** When it happened, UTC milliseconds. */
  event_time: number
  /** When the capture edge received it. */
  received_at: number
  channel: Channel
  /** What happened, such as page_view, order_paid or pos_receipt. */
  event_type: string
  /** Cookie or other anonymous browser id. */
  anonymous_id: null | string
  device_id: null | string
  /** The retailer's account id once the person logs in. */
  customer_id: null | string
  /** HMAC-SHA256 of the normalised e-mail, hex. */
  email_hash: null | string
  /** HMAC-SHA256 of the normalised phone number, hex. */
  phone_hash: null | string
  loyalty_card: null | string
  order_id: null | string
  /** Revenue in minor units (kopecks), negative for returns. */
  revenue_minor: null | number
  /** ISO 4217 code, such as RUB. */
  currency: null | string
}

/** The record type each capture family is written with (its newest schema version). */

export interface CaptureFamilies {
  'ad-cost': AdCost
  call: CallEvent
  delivery: DeliveryEvent
  digital: DigitalEvent
  marketplace: MarketplaceEvent
  messaging: MessagingEvent
  order: OrderEvent
  pickup: PickupEvent
  receipt: ReceiptEvent
  social: SocialEvent
  touchpoint: Touchpoint
}
