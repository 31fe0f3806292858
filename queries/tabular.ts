import { Float64, Table, Utf8, tableToIPC, vectorFromArray } from 'apache-arrow'
import { stringify } from 'csv-stringify/sync'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { errorCatalogue, type ErrorCode } from '../runtime/errors.ts'
import { timeRangeProperties } from './time-range.ts'

/** What a metric route can answer in: JSON (its documented shape), or its rows as CSV or an Arrow IPC stream. */
export const tableFormats = ['json', 'csv', 'arrow'] as const
export type TableFormat = (typeof tableFormats)[number]

export const arrowStreamType = 'application/vnd.apache.arrow.stream'

/** The `format` querystring parameter of every metric route. */
export const formatProperty = {
  format: {
    type: 'string',
    enum: tableFormats,
    description: `json (default), csv, or arrow (an Apache Arrow IPC stream); or ask by Accept: text/csv, ${arrowStreamType}.`,
  },
} as const

/** The querystring of a metric route that takes a time range and a format, and nothing else. */
export const rangeAndFormatQuerystring = {
  type: 'object',
  additionalProperties: false,
  properties: { ...timeRangeProperties, ...formatProperty },
} as const

/** Any JSON object: the documented 200 answer of a route whose fields its description and docs/ give. */
export const anyObject = { type: 'object', additionalProperties: true } as const

/**
 * The 200 answer of a route with a `format`: its JSON (`json`, by default any object), or its rows as CSV or as an
 * Arrow IPC stream. Only JSON goes through the schema's serializer; CSV and Arrow are sent as they are (sendTable).
 */
export function tableAnswer(description: string, json: object = anyObject) {
  return {
    description,
    content: {
      'application/json': { schema: json },
      'text/csv': { schema: { type: 'string', description: 'The rows, a header line first (format=csv).' } },
      [arrowStreamType]: {
        schema: {
          type: 'string',
          format: 'binary',
          description: 'The rows as an Apache Arrow IPC stream (format=arrow).',
        },
      },
    },
  } as const
}

/** What every refused API request is answered with: a code of runtime/errors.ts and a message naming what is wrong. */
export const errorSchema = {
  type: 'object',
  properties: {
    error: {
      type: 'object',
      properties: { code: { type: 'string' }, message: { type: 'string' } },
      required: ['code', 'message'],
    },
  },
} as const

/**
 * The error answers of a route, by status, for its schema's `response`: each described by the codes it carries and
 * their summaries in the error catalogue, so the document says what the server sends.
 */
export function errorAnswers(
  codes: readonly ErrorCode[],
): Record<number, typeof errorSchema & { description: string }> {
  const answers: Record<number, typeof errorSchema & { description: string }> = {}
  for (const code of codes) {
    const { status, summary } = errorCatalogue[code]
    const line = `${code}: ${summary}`
    const known = answers[status]
    answers[status] = { ...errorSchema, description: known === undefined ? line : `${known.description} ${line}` }
  }
  return answers
}

/** The errors of a metric route any key may read: a bad parameter, a missing or unknown key, the rate limit. */
export const readerRouteErrors = [
  'OMNI_ERR_API_BAD_PARAMETER',
  'OMNI_ERR_API_UNAUTHORIZED',
  'OMNI_ERR_API_RATE_LIMITED',
] as const satisfies readonly ErrorCode[]

/**
 * The answers of a metric route with a `format`, for its schema's `response`: 200 as JSON (`json`, by default any
 * object), CSV or Arrow, and the errors of readerRouteErrors and `errors`.
 */
export function metricAnswers(
  description: string,
  { json, errors = [] }: { json?: object; errors?: readonly ErrorCode[] } = {},
) {
  return { 200: tableAnswer(description, json), ...errorAnswers([...readerRouteErrors, ...errors]) }
}

/** The format a request asks for: its `format` parameter, else its Accept header, else JSON. */
export function requestedFormat(request: FastifyRequest<{ Querystring: { format?: TableFormat } }>): TableFormat {
  if (request.query.format !== undefined) return request.query.format
  const accept = request.headers.accept ?? ''
  if (accept.includes(arrowStreamType)) return 'arrow'
  if (accept.includes('text/csv')) return 'csv'
  return 'json'
}

/** A column of a table answer: its name and whether it holds numbers (nullable) or text. */
export interface TableColumn<R> {
  readonly name: keyof R & string
  readonly type: 'number' | 'text'
}

/**
 * Sends rows as CSV or as an Arrow IPC stream, with the same columns in the same order, so a client gets the same
 * rows whichever it asks for (tested). A null number is an empty CSV field and an Arrow null.
 */
export function sendTable<R extends object>(
  reply: FastifyReply,
  format: Exclude<TableFormat, 'json'>,
  columns: readonly TableColumn<R>[],
  rows: readonly R[],
): FastifyReply {
  const value = (row: R, name: string) => (row as Record<string, unknown>)[name]
  if (format === 'csv') {
    const body = stringify(
      rows.map((row) => columns.map((column) => value(row, column.name) ?? '')),
      { header: true, columns: columns.map((column) => column.name) },
    )
    return reply.type('text/csv; charset=utf-8').send(body)
  }
  const vectors = Object.fromEntries(
    columns.map((column) => [
      column.name,
      column.type === 'number'
        ? vectorFromArray(
            rows.map((row) => value(row, column.name) as number | null),
            new Float64(),
          )
        : vectorFromArray(
            rows.map((row) => String(value(row, column.name))),
            new Utf8(),
          ),
    ]),
  )
  return reply.type(arrowStreamType).send(Buffer.from(tableToIPC(new Table(vectors), 'stream')))
}

/** part / whole, or 0 when there is no whole: shares and rates in metric answers. */
export const share = (part: number, whole: number): number => (whole > 0 ? part / whole : 0)
