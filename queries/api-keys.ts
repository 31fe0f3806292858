import crypto from 'node:crypto'
import type { FastifyRequest } from 'fastify'
import { OmnistitchError } from '../runtime/errors.ts'
import { keptSecret } from '../runtime/local-secrets.ts'

/** What a key may do: `reader` reads metrics; `admin` also runs admin routes. */
export type ApiScope = 'reader' | 'admin'

/**
 * The API keys in force: OMNISTITCH_API_KEYS when set, else one admin key generated on first use and kept in
 * `<data dir>/api-key` (mode 600), as the collector does with its write key.
 */
export function resolveApiKeys(
  configured: Readonly<Record<string, ApiScope>> | undefined,
  dataDir: string,
): Readonly<Record<string, ApiScope>> {
  return configured ?? { [keptSecret(dataDir, 'api-key', 16, 'oak_')]: 'admin' }
}

/** The key a request carries: `Authorization: Bearer <key>`. */
export function apiKeyOf(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization
  const match = header === undefined ? null : /^Bearer\s+(\S+)$/i.exec(header)
  return match?.[1]
}

/**
 * Refuses a request whose key is missing or unknown (401), or whose key's scope does not reach the route's (403).
 * Keys are compared in constant time.
 */
export function authorize(request: FastifyRequest, keys: Readonly<Record<string, ApiScope>>, needs: ApiScope): void {
  const key = apiKeyOf(request)
  if (key === undefined) {
    throw new OmnistitchError('OMNI_ERR_API_UNAUTHORIZED', 'an API key is required: send `Authorization: Bearer <key>`')
  }
  const presented = Buffer.from(key)
  let scope: ApiScope | undefined
  for (const [known, knownScope] of Object.entries(keys)) {
    const candidate = Buffer.from(known)
    if (candidate.length === presented.length && crypto.timingSafeEqual(candidate, presented)) scope = knownScope
  }
  if (scope === undefined) throw new OmnistitchError('OMNI_ERR_API_UNAUTHORIZED', 'the API key is not known')
  if (needs === 'admin' && scope !== 'admin') {
    throw new OmnistitchError(
      'OMNI_ERR_API_FORBIDDEN',
      `this route needs an admin key; the key given has scope ${scope}`,
    )
  }
}
