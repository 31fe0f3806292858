import crypto from 'node:crypto'
import { keptSecret } from '../runtime/local-secrets.ts'

/**
 * Raw e-mails and phone numbers never leave the capture edge: they are normalised, then hashed with a keyed hash
 * (HMAC-SHA256) so that the same person hashes alike in every channel while the hash cannot be reversed by someone
 * who does not hold the secret.
 */
export interface IdentifierHasher {
  email(raw: string): string | null
  phone(raw: string): string | null
}

/** Lower-cased and trimmed; null when it is not an e-mail address. */
export function normaliseEmail(raw: string): string | null {
  const email = raw.trim().toLowerCase()
  return /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email) ? email : null
}

/**
 * Digits only, in international form. Russian numbers written nationally (8XXXXXXXXXX) or without a country code
 * (10 digits starting with 9) become 7XXXXXXXXXX. Null when fewer than 10 digits remain.
 */
export function normalisePhone(raw: string): string | null {
  let digits = raw.replace(/\D/g, '')
  if (digits.length === 11 && digits.startsWith('8')) digits = `7${digits.slice(1)}`
  if (digits.length === 10 && digits.startsWith('9')) digits = `7${digits}`
  return digits.length >= 10 && digits.length <= 15 ? digits : null
}

export function createIdentifierHasher(secret: string): IdentifierHasher {
  const hash = (kind: string, value: string) =>
    crypto.createHmac('sha256', secret).update(`${kind}:${value}`).digest('hex')
  return {
    email: (raw) => {
      const email = normaliseEmail(raw)
      return email === null ? null : hash('email', email)
    },
    phone: (raw) => {
      const phone = normalisePhone(raw)
      return phone === null ? null : hash('phone', phone)
    },
  }
}

/**
 * The hashing secret: the configured one, or else a random one created once and kept in the data directory, so that
 * hashes stay stable across restarts of a local installation. Production sets OMNISTITCH_HASH_SECRET.
 */
export function resolveHashSecret(configured: string | undefined, dataDir: string): string {
  return configured ?? keptSecret(dataDir, 'hash-secret', 32)
}

/**
 * The collector's write keys (key → source): the configured ones, or else one key for the source "default", created
 * once and kept in the data directory so that a local installation keeps its key across restarts.
 */
export function resolveWriteKeys(
  configured: Readonly<Record<string, string>> | undefined,
  dataDir: string,
): Readonly<Record<string, string>> {
  return configured ?? { [keptSecret(dataDir, 'write-key', 16, 'osk_')]: 'default' }
}
