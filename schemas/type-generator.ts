/**
 * Generates TypeScript declarations from Avro schemas, so code and schemas cannot drift: `npm run schemas:types`
 * writes `schemas/generated/capture-types.ts`, and a test fails when that file differs from what the schemas give.
 * Named types shared by several schemas (Identifiers, Channel, ...) are emitted once and must be identical wherever
 * they are defined.
 */

type AvroJson = string | AvroJson[] | { [key: string]: unknown }

interface Emitted {
  readonly name: string
  readonly definition: string
}

function shortName(fullName: string): string {
  return fullName.slice(fullName.lastIndexOf('.') + 1)
}

function jsDoc(doc: unknown, indent: string): string {
  return typeof doc === 'string' && doc.length > 0 ? `${indent}/** ${doc.replace(/\*\//g, '*\\/')} */\n` : ''
}

const primitives: Record<string, string> = {
  null: 'null',
  boolean: 'boolean',
  int: 'number',
  long: 'number',
  float: 'number',
  double: 'number',
  string: 'string',
  bytes: 'Buffer',
}

/** Emits the named types of one schema into `out`, returning the TypeScript type of its root. */
function emit(schema: AvroJson, out: Map<string, Emitted>): string {
  if (typeof schema === 'string') return primitives[schema] ?? shortName(schema)
  if (Array.isArray(schema)) return schema.map((branch) => emit(branch, out)).join(' | ')
  const type = schema['type'] as AvroJson
  if (typeof type !== 'string') return emit(type, out)
  if (typeof schema['logicalType'] === 'string') return primitives[type] ?? 'unknown'
  switch (type) {
    case 'array':
      return `Array<${emit(schema['items'] as AvroJson, out)}>`
    case 'map':
      return `Record<string, ${emit(schema['values'] as AvroJson, out)}>`
    case 'enum': {
      const name = shortName(schema['name'] as string)
      const symbols = (schema['symbols'] as string[]).map((symbol) => `'${symbol}'`).join(' | ')
      record(out, name, `${jsDoc(schema['doc'], '')}export type ${name} = ${symbols}\n`)
      return name
    }
    case 'record': {
      const name = shortName(schema['name'] as string)
      const fields = (schema['fields'] as { name: string; type: AvroJson; doc?: string }[])
        .map((field) => `${jsDoc(field.doc, '  ')}  ${field.name}: ${emit(field.type, out)}\n`)
        .join('')
      record(out, name, `${jsDoc(schema['doc'], '')}export interface ${name} {\n${fields}}\n`)
      return name
    }
    default:
      return primitives[type] ?? 'unknown'
  }
}

function record(out: Map<string, Emitted>, name: string, definition: string): void {
  const existing = out.get(name)
  if (existing !== undefined && existing.definition !== definition) {
    throw new Error(`the named type ${name} is defined differently in two schemas; shared types must be identical`)
  }
  out.set(name, { name, definition })
}

/** The TypeScript module for the given schemas: one root type per family, and a map from family to root type. */
export function generateTypeScript(schemas: readonly { family: string; schema: AvroJson }[]): string {
  const out = new Map<string, Emitted>()
  const roots = schemas.map(({ family, schema }) => [family, emit(schema, out)] as const)
  const familyMap = roots.map(([family, root]) => `  '${family}': ${root}\n`).join('')
  return [
    '// Generated from schemas/avro/*/v<latest>.avsc by `npm run schemas:types`. Do not edit by hand.\n',
    ...[...out.values()].map((emitted) => emitted.definition),
    '/** The record type each capture family is written with (its newest schema version). */\n',
    `export interface CaptureFamilies {\n${familyMap}}\n`,
  ].join('\n')
}
