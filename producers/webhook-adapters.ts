/**
 * Webhook adapters: each turns one integration's payload into collector events (the intake format of
 * producers/event-intake.ts), or says what is wrong with the payload.
 */
export type WebhookAdapter = (payload: unknown) => { ok: true; events: unknown[] } | { ok: false; error: string }

export const webhookAdapters: Readonly<Record<string, WebhookAdapter>> = {}
