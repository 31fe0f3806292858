import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import avro from 'avsc'

/** Where the Avro schemas live: `schemas/avro/<family>/v<N>.avsc`, plus the id manifest `registry.json`. */
export const defaultAvroDir = fileURLToPath(new URL('./avro/', import.meta.url))

/** One released version of one family's schema, with the id it is written under. */
export interface CatalogEntry {
  /** Confluent wire-format schema id; never reused, never changed once released. */
  readonly id: number
  readonly family: string
  readonly version: number
  /** Registry subject (record name strategy): the record's full name. */
  readonly subject: string
  /** SHA-256 of the schema as avsc normalises it (docs left out, defaults kept). */
  readonly fingerprint: string
  readonly file: string
  readonly type: avro.Type
}

export interface ManifestEntry {
  id: number
  family: string
  version: number
  subject: string
  fingerprint: string
}

export interface SchemaCatalog {
  readonly entries: readonly CatalogEntry[]
  byId(id: number): CatalogEntry | undefined
  /** The newest version of a family: what producers write. */
  latest(family: string): CatalogEntry | undefined
  families(): string[]
}

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/**
 * avsc reads `uuid`, `timestamp-millis` and `date` as their underlying string, long and int; these keep those
 * plain values in TypeScript while checking their range and shape.
 */
class UuidType extends avro.types.LogicalType {
  override _fromValue(value: unknown): unknown {
    return value
  }
  override _toValue(value: unknown): unknown {
    return typeof value === 'string' && uuidPattern.test(value) ? value.toLowerCase() : undefined
  }
  override _resolve(type: avro.Type): ((value: unknown) => unknown) | undefined {
    return avro.Type.isType(type, 'string', 'logical:uuid') ? (value) => value : undefined
  }
  // avsc's typings say random() returns a type; at run time it returns a value, which is what this gives.
  override random(): avro.types.LogicalType {
    return crypto.randomUUID() as unknown as avro.types.LogicalType
  }
}

class TimestampMillisType extends avro.types.LogicalType {
  override _fromValue(value: unknown): unknown {
    return value
  }
  override _toValue(value: unknown): unknown {
    return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? value : undefined
  }
  override _resolve(type: avro.Type): ((value: unknown) => unknown) | undefined {
    return avro.Type.isType(type, 'long', 'logical:timestamp-millis') ? (value) => value : undefined
  }
  override random(): avro.types.LogicalType {
    return (Date.parse('2020-01-01T00:00:00Z') + Math.floor(Math.random() * 2e11)) as unknown as avro.types.LogicalType
  }
}

class DateType extends avro.types.LogicalType {
  override _fromValue(value: unknown): unknown {
    return value
  }
  override _toValue(value: unknown): unknown {
    return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value < 2 ** 31 ? value : undefined
  }
  override _resolve(type: avro.Type): ((value: unknown) => unknown) | undefined {
    return avro.Type.isType(type, 'int', 'logical:date') ? (value) => value : undefined
  }
  override random(): avro.types.LogicalType {
    return (18_000 + Math.floor(Math.random() * 3_000)) as unknown as avro.types.LogicalType
  }
}

/** The logical types Omnistitch uses; pass to every `avro.Type.forSchema`. */
export const logicalTypes = { uuid: UuidType, 'timestamp-millis': TimestampMillisType, date: DateType }

/** Parses a schema with Omnistitch's logical types. */
export function parseSchema(schema: avro.Schema): avro.Type {
  return avro.Type.forSchema(schema, { logicalTypes })
}

export function readSchemaFile(file: string): avro.Type {
  return parseSchema(JSON.parse(fs.readFileSync(file, 'utf8')) as avro.Schema)
}

/** The fingerprint recorded in the manifest: docs may change, anything a reader depends on may not. */
export function schemaFingerprint(type: avro.Type): string {
  return crypto.createHash('sha256').update(JSON.stringify(type.schema())).digest('hex')
}

/** Schema files found on disk, by family and version, whether or not they have an id yet. */
export function listSchemaFiles(dir: string = defaultAvroDir): { family: string; version: number; file: string }[] {
  const found: { family: string; version: number; file: string }[] = []
  for (const family of fs.readdirSync(dir).sort()) {
    const familyDir = path.join(dir, family)
    if (!fs.statSync(familyDir).isDirectory()) continue
    for (const name of fs.readdirSync(familyDir)) {
      const match = /^v(\d+)\.avsc$/.exec(name)
      if (match) found.push({ family, version: Number(match[1]), file: path.join(familyDir, name) })
    }
  }
  return found.sort((a, b) => a.family.localeCompare(b.family) || a.version - b.version)
}

export function readManifest(dir: string = defaultAvroDir): ManifestEntry[] {
  const file = path.join(dir, 'registry.json')
  if (!fs.existsSync(file)) return []
  return (JSON.parse(fs.readFileSync(file, 'utf8')) as { schemas: ManifestEntry[] }).schemas
}

export function writeManifest(entries: readonly ManifestEntry[], dir: string = defaultAvroDir): void {
  const body = {
    comment: 'Schema ids of the embedded registry. Written by `npm run schemas:register`; ids never change.',
    schemas: entries,
  }
  fs.writeFileSync(path.join(dir, 'registry.json'), `${JSON.stringify(body, null, 2)}\n`)
}

/**
 * Loads every schema version with its id from the manifest. Throws when a schema file has no id yet, or has changed
 * since its id was assigned: a released version is immutable, evolution means a new `v<N+1>.avsc`.
 */
export function loadSchemaCatalog(dir: string = defaultAvroDir): SchemaCatalog {
  const manifest = readManifest(dir)
  const entries: CatalogEntry[] = listSchemaFiles(dir).map(({ family, version, file }) => {
    const type = readSchemaFile(file)
    const recorded = manifest.find((entry) => entry.family === family && entry.version === version)
    if (recorded === undefined) {
      throw new Error(`${family}/v${version}.avsc has no schema id yet: run \`npm run schemas:register\``)
    }
    if (recorded.fingerprint !== schemaFingerprint(type)) {
      throw new Error(
        `${family}/v${version}.avsc has changed since it was registered as id ${recorded.id}; released versions are immutable: add v${version + 1}.avsc instead`,
      )
    }
    return { ...recorded, file, type }
  })
  const byId = new Map(entries.map((entry) => [entry.id, entry]))
  const latest = new Map<string, CatalogEntry>()
  for (const entry of entries) latest.set(entry.family, entry)
  return {
    entries,
    byId: (id) => byId.get(id),
    latest: (family) => latest.get(family),
    families: () => [...latest.keys()],
  }
}

/**
 * Gives every schema file without an id the next free id, keeping every existing id. Returns the new entries.
 */
export function registerSchemaFiles(dir: string = defaultAvroDir): ManifestEntry[] {
  const manifest = readManifest(dir)
  let nextId = manifest.reduce((max, entry) => Math.max(max, entry.id), 0) + 1
  const added: ManifestEntry[] = []
  for (const { family, version, file } of listSchemaFiles(dir)) {
    if (manifest.some((entry) => entry.family === family && entry.version === version)) continue
    const type = readSchemaFile(file)
    const entry = { id: nextId++, family, version, subject: type.name ?? family, fingerprint: schemaFingerprint(type) }
    manifest.push(entry)
    added.push(entry)
  }
  if (added.length > 0) writeManifest(manifest, dir)
  return added
}
