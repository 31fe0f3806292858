import type avro from 'avsc'
import { OmnistitchError } from '../runtime/errors.ts'
import type { CapturedEvent, Family } from './capture-events.ts'
import { frame, unframe } from './confluent-wire-format.ts'
import { loadSchemaCatalog, type SchemaCatalog } from './schema-catalog.ts'

/** The schema a record is written with. */
export interface WriterSchema {
  readonly id: number
  readonly type: avro.Type
}

/** How to read a record written under some schema id: its family, and a reader type resolving it to our newest. */
export interface ReaderSchema {
  readonly id: number
  readonly family: Family
  /** The newest version of the family: what decoded values look like. */
  readonly type: avro.Type
  /** Reads bytes written with the id's schema into `type`. */
  readonly resolver: ReturnType<avro.Type['createResolver']> | undefined
}

/**
 * Resolves schema ids of the Confluent wire format. Two implementations: the embedded registry (ids from
 * `schemas/avro/registry.json`) and a client for a Confluent-compatible Schema Registry (`CONFLUENT_SCHEMA_REGISTRY_URL`).
 * Both cache: a lookup costs a network call once per id at most.
 */
export interface SchemaRegistry {
  readonly kind: 'embedded' | 'confluent'
  writerFor(family: Family): Promise<WriterSchema>
  readerFor(id: number): Promise<ReaderSchema>
  /** The reader of an id already looked up, without waiting: the consumer's per-record fast path. */
  cachedReader(id: number): ReaderSchema | undefined
}

function unknownId(id: number, known: string): OmnistitchError {
  return new OmnistitchError('OMNI_ERR_SCHEMA_UNKNOWN_ID', `schema id ${id} is not known; ${known}`)
}

/** The family a record name belongs to, from the local catalogue. */
export function familyOfRecordName(catalog: SchemaCatalog, fullName: string | undefined): Family | undefined {
  return catalog.entries.find((entry) => entry.subject === fullName)?.family as Family | undefined
}

/** Reader for a writer type: the family's newest type, resolving from the writer when they differ. */
export function readerForWriter(catalog: SchemaCatalog, id: number, writer: avro.Type): ReaderSchema {
  const family = familyOfRecordName(catalog, writer.name)
  const latest = family === undefined ? undefined : catalog.latest(family)
  if (family === undefined || latest === undefined) {
    throw new OmnistitchError(
      'OMNI_ERR_SCHEMA_UNKNOWN_ID',
      `schema id ${id} is the record ${writer.name ?? '(unnamed)'}, which is no Omnistitch capture family`,
    )
  }
  // Same canonical form: the bytes read as they are; otherwise resolve the writer's layout into the reader's.
  const same = latest.type.fingerprint('sha256').equals(writer.fingerprint('sha256'))
  return { id, family, type: latest.type, resolver: same ? undefined : latest.type.createResolver(writer) }
}

/** The registry built into Omnistitch: ids assigned when a schema file is registered, kept in git, never changed. */
export function createEmbeddedSchemaRegistry(catalog: SchemaCatalog = loadSchemaCatalog()): SchemaRegistry {
  const readers = new Map<number, ReaderSchema>()
  return {
    kind: 'embedded',
    async writerFor(family) {
      const entry = catalog.latest(family)
      if (entry === undefined) throw new Error(`no schema for family ${family}`)
      return { id: entry.id, type: entry.type }
    },
    cachedReader: (id) => readers.get(id),
    async readerFor(id) {
      const cached = readers.get(id)
      if (cached) return cached
      const entry = catalog.byId(id)
      if (entry === undefined) throw unknownId(id, `known ids: ${catalog.entries.map((known) => known.id).join(', ')}`)
      const reader = readerForWriter(catalog, id, entry.type)
      readers.set(id, reader)
      return reader
    },
  }
}

/** Encodes an event with its family's current schema into the Confluent wire format. */
export async function encodeEvent(registry: SchemaRegistry, event: CapturedEvent): Promise<Buffer> {
  const writer = await registry.writerFor(event.family)
  return frame(writer.id, writer.type.toBuffer(event.value))
}

/**
 * Decodes a wire-format record into an event of its family, in the family's newest shape. Throws
 * OMNI_ERR_SCHEMA_WIRE_FORMAT for bytes that are not a valid record, OMNI_ERR_SCHEMA_UNKNOWN_ID for an unknown id.
 */
export async function decodeEvent(registry: SchemaRegistry, record: Buffer | null): Promise<DecodedEvent> {
  const { schemaId, body } = unframe(record)
  return readWith(await registry.readerFor(schemaId), body)
}

/**
 * `decodeEvent` without waiting, for a record whose schema id the registry has already looked up; undefined when it
 * has not (then call `decodeEvent`). Throws as `decodeEvent` does.
 */
export function decodeEventCached(registry: SchemaRegistry, record: Buffer | null): DecodedEvent | undefined {
  const { schemaId, body } = unframe(record)
  const reader = registry.cachedReader(schemaId)
  return reader === undefined ? undefined : readWith(reader, body)
}

export interface DecodedEvent {
  readonly schemaId: number
  readonly event: CapturedEvent
  readonly type: avro.Type
}

function readWith(reader: ReaderSchema, body: Buffer): DecodedEvent {
  const schemaId = reader.id
  try {
    const value: unknown = reader.type.fromBuffer(body, reader.resolver)
    return { schemaId, event: { family: reader.family, value } as CapturedEvent, type: reader.type }
  } catch (error) {
    throw new OmnistitchError(
      'OMNI_ERR_SCHEMA_WIRE_FORMAT',
      `record body is not a valid ${reader.type.name ?? 'Avro'} value for schema id ${schemaId}: ${(error as Error).message}`,
      { cause: error },
    )
  }
}
