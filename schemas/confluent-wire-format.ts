import { OmnistitchError } from '../runtime/errors.ts'

/** First byte of every record in the Confluent wire format. */
export const magicByte = 0

/** Frames an Avro body as magic byte 0, the schema id as a big-endian 4-byte integer, then the body. */
export function frame(schemaId: number, body: Buffer): Buffer {
  if (!Number.isInteger(schemaId) || schemaId < 0 || schemaId > 0x7fffffff) {
    throw new RangeError(`schema id must be a whole number from 0 to 2147483647, got ${schemaId}`)
  }
  const header = Buffer.alloc(5)
  header.writeUInt8(magicByte, 0)
  header.writeInt32BE(schemaId, 1)
  return Buffer.concat([header, body])
}

/** Splits a wire-format record into its schema id and Avro body; anything else throws OMNI_ERR_SCHEMA_WIRE_FORMAT. */
export function unframe(record: Buffer | null): { schemaId: number; body: Buffer } {
  if (record === null || record.length < 5) {
    throw new OmnistitchError(
      'OMNI_ERR_SCHEMA_WIRE_FORMAT',
      `record is ${record === null ? 'empty (null value)' : `${record.length} bytes`}; expected at least 5 bytes: magic byte 0, a 4-byte schema id, then the Avro body`,
    )
  }
  if (record[0] !== magicByte) {
    throw new OmnistitchError(
      'OMNI_ERR_SCHEMA_WIRE_FORMAT',
      `record starts with byte ${record[0]}; expected the Confluent wire format's magic byte 0`,
    )
  }
  return { schemaId: record.readInt32BE(1), body: record.subarray(5) }
}
