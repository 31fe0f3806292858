import http from 'node:http'
import type { AddressInfo } from 'node:net'
import type { FastifyInstance } from 'fastify'
import { pino } from 'pino'
import { Registry } from 'prom-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { errorCatalogue } from '../runtime/errors.ts'
import { apiOnEvents } from '../test/api-fixture.ts'
import { eventAt, webOrder } from '../test/fixtures/events.ts'
import { asAdmin, asReader } from '../test/helpers.ts'

/**
 * Every route the metrics API registers, sent every kind of malformed request: bad, huge and non-finite numbers in
 * each numeric parameter, unknown enum values, over-long strings, times JavaScript or the engine cannot hold, broken
 * and deep JSON bodies, wrong content types, bad path parameters and path traversal. Each must be refused with a 4xx
 * in the API's error shape (or answered), never 500, and nothing may be logged as a server error. The routes are read
 * from the server itself, and their parameters from its OpenAPI document, so a new route or parameter is covered
 * without touching this file.
 */

const day = 86_400_000
const t0 = Date.parse('2026-05-10T10:00:00Z')

/** Journeys with touches days apart, so that time decay, Markov chains and LTV fits all have something to work on. */
const events = Array.from({ length: 6 }, (_, index) => {
  const customer = { customer_id: `C-${index}`, anonymous_id: `ck-${index}` }
  return [
    eventAt('messaging', t0 - 3 * day, {
      channel: 'email',
      event_type: 'clicked',
      source: 'esp',
      identifiers: { anonymous_id: `ck-${index}` },
    }),
    eventAt('digital', t0 - day + index * 60_000, { channel: 'web', event_type: 'page_view', identifiers: customer }),
    eventAt('order', t0 + index * 3_600_000, {
      ...webOrder,
      event_type: 'order_created',
      amount_minor: 10_000 * (index + 1),
      identifiers: { ...customer, order_id: `O-${index}` },
    }),
  ]
}).flat()

interface Route {
  readonly method: string
  /** As registered: `/v1/persons/:identifier`, `/docs/*`. */
  readonly url: string
}

/**
 * The routes of a Fastify app, from its route tree (`printRoutes` with `commonPrefix: false`): each line is a path
 * segment under the line above it, indented four characters a level, with its methods in brackets.
 */
function routesOf(app: FastifyInstance): Route[] {
  const routes: Route[] = []
  const prefixes: string[] = []
  for (const line of app.printRoutes({ commonPrefix: false }).split('\n')) {
    const match = /^((?:[│ ] {3})*)[└├]── (\S+)(?: \(([^)]+)\))?$/.exec(line)
    if (match === null) continue
    const depth = (match[1] ?? '').length / 4
    const url = (prefixes[depth - 1] ?? '') + (match[2] ?? '')
    prefixes[depth] = url
    for (const method of match[3]?.split(', ') ?? []) routes.push({ method, url })
  }
  return routes
}

interface Parameter {
  readonly name: string
  readonly in: string
  readonly required?: boolean
  readonly schema: {
    readonly type?: string
    readonly enum?: readonly string[]
    readonly format?: string
    readonly pattern?: string
  }
}

interface Operation {
  readonly parameters?: readonly Parameter[]
  readonly responses: Readonly<Record<string, unknown>>
}

type OpenApiPaths = Readonly<Record<string, Readonly<Record<string, Operation>>>>

/** The OpenAPI operation of a route (HEAD is documented as its GET), or undefined for an undocumented route. */
function operationOf(paths: OpenApiPaths, route: Route): Operation | undefined {
  const path = route.url.replace(/:(\w+)/g, '{$1}')
  return paths[path]?.[route.method === 'HEAD' ? 'get' : route.method.toLowerCase()]
}

/** A well-formed value of each required parameter that has no other default here. */
const validValues: Readonly<Record<string, string>> = { steps: 'page_view,order_created' }

/** A range over the journeys above: whole days (the daily aggregates answer) and not (the events answer). */
const ranges = [
  'from=2026-05-01T00:00:00Z&to=2026-06-01T00:00:00Z',
  'from=2026-05-01T00:00:01Z&to=2026-06-01T00:00:00Z',
]

const badNumbers = [
  '1e20',
  '-1e20',
  '1e400',
  '-1e400',
  'Infinity',
  '-Infinity',
  'NaN',
  '-1',
  '0',
  '0.5',
  '1e-300',
  '1e-400',
  '9007199254740993',
  '9'.repeat(400),
  '0x10',
  ' 7',
  'abc',
  '',
  '1,2',
]
const badTimes = [
  'yesterday',
  '2026-02-30T00:00:00Z',
  '2026-12-31T23:59:60Z',
  '0000-01-01T00:00:00Z',
  '1899-12-31T23:59:59Z',
  '1964-11-11T08:40:11Z',
  '9999-12-31T23:59:59Z',
  '2026-05-01T00:00:00+23:59',
  '2026-05-01T00:00:00.123456789Z',
]
const badStrings = ['', 'x'.repeat(100_000), '\u0000', 'a,,b', '../../etc/passwd', 'ünïcödé', "'; DROP TABLE x; --"]
const badIdentifiers = [
  'x'.repeat(600),
  'x'.repeat(2000),
  'customer:' + 'x'.repeat(500),
  'email:%00',
  'phone:+',
  'customer:%2e%2e%2f%2e%2e%2fpackage.json',
  '%E0%A4%A',
  '%',
  'pers_zzzzzzzzzzzzzzzz',
]

/** A malformed request: what it is, and what to send. */
interface Probe {
  readonly kind: string
  readonly url: string
  readonly headers?: Readonly<Record<string, string>>
  readonly payload?: string | Buffer
}

/** The malformed values of a parameter by what its schema says it is; every value of every kind for any string. */
function badValuesOf(parameter: Parameter): readonly string[] {
  const { type, enum: allowed, format } = parameter.schema
  if (type === 'number' || type === 'integer') return badNumbers
  if (type === 'boolean') return ['maybe', '2', '', 'TRUE']
  if (allowed !== undefined) return ['not_a_value', allowed.join(','), ...badStrings]
  if (format === 'date-time') return [...badTimes, ...badStrings]
  return [...badStrings, ...badNumbers]
}

/** Every probe of one route. */
function probesOf(route: Route, operation: Operation | undefined): Probe[] {
  const parameters = operation?.parameters ?? []
  const concrete = (identifier: string) => route.url.replace(/:\w+/g, identifier).replace('*', 'static/no-such-file.js')
  const path = concrete('customer:C-1')
  const query = (assignments: readonly string[]) => (assignments.length === 0 ? '' : `?${assignments.join('&')}`)
  const required = parameters
    .filter((parameter) => parameter.in === 'query' && parameter.required === true)
    .map((parameter) => {
      const value = validValues[parameter.name]
      if (value === undefined) throw new Error(`no valid value for the required parameter ${parameter.name}`)
      return `${parameter.name}=${value}`
    })
  const takesRange = parameters.some((parameter) => parameter.name === 'from')
  const probes: Probe[] = []

  // HEAD runs its GET's handler: the parameters are swept through the GET, the rest is sent to both.
  const swept = route.method === 'HEAD' ? [] : parameters.filter((candidate) => candidate.in === 'query')
  for (const parameter of swept) {
    const others = required.filter((assignment) => !assignment.startsWith(`${parameter.name}=`))
    const numeric = parameter.schema.type === 'number' || parameter.schema.type === 'integer'
    const bases = takesRange && parameter.name !== 'from' && parameter.name !== 'to' ? ranges : ['']
    for (const base of numeric ? bases : bases.slice(0, 1)) {
      for (const value of badValuesOf(parameter)) {
        const assignments = [
          ...(base === '' ? [] : [base]),
          ...others,
          `${parameter.name}=${encodeURIComponent(value)}`,
        ]
        probes.push({ kind: `${parameter.name}=${value.slice(0, 40)}`, url: path + query(assignments) })
      }
    }
    probes.push({
      kind: `${parameter.name} twice`,
      url: path + query([...others, `${parameter.name}=1`, `${parameter.name}=2`]),
    })
  }
  if (route.url.includes(':') && route.method !== 'HEAD') {
    for (const identifier of badIdentifiers) {
      probes.push({ kind: `path parameter ${identifier.slice(0, 40)}`, url: concrete(identifier) + query(required) })
    }
  }
  const url = path + query(required)
  probes.push(
    { kind: 'unknown parameter', url: path + query([...required, 'colour=red']) },
    { kind: 'over-long query', url: path + query([...required, `colour=${'x'.repeat(200_000)}`]) },
    { kind: 'format=xml', url: path + query([...required, 'format=xml']) },
    { kind: 'Accept: CSV', url, headers: { accept: 'text/csv' } },
    { kind: 'Accept: Arrow', url, headers: { accept: 'application/vnd.apache.arrow.stream' } },
    { kind: 'Accept: junk', url, headers: { accept: 'x/y;q=abc, */*;;' } },
    { kind: 'no key', url, headers: { authorization: '' } },
    { kind: 'reader key', url, headers: asReader },
    { kind: 'Basic auth', url, headers: { authorization: 'Basic dXNlcjpwYXNz' } },
    { kind: 'over-long key', url, headers: { authorization: `Bearer ${'k'.repeat(10_000)}` } },
    { kind: 'malformed JSON body', url, headers: { 'content-type': 'application/json' }, payload: '{"bad": ' },
    { kind: 'empty JSON body', url, headers: { 'content-type': 'application/json' }, payload: '' },
    { kind: 'XML body', url, headers: { 'content-type': 'text/xml' }, payload: '<refresh/>' },
    { kind: 'body without content type', url, headers: { 'content-type': '' }, payload: 'hello' },
    { kind: 'malformed content type', url, headers: { 'content-type': 'application/json; ===' }, payload: '{}' },
    {
      kind: 'oversized JSON body',
      url,
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ padding: 'x'.repeat(2 * 1024 * 1024) }),
    },
    {
      kind: 'deep JSON array body',
      url,
      headers: { 'content-type': 'application/json' },
      payload: '['.repeat(200_000) + ']'.repeat(200_000),
    },
    {
      kind: 'deep JSON object body',
      url,
      headers: { 'content-type': 'application/json' },
      payload: '{"a":'.repeat(100_000) + '1' + '}'.repeat(100_000),
    },
    {
      kind: 'prototype-poisoning JSON body',
      url,
      headers: { 'content-type': 'application/json' },
      payload: '{"__proto__": {"admin": true}, "constructor": {"prototype": {"admin": true}}}',
    },
    { kind: 'non-finite JSON number body', url, headers: { 'content-type': 'application/json' }, payload: '[1e400]' },
  )
  return probes
}

/** Paths with `..` or encoded separators, sent as they are: inject (like a browser) would resolve the dots first. */
function traversalsOf(route: Route): string[] {
  const path = route.url.replace(/:\w+/g, 'customer:C-1').replace('*', 'static/x')
  return [
    `${path}/../../package.json`,
    `${path}/%2e%2e/%2e%2e/package.json`,
    `${path}/..%2f..%2fpackage.json`,
    `${path}/..\\..\\package.json`,
    `${path}/%00`,
  ]
}

/** Sends a GET with the path exactly as given, as `curl --path-as-is` does. */
function getAsIs(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = http.request(
      { host: '127.0.0.1', port, path, method: 'GET', headers: asAdmin, agent: false },
      (response) => {
        let body = ''
        response.setEncoding('utf8')
        response.on('data', (chunk: string) => (body += chunk))
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body }))
      },
    )
    request.on('error', reject)
    request.end()
  })
}

describe('the metrics API answers malformed requests with a 4xx naming what is wrong, never a 500', () => {
  let app: FastifyInstance
  let close: () => Promise<void>
  const logged: { level: number; msg?: string; err?: { message?: string } }[] = []
  /** Statuses each route was seen to answer, by `METHOD url` as registered. */
  const seen = new Map<string, Set<number>>()
  const failures: string[] = []

  /** Records an answer: a failure when it is a 5xx, or a 4xx not in the API's error shape with a catalogue code. */
  function check(route: Route, kind: string, method: string, status: number, body: string, attributable: boolean) {
    const key = `${route.method} ${route.url}`
    if (attributable) seen.set(key, (seen.get(key) ?? new Set()).add(status))
    const where = `${method} ${route.url} [${kind}] → ${status}`
    if (status >= 500) failures.push(`${where}: ${body.slice(0, 200)}`)
    if (status < 400 || method === 'HEAD') return
    let code: unknown
    try {
      code = (JSON.parse(body) as { error?: { code?: unknown } }).error?.code
    } catch {
      code = undefined
    }
    const entry = typeof code === 'string' ? errorCatalogue[code as keyof typeof errorCatalogue] : undefined
    if (entry === undefined) failures.push(`${where}: not the API's error shape: ${body.slice(0, 200)}`)
    else if (entry.status !== status) failures.push(`${where}: ${String(code)} is ${entry.status} in the catalogue`)
  }

  beforeAll(async () => {
    const logger = pino(
      { level: 'info' },
      { write: (line: string) => logged.push(JSON.parse(line) as (typeof logged)[number]) },
    )
    ;({ app, close } = await apiOnEvents(events, {
      logger,
      // With /metrics and the dashboard, as `omnistitch start` serves them: every route the server can have.
      metrics: new Registry(),
      dashboard: true,
      rateLimitPerMinute: 1_000_000_000,
    }))
  })

  afterAll(async () => {
    await close?.()
  })

  it('for every route and every malformed kind, through inject', async () => {
    const paths = (app.swagger() as unknown as { paths: OpenApiPaths }).paths
    const routes = routesOf(app)
    expect(routes.map((route) => `${route.method} ${route.url}`)).toEqual(
      expect.arrayContaining([
        'GET /v1/attribution',
        'POST /v1/admin/refresh',
        'GET /docs/*',
        'GET /metrics',
        'GET /dashboard/session',
      ]),
    )
    let sent = 0
    for (const route of routes) {
      const operation = operationOf(paths, route)
      for (const probe of probesOf(route, operation)) {
        const method = route.method as 'GET' | 'HEAD' | 'POST'
        const withBody = probe.payload !== undefined && method === 'POST'
        // A GET or HEAD has no body: Fastify does not read one, so only the headers of those probes are sent.
        const response = await app.inject({
          method,
          url: probe.url,
          headers: { ...asAdmin, ...probe.headers },
          ...(withBody ? { payload: probe.payload } : {}),
        })
        sent += 1
        // Bad URL encodings are refused before routing: that answer is not the route's.
        const attributable = !probe.kind.startsWith('path parameter %')
        check(route, probe.kind, method, response.statusCode, response.body, attributable)
      }
    }
    expect(sent).toBeGreaterThan(1000)
    expect(failures).toEqual([])
  })

  it('for every route, with `..` and encoded separators in the path sent as they are', async () => {
    await app.listen({ host: '127.0.0.1', port: 0 })
    const port = (app.server.address() as AddressInfo).port
    const extra = ['/docs/static/../../package.json', '/docs/static/..%2f..%2fpackage.json', '/docs/static/%00']
    for (const route of routesOf(app).filter((candidate) => candidate.method === 'GET')) {
      for (const path of [...traversalsOf(route), ...extra]) {
        const { status, body } = await getAsIs(port, path)
        check(route, `as-is ${path.slice(0, 60)}`, 'GET', status, body, false)
        if (path.endsWith('package.json')) expect(body, path).not.toContain('"devDependencies"')
      }
    }
    expect(failures).toEqual([])
  })

  it('logs no refused request as a server error', () => {
    const serverErrors = logged.filter((line) => line.level >= 50)
    expect(serverErrors.map((line) => `${line.msg ?? ''}: ${line.err?.message ?? ''}`)).toEqual([])
    expect(logged.some((line) => line.msg === 'request refused')).toBe(true)
  })

  it('documents, for each route, every status it was seen to answer', () => {
    const paths = (app.swagger() as unknown as { paths: OpenApiPaths }).paths
    const undeclared: string[] = []
    for (const route of routesOf(app)) {
      const operation = operationOf(paths, route)
      if (operation === undefined) continue
      const declared = new Set(Object.keys(operation.responses))
      const statuses = [...(seen.get(`${route.method} ${route.url}`) ?? [])]
      for (const status of statuses) {
        if (!declared.has(String(status))) undeclared.push(`${route.method} ${route.url}: ${status}`)
      }
    }
    expect(seen.size).toBeGreaterThan(10)
    expect(undeclared).toEqual([])
  })
})
