import type { FastifyRequest } from 'fastify'
import { OmnistitchError } from '../runtime/errors.ts'
import { valueOfSecret } from '../runtime/key-lookup.ts'
import { keptSecret } from '../runtime/local-secrets.ts'

/** What a key may do: `reader` reads metrics; `admin` also runs admin routes. */
export type ApiScope = 'reader' | 'admin'

/**
 * The API keys in force: OMNISTITCH_API_KEYS when set, else an admin key and a reader key (the dashboard's) generated
 * on first use and kept in `<data dir>/api-key` and `<data dir>/api-reader-key` (mode 600), as the collector does
 * with its write key. The admin key comes first.
 */
export function resolveApiKeys(
  configured: Readonly<Record<string, ApiScope>> | undefined,
  dataDir: string,
): Readonly<Record<string, ApiScope>> {
  return (
    configured ?? {
      [keptSecret(dataDir, 'api-key', 16, 'oak_')]: 'admin',
      [keptSecret(dataDir, 'api-reader-key', 16, 'oak_')]: 'reader',
    }
  )
}

/** The first reader key, the one the dashboard uses. */
export function readerKeyOf(keys: Readonly<Record<string, ApiScope>>): string | undefined {
  return Object.entries(keys).find(([, scope]) => scope === 'reader')?.[0]
}

/** Whether a listen address is reachable only from this machine (then the dashboard may sign browsers in itself). */
export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host)
}

/** The address that opens the dashboard signed in: the reader key in the fragment, which no server or log sees. */
export function dashboardAddress(apiAddress: string, keys: Readonly<Record<string, ApiScope>>): string {
  const reader = readerKeyOf(keys)
  return reader === undefined ? `${apiAddress}/ (sign in with a reader key)` : `${apiAddress}/#key=${reader}`
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
  const scope = valueOfSecret(keys, key)
  if (scope === undefined) throw new OmnistitchError('OMNI_ERR_API_UNAUTHORIZED', 'the API key is not known')
  if (needs === 'admin' && scope !== 'admin') {
    throw new OmnistitchError(
      'OMNI_ERR_API_FORBIDDEN',
      `this route needs an admin key; the key given has scope ${scope}`,
    )
  }
}
