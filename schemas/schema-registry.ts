import type avro from 'avsc'
import { OmnistitchError } from '../runtime/errors.ts'
import { frame, unframe } from './confluent-wire-format.ts'
import { touchpointType } from './touchpoint.ts'

/** Resolves schema ids of the Confluent wire format to Avro types and back. */
export interface SchemaRegistry {
  /** The id under which records of this subject are written. */
  idFor(subject: string): number
  /** The writer schema of an id; throws OMNI_ERR_SCHEMA_UNKNOWN_ID for an id it does not know. */
  typeFor(id: number): avro.Type
}

/**
 * The registry built into Omnistitch: a fixed catalogue of the schema files in `schemas/avro/`, each with an id that
 * never changes once released. A client for a Confluent-compatible Schema Registry can stand in its place through the
 * same interface.
 */
export function createEmbeddedSchemaRegistry(): SchemaRegistry {
  const catalogue = new Map<number, { subject: string; type: avro.Type }>([
    [1, { subject: 'touchpoint', type: touchpointType }],
  ])
  const latestBySubject = new Map<string, number>()
  for (const [id, entry] of catalogue) latestBySubject.set(entry.subject, id)
  return {
    idFor(subject) {
      const id = latestBySubject.get(subject)
      if (id === undefined) throw new Error(`no schema is registered for subject ${subject}`)
      return id
    },
    typeFor(id) {
      const entry = catalogue.get(id)
      if (!entry) {
        throw new OmnistitchError(
          'OMNI_ERR_SCHEMA_UNKNOWN_ID',
          `schema id ${id} is not known; known ids: ${[...catalogue.keys()].join(', ')}`,
        )
      }
      return entry.type
    },
  }
}

/** Encodes a value with the subject's current schema into the Confluent wire format. */
export function encodeRecord(registry: SchemaRegistry, subject: string, value: unknown): Buffer {
  const id = registry.idFor(subject)
  return frame(id, registry.typeFor(id).toBuffer(value))
}

/**
 * Decodes a wire-format record with the writer schema named in its header. Throws OMNI_ERR_SCHEMA_WIRE_FORMAT for
 * bytes that are not a valid record of that schema.
 */
export function decodeRecord(registry: SchemaRegistry, record: Buffer | null): { schemaId: number; value: unknown } {
  const { schemaId, body } = unframe(record)
  const type = registry.typeFor(schemaId)
  try {
    return { schemaId, value: type.fromBuffer(body) }
  } catch (error) {
    throw new OmnistitchError(
      'OMNI_ERR_SCHEMA_WIRE_FORMAT',
      `record body is not a valid ${type.name ?? 'Avro'} value for schema id ${schemaId}: ${(error as Error).message}`,
      { cause: error },
    )
  }
}
