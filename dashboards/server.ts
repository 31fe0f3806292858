import crypto from 'node:crypto'
import fs from 'node:fs'
import type { IncomingHttpHeaders } from 'node:http'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'
import type { FastifyInstance, FastifyReply } from 'fastify'
import { isLoopbackHost } from '../queries/api-keys.ts'
import { OmnistitchError } from '../runtime/errors.ts'

const web = path.join(path.dirname(fileURLToPath(import.meta.url)), 'web')

interface Asset {
  readonly body: string
  readonly type: string
  readonly etag: string
}

const asset = (body: string, type: string): Asset => ({
  body,
  type,
  etag: `"${crypto.createHash('sha256').update(body).digest('base64url').slice(0, 16)}"`,
})

let bundled: Promise<Asset> | undefined

/**
 * The dashboard's script: `dashboards/web/app.ts` and what it imports (ECharts, csv-stringify) bundled by esbuild
 * into one file, once per process, in memory. Nothing is fetched from a CDN: the page works offline.
 */
export function dashboardScript(): Promise<Asset> {
  bundled ??= build({
    entryPoints: [path.join(web, 'app.ts')],
    bundle: true,
    minify: true,
    format: 'iife',
    target: 'es2022',
    platform: 'browser',
    write: false,
    legalComments: 'none',
    logLevel: 'silent',
  }).then((result) => asset(result.outputFiles[0]?.text ?? '', 'text/javascript; charset=utf-8'))
  return bundled
}

/** The page may load only its own script and style, and call only its own API. */
const contentSecurityPolicy =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; " +
  "frame-ancestors 'none'"

function send(reply: FastifyReply, file: Asset, ifNoneMatch: string | undefined): FastifyReply {
  reply.header('etag', file.etag).header('cache-control', 'no-cache')
  if (ifNoneMatch === file.etag) return reply.status(304).send()
  return reply.type(file.type).send(file.body)
}

export interface DashboardOptions {
  /**
   * A reader key handed to a browser on this machine by `GET /dashboard/session`, so that `npm start` followed by
   * opening http://127.0.0.1:8080/ shows data without pasting a key. Give it only when the server listens on a
   * loopback address: the route answers only loopback peers that name a loopback host and came through no proxy (see
   * `isLocalSession`).
   */
  readonly localReaderKey?: string | undefined
}

/**
 * Headers a reverse proxy, load balancer or CDN adds to say whom it forwards a request for, and any `X-Forwarded-*`.
 * A proxy on this machine connects from a loopback address and may pass on a loopback `Host`, so without this check
 * every visitor it forwards would look like a browser on this machine and get the reader key (issue 18).
 */
const forwardingHeaders = new Set([
  'forwarded',
  'via',
  'x-real-ip',
  'x-client-ip',
  'x-cluster-client-ip',
  'x-original-forwarded-for',
  'cf-connecting-ip',
  'true-client-ip',
  'fastly-client-ip',
  'akamai-client-ip',
  'x-azure-clientip',
  'x-appengine-user-ip',
])

/** Whether a request carries a header that a proxy adds on the way (see `forwardingHeaders`). */
function isForwarded(headers: IncomingHttpHeaders): boolean {
  return Object.keys(headers).some((name) => {
    const lower = name.toLowerCase()
    return forwardingHeaders.has(lower) || lower.startsWith('x-forwarded')
  })
}

/**
 * Whether a request comes from this machine, was addressed to it by a loopback name and came through no proxy. The
 * peer check keeps other machines out; the Host check keeps out pages on other sites that rebind their own name to
 * 127.0.0.1 (DNS rebinding), since their requests carry their own host name; the forwarding headers keep out the
 * visitors of a reverse proxy on this machine, whose connections come from a loopback address too.
 */
export function isLocalSession(peer: string | undefined, headers: IncomingHttpHeaders): boolean {
  const { host } = headers
  if (peer === undefined || host === undefined || !isLoopbackHost(peer.replace(/^::ffff:/, ''))) return false
  if (isForwarded(headers)) return false
  const name = /^(?:\[([^\]]*)\]|([^:[\]]*))(?::\d+)?$/.exec(host)
  const bare = name?.[1] ?? name?.[2]
  return bare !== undefined && isLoopbackHost(bare.toLowerCase())
}

/**
 * The web dashboard at `/` (issue 7): a page of the metrics API's public endpoints only, with its script and style
 * under `/dashboard/`. The page itself needs no key; its calls to `/v1/*` carry the reader key the user gives it, or
 * the local one (see DashboardOptions).
 */
export async function registerDashboard(app: FastifyInstance, options: DashboardOptions = {}): Promise<void> {
  const page = asset(fs.readFileSync(path.join(web, 'index.html'), 'utf8'), 'text/html; charset=utf-8')
  const style = asset(fs.readFileSync(path.join(web, 'app.css'), 'utf8'), 'text/css; charset=utf-8')
  const script = await dashboardScript()
  const open = { schema: { hide: true }, logLevel: 'warn' } as const
  app.get('/', open, (request, reply) =>
    send(reply.header('content-security-policy', contentSecurityPolicy), page, request.headers['if-none-match']),
  )
  app.get('/dashboard/app.js', open, (request, reply) => send(reply, script, request.headers['if-none-match']))
  app.get('/dashboard/app.css', open, (request, reply) => send(reply, style, request.headers['if-none-match']))
  const { localReaderKey } = options
  app.get('/dashboard/session', open, (request, reply) => {
    reply.header('cache-control', 'no-store')
    if (localReaderKey === undefined || !isLocalSession(request.socket.remoteAddress, request.headers)) {
      throw new OmnistitchError(
        'OMNI_ERR_API_NOT_FOUND',
        'no key is handed out here: sign in with a reader key (from OMNISTITCH_API_KEYS or <data dir>/api-reader-key)',
      )
    }
    return reply.send({ key: localReaderKey })
  })
}
