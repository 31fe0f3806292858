import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { isLoopbackHost, readerKeyOf } from '../queries/api-keys.ts'
import { migrate } from '../runtime/clickhouse-migrations.ts'
import type { Store } from '../runtime/clickhouse-store.ts'
import { testApiServer } from '../test/api-fixture.ts'
import { openTestStore, testLogger, testReaderKey } from '../test/helpers.ts'
import { isLocalSession } from './server.ts'

describe('a local session', () => {
  it('is a loopback peer that addressed the server by a loopback name', () => {
    expect(isLocalSession('127.0.0.1', { host: '127.0.0.1:8080' })).toBe(true)
    expect(isLocalSession('::1', { host: '[::1]:8080' })).toBe(true)
    expect(isLocalSession('::ffff:127.0.0.1', { host: 'LocalHost:8080' })).toBe(true)
    expect(isLocalSession('127.0.0.1', { host: 'localhost' })).toBe(true)
  })

  it('is not another machine, nor a page of another site whose name was rebound to 127.0.0.1', () => {
    expect(isLocalSession('10.0.0.7', { host: '127.0.0.1:8080' })).toBe(false)
    expect(isLocalSession('127.0.0.1', { host: 'evil.example:8080' })).toBe(false)
    expect(isLocalSession('127.0.0.1', { host: 'localhost.evil.example' })).toBe(false)
    expect(isLocalSession('127.0.0.1', { host: '[::1].evil.example' })).toBe(false)
    expect(isLocalSession('127.0.0.1', {})).toBe(false)
    expect(isLocalSession(undefined, { host: '127.0.0.1' })).toBe(false)
  })

  it('is not a visitor of a reverse proxy on this machine, whatever it says the client was', () => {
    const host = '127.0.0.1:8080'
    expect(isLocalSession('127.0.0.1', { host, 'x-forwarded-for': '127.0.0.1' })).toBe(false)
    expect(isLocalSession('127.0.0.1', { host, 'x-forwarded-ssl': 'on' })).toBe(false)
    expect(isLocalSession('::1', { host: '[::1]:8080', forwarded: 'for="[::1]"' })).toBe(false)
    expect(isLocalSession('127.0.0.1', { host, 'user-agent': 'curl/8', 'x-request-id': 'a1' })).toBe(true)
  })

  it('is offered only by a server that listens on a loopback address', () => {
    expect(['127.0.0.1', '127.1.2.3', 'localhost', '::1'].filter(isLoopbackHost)).toHaveLength(4)
    expect(['0.0.0.0', '::', '192.168.1.5', 'example.com', '127.0.0.1.example.com'].filter(isLoopbackHost)).toEqual([])
    expect(readerKeyOf({ a: 'admin', r: 'reader' })).toBe('r')
    expect(readerKeyOf({ a: 'admin' })).toBeUndefined()
  })
})

describe('GET /dashboard/session', () => {
  let store: Store
  let local: FastifyInstance
  let remote: FastifyInstance

  beforeAll(async () => {
    store = await openTestStore()
    await migrate(store, { logger: testLogger })
    local = await testApiServer(store, { dashboard: { localReaderKey: testReaderKey } })
    remote = await testApiServer(store, { dashboard: true })
  }, 60_000)

  afterAll(async () => {
    await local?.close()
    await remote?.close()
    await store?.close()
  })

  const ask = (app: FastifyInstance, remoteAddress: string, host: string) =>
    app.inject({ method: 'GET', url: '/dashboard/session', remoteAddress, headers: { host } })

  it('hands the reader key to a browser on this machine, never to be cached', async () => {
    const response = await ask(local, '127.0.0.1', '127.0.0.1:8080')
    expect(response.statusCode).toBe(200)
    expect(response.json()).toEqual({ key: testReaderKey })
    expect(response.headers['cache-control']).toBe('no-store')
  })

  it('answers 404 to other machines, to rebound host names, and on a server that keeps no local key', async () => {
    for (const [app, peer, host] of [
      [local, '192.168.1.20', '127.0.0.1:8080'],
      [local, '127.0.0.1', 'evil.example:8080'],
      [remote, '127.0.0.1', '127.0.0.1:8080'],
    ] as const) {
      const response = await ask(app, peer, host)
      expect(response.statusCode, `${peer} ${host}`).toBe(404)
      expect(response.body).not.toContain(testReaderKey)
      expect(response.json()).toMatchObject({ error: { code: 'OMNI_ERR_API_NOT_FOUND' } })
    }
  })

  it.each([
    ['x-forwarded-for', '203.0.113.9'],
    ['x-forwarded-host', '127.0.0.1:8080'],
    ['x-forwarded-proto', 'https'],
    ['x-forwarded-port', '443'],
    ['forwarded', 'for=203.0.113.9;proto=https'],
    ['x-real-ip', '203.0.113.9'],
    ['x-client-ip', '203.0.113.9'],
    ['x-cluster-client-ip', '203.0.113.9'],
    ['cf-connecting-ip', '203.0.113.9'],
    ['true-client-ip', '203.0.113.9'],
    ['fastly-client-ip', '203.0.113.9'],
    ['via', '1.1 proxy.example'],
    // A proxy on this machine names itself: the header still says the request came through it.
    ['x-forwarded-for', '127.0.0.1'],
  ])('answers 404 to a loopback request that came through a proxy (%s: %s)', async (name, value) => {
    const response = await local.inject({
      method: 'GET',
      url: '/dashboard/session',
      remoteAddress: '127.0.0.1',
      headers: { host: '127.0.0.1:8080', [name]: value },
    })
    expect(response.statusCode).toBe(404)
    expect(response.body).not.toContain(testReaderKey)
    expect(response.json()).toMatchObject({ error: { code: 'OMNI_ERR_API_NOT_FOUND' } })
  })
})
