import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { hasErrorCode } from '../runtime/errors.ts'
import { createConfluentSchemaRegistry } from './confluent-schema-registry.ts'
import { frame } from './confluent-wire-format.ts'
import { loadSchemaCatalog } from './schema-catalog.ts'
import { decodeEvent, encodeEvent } from './schema-registry.ts'

/**
 * A Schema Registry that speaks the part of the Confluent REST API a client uses: register a schema under a subject
 * (the same schema gets the same id), and fetch a schema by id. This checks the client's side of the contract; the
 * test suite cannot start a real registry here (see the closing notes of issue 3 for what was checked by hand).
 */
function startRegistry(): Promise<{ url: string; requests: string[]; close: () => Promise<void> }> {
  const schemas: string[] = []
  const requests: string[] = []
  const compatibility = new Map<string, string>()
  const server = http.createServer((request, response) => {
    let body = ''
    request.on('data', (chunk: Buffer) => (body += chunk.toString()))
    request.on('end', () => {
      requests.push(`${request.method} ${request.url}`)
      response.setHeader('content-type', 'application/vnd.schemaregistry.v1+json')
      const register = /^\/subjects\/([^/]+)\/versions$/.exec(request.url ?? '')
      const byId = /^\/schemas\/ids\/(\d+)$/.exec(request.url ?? '')
      const config = /^\/config\/([^/]+)$/.exec(request.url ?? '')
      if (config && request.method === 'GET') {
        const level = compatibility.get(config[1] ?? '')
        response.statusCode = level === undefined ? 404 : 200
        response.end(
          JSON.stringify(
            level === undefined ? { error_code: 40401, message: 'Subject not found' } : { compatibilityLevel: level },
          ),
        )
      } else if (config && request.method === 'PUT') {
        const { compatibility: level } = JSON.parse(body) as { compatibility: string }
        compatibility.set(config[1] ?? '', level)
        response.end(JSON.stringify({ compatibility: level }))
      } else if (request.method === 'POST' && register) {
        const { schema } = JSON.parse(body) as { schema: string }
        let id = schemas.indexOf(schema) + 1
        if (id === 0) id = schemas.push(schema)
        response.end(JSON.stringify({ id: id + 100 }))
      } else if (request.method === 'GET' && byId) {
        const schema = schemas[Number(byId[1]) - 101]
        if (schema === undefined) {
          response.statusCode = 404
          response.end(JSON.stringify({ error_code: 40403, message: 'Schema not found' }))
        } else {
          response.end(JSON.stringify({ schema }))
        }
      } else {
        response.statusCode = 404
        response.end(JSON.stringify({ error_code: 404, message: 'Not found' }))
      }
    })
  })
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo
      resolve({
        url: `http://127.0.0.1:${port}`,
        requests,
        close: () => new Promise((done) => server.close(() => done())),
      })
    })
  })
}

describe('the Confluent-compatible Schema Registry client', () => {
  const catalog = loadSchemaCatalog()
  let registry: Awaited<ReturnType<typeof startRegistry>>

  beforeAll(async () => {
    registry = await startRegistry()
  })

  afterAll(async () => {
    await registry?.close()
  })

  it('registers a family once under its record name and round-trips events through the ids it gets', async () => {
    const client = createConfluentSchemaRegistry({ url: registry.url, catalog })
    const type = catalog.latest('call')?.type
    if (type === undefined) throw new Error('no call schema')
    const value: unknown = type.random()
    const first = await encodeEvent(client, { family: 'call', value } as never)
    await encodeEvent(client, { family: 'call', value } as never)
    expect(first.readInt32BE(1)).toBe(101)
    expect(registry.requests.filter((line) => !line.startsWith('GET /schemas'))).toEqual([
      'GET /config/dev.omnistitch.capture.CallEvent',
      'POST /subjects/dev.omnistitch.capture.CallEvent/versions',
      'PUT /config/dev.omnistitch.capture.CallEvent',
    ])

    const reader = createConfluentSchemaRegistry({ url: registry.url, catalog })
    const decoded = await decodeEvent(reader, first)
    await decodeEvent(reader, first)
    expect(decoded.event.family).toBe('call')
    expect(type.toBuffer(decoded.event.value).equals(type.toBuffer(value))).toBe(true)
    expect(registry.requests.filter((line) => line === 'GET /schemas/ids/101')).toHaveLength(1)
  })

  it('reads a record written with an older version into the newest shape', async () => {
    const client = createConfluentSchemaRegistry({ url: registry.url, catalog })
    const older = catalog.entries.find((entry) => entry.family === 'digital' && entry.version === 1)
    if (older === undefined) throw new Error('no digital v1')
    // Register v1 by hand, as an older producer would have.
    const response = await fetch(`${registry.url}/subjects/${older.subject}/versions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ schema: JSON.stringify(older.type.schema()) }),
    })
    const { id } = (await response.json()) as { id: number }
    const value = older.type.random() as unknown as Record<string, unknown>
    const decoded = await decodeEvent(client, frame(id, older.type.toBuffer(value)))
    expect(decoded.event.family).toBe('digital')
    expect(decoded.event.value).toMatchObject({ event_id: value['event_id'], session_id: null })
  })

  it('answers an unknown id with OMNI_ERR_SCHEMA_UNKNOWN_ID naming the registry', async () => {
    const client = createConfluentSchemaRegistry({ url: registry.url, catalog, retries: 0 })
    const error = await client.readerFor(999).catch((caught: unknown) => caught)
    expect(hasErrorCode(error, 'OMNI_ERR_SCHEMA_UNKNOWN_ID')).toBe(true)
    expect((error as Error).message).toBe(`schema id 999 is not known to the Schema Registry at ${registry.url}`)
  })

  it('does not call an id unknown when the URL is not the registry base (a 404 without error code 40403)', async () => {
    const client = createConfluentSchemaRegistry({ url: `${registry.url}/not-the-registry/`, catalog, retries: 0 })
    const error = await client.readerFor(101).catch((caught: unknown) => caught)
    expect(hasErrorCode(error, 'OMNI_ERR_SCHEMA_REGISTRY_UNAVAILABLE')).toBe(true)
    expect((error as Error).message).toMatch(/HTTP 404: .*is the URL the registry's base URL\?/)
  })

  it('registers schemas with their field defaults, so the registry can judge compatibility', async () => {
    const client = createConfluentSchemaRegistry({ url: registry.url, catalog })
    const { id } = await client.writerFor('digital')
    const stored = (await (await fetch(`${registry.url}/schemas/ids/${id}`)).json()) as { schema: string }
    expect(stored.schema).toContain('"default"')
  })

  it('gives a clear, retriable error when the registry cannot be reached', async () => {
    const client = createConfluentSchemaRegistry({ url: 'http://127.0.0.1:9', catalog, retries: 0 })
    const error = await client.writerFor('order').catch((caught: unknown) => caught)
    expect(hasErrorCode(error, 'OMNI_ERR_SCHEMA_REGISTRY_UNAVAILABLE')).toBe(true)
    expect((error as { retriable: boolean }).retriable).toBe(true)
    expect((error as Error).message).toMatch(
      /^Schema Registry at http:\/\/127\.0\.0\.1:9: registering dev\.omnistitch\.capture\.OrderEvent failed/,
    )
  })
})
