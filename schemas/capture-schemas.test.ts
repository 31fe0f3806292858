import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { hasErrorCode } from '../runtime/errors.ts'
import { channels, completeRecord, findSchemaErrors, type Family } from './capture-events.ts'
import { frame, unframe } from './confluent-wire-format.ts'
import { defaultAvroDir, loadSchemaCatalog } from './schema-catalog.ts'
import { checkEvolution, writeMissingFixtures } from './schema-evolution.ts'
import { createEmbeddedSchemaRegistry, decodeEvent, encodeEvent } from './schema-registry.ts'
import { runSchemaCheck } from './schema-tools.ts'

const catalog = loadSchemaCatalog()

describe('every capture schema', () => {
  it.each(catalog.entries.map((entry) => [`${entry.family} v${entry.version}`, entry] as const))(
    '%s round-trips random valid records and names the field of an invalid one',
    (_label, entry) => {
      for (let round = 0; round < 50; round += 1) {
        const value: unknown = entry.type.random()
        expect(findSchemaErrors(entry.type, value)).toEqual([])
        const decoded: unknown = entry.type.fromBuffer(entry.type.toBuffer(value))
        expect(entry.type.toBuffer(decoded).equals(entry.type.toBuffer(value))).toBe(true)
      }
      const broken = { ...(entry.type.random() as unknown as Record<string, unknown>) }
      const firstField = (entry.type.schema() as { fields: { name: string }[] }).fields[0]?.name ?? ''
      broken[firstField] = { not: 'valid' }
      expect(findSchemaErrors(entry.type, broken)[0]).toMatch(new RegExp(`^${firstField}: expected `))
    },
  )

  it('shares one Channel list with the code', () => {
    const digital = catalog.latest('digital')?.type.schema() as {
      fields: { name: string; type: { symbols?: string[] } }[]
    }
    expect(digital.fields.find((field) => field.name === 'channel')?.type.symbols).toEqual([...channels])
  })

  it('fills defaults and names nested bad fields by path', () => {
    const type = catalog.latest('receipt')?.type
    if (type === undefined) throw new Error('no receipt schema')
    const { errors } = completeRecord(type, {
      event_id: '00000000-0000-4000-8000-000000000000',
      event_time: 1,
      received_at: 1,
      channel: 'store',
      event_type: 'pos_receipt',
      store_id: 's',
      receipt_number: 'r',
      items: [{ sku: 'A', quantity: 1, price_minor: 1.5, amount_minor: 1 }],
      total_minor: 1,
      currency: 'RUB',
      payment_method: 'crypto',
      identifiers: { loyalty_card: 42 },
    })
    expect(errors).toEqual([
      'identifiers.loyalty_card: expected null or a string (got 42)',
      'items.0.price_minor: expected a whole number (got 1.5)',
      expect.stringMatching(/^payment_method: expected one of card, cash, sbp, .* \(got "crypto"\)$/),
    ])
  })
})

describe('the embedded registry and the wire format', () => {
  const registry = createEmbeddedSchemaRegistry(catalog)

  it('writes each family with its newest id and reads every id back in the newest shape', async () => {
    const older = catalog.entries.find((entry) => entry.family === 'digital' && entry.version === 1)
    const newest = catalog.latest('digital')
    if (older === undefined || newest === undefined) throw new Error('digital needs v1 and a newer version')
    expect((await registry.writerFor('digital')).id).toBe(newest.id)
    const oldValue = older.type.random() as unknown as Record<string, unknown>
    const decoded = await decodeEvent(registry, frame(older.id, older.type.toBuffer(oldValue)))
    expect(decoded.schemaId).toBe(older.id)
    expect(decoded.event.family).toBe('digital')
    expect(decoded.event.value).toMatchObject({ event_id: oldValue['event_id'], session_id: null })
  })

  it.each(catalog.families())('round-trips a %s event through the Confluent wire format', async (family) => {
    const type = catalog.latest(family)?.type
    if (type === undefined) throw new Error(family)
    const value: unknown = type.random()
    const record = await encodeEvent(registry, { family: family as Family, value } as never)
    expect(unframe(record).schemaId).toBe(catalog.latest(family)?.id)
    const decoded = await decodeEvent(registry, record)
    expect(type.toBuffer(decoded.event.value).equals(type.toBuffer(value))).toBe(true)
  })

  it('rejects an unknown id and a corrupt body by code', async () => {
    const unknown = await decodeEvent(registry, frame(9999, Buffer.from([1]))).catch((error: unknown) => error)
    expect(hasErrorCode(unknown, 'OMNI_ERR_SCHEMA_UNKNOWN_ID')).toBe(true)
    const digital = catalog.latest('digital')?.id ?? 0
    const corrupt = await decodeEvent(registry, frame(digital, Buffer.from([1, 2, 3]))).catch((error: unknown) => error)
    expect(hasErrorCode(corrupt, 'OMNI_ERR_SCHEMA_WIRE_FORMAT')).toBe(true)
  })
})

describe('schemas:check', () => {
  function copyOfSchemas(): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'omnistitch-schemas-'))
    fs.cpSync(defaultAvroDir, dir, { recursive: true })
    return dir
  }

  function addVersion(
    dir: string,
    family: string,
    change: (schema: { fields: Record<string, unknown>[] }) => void,
  ): void {
    const versions = fs.readdirSync(path.join(dir, family)).filter((name) => /^v\d+\.avsc$/.test(name))
    const schema = JSON.parse(fs.readFileSync(path.join(dir, family, `v${versions.length}.avsc`), 'utf8')) as {
      fields: Record<string, unknown>[]
    }
    change(schema)
    fs.writeFileSync(path.join(dir, family, `v${versions.length + 1}.avsc`), JSON.stringify(schema))
  }

  it('passes on the shipped schemas, with current ids, fixtures and generated types', async () => {
    const result = await runSchemaCheck()
    expect(result.lines.filter((line) => line.startsWith('FAIL'))).toEqual([])
    expect(result.ok).toBe(true)
  })

  it('accepts a compatible change: a new optional field with a default', () => {
    const dir = copyOfSchemas()
    addVersion(dir, 'call', (schema) => schema.fields.push({ name: 'queue', type: ['null', 'string'], default: null }))
    writeMissingFixtures(dir)
    expect(checkEvolution(dir).problems).toEqual([])
  })

  it.each([
    [
      'a new field without a default',
      (schema: { fields: Record<string, unknown>[] }) => schema.fields.push({ name: 'queue', type: 'string' }),
    ],
    [
      'a field whose type changed',
      (schema: { fields: Record<string, unknown>[] }) => {
        const field = schema.fields.find((entry) => entry.name === 'call_id')
        if (field) field['type'] = 'long'
      },
    ],
  ])('fails on a deliberately incompatible change: %s', (_name, change) => {
    const dir = copyOfSchemas()
    addVersion(dir, 'call', change)
    writeMissingFixtures(dir)
    const { problems } = checkEvolution(dir)
    expect(problems.join('\n')).toMatch(/call v2 reads v1: incompatible/)
  })

  it('fails when a released version is edited after it got its id', async () => {
    const dir = copyOfSchemas()
    const file = path.join(dir, 'order', 'v1.avsc')
    const schema = JSON.parse(fs.readFileSync(file, 'utf8')) as { fields: Record<string, unknown>[] }
    schema.fields.push({ name: 'extra', type: ['null', 'string'], default: null })
    fs.writeFileSync(file, JSON.stringify(schema))
    const result = await runSchemaCheck(dir)
    expect(result.ok).toBe(false)
    expect(result.lines.join('\n')).toMatch(/order\/v1\.avsc has changed since it was registered as id \d+/)
  })

  it('fails when golden bytes no longer decode', () => {
    const dir = copyOfSchemas()
    const bytes = path.join(dir, 'receipt', 'fixtures', 'v1.avro')
    fs.writeFileSync(bytes, fs.readFileSync(bytes).subarray(0, 20))
    expect(checkEvolution(dir).problems.join('\n')).toMatch(/receipt v1: the golden bytes no longer decode/)
  })
})
