import crypto from 'node:crypto'
import fs from 'node:fs'
import readline from 'node:readline'
import { parse } from 'csv-parse'
import type { CapturedEvent } from '../schemas/capture-events.ts'
import type { PaymentMethod } from '../schemas/generated/capture-types.ts'
import type { SchemaRegistry } from '../schemas/schema-registry.ts'
import { intakeEvent } from './event-intake.ts'
import type { IdentifierHasher } from './identifier-hashing.ts'
import type { TouchpointProducer } from './touchpoint-producer.ts'
import { roublesToKopecks } from './webhook-adapters.ts'

export type ImportKind = 'receipts' | 'costs'
export type ImportFormat = 'csv' | 'ndjson'

export interface ImportOptions {
  readonly file: string
  readonly kind: ImportKind
  readonly format: ImportFormat
  /** Where rejected lines go (default `<file>.rejects.ndjson`). */
  readonly rejectsFile?: string
  /** Ignore the checkpoint of an earlier run and send everything again. */
  readonly restart?: boolean
  readonly producer: TouchpointProducer
  readonly registry: SchemaRegistry
  readonly hasher: IdentifierHasher
  /** Recorded as the receipts' `source` (not part of their event ids, so renaming the file changes no id). */
  readonly source: string
  /** Called as the file is read, with bytes read so far and the file size. */
  readonly onProgress?: (bytesRead: number, totalBytes: number) => void
  /** Called with what the user should know: a checkpoint used or ignored, columns that are not read. */
  readonly onNotice?: (message: string) => void
  readonly batchSize?: number
}

export interface ImportSummary {
  file: string
  kind: ImportKind
  sent: number
  rejected: number
  skipped_by_checkpoint: number
}

/** A problem with the file as a whole (not one of its lines): the import stops and says what is wrong. */
export class ImportError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'ImportError'
  }
}

/**
 * What the checkpoint file records: which file (size, modification time and the SHA-256 of its first 64 KiB), through
 * which line its events have been acknowledged by Kafka, and how long the rejects file was at that moment.
 */
export interface Checkpoint {
  version: 1
  kind: ImportKind
  file_size: number
  file_mtime_ms: number
  head_sha256: string
  done_through_line: number
  /** `<store_id>:<receipt_number>` of the last receipt done (receipts only). */
  last_receipt?: string | null
  /** The cost id of the last row done (costs only). */
  last_cost_id?: string | null
  rejects_file: string
  /** Bytes of the rejects file that belong to lines up to `done_through_line`; null when it is not a regular file. */
  rejects_bytes: number | null
  updated_at: string
}

/** The `source` that event ids are derived from: fixed, so the same receipt imported from any file is one event. */
export const importIdSource = 'import'

/** One unit of input: the lines it came from and what it became. */
interface Unit {
  readonly firstLine: number
  readonly lastLine: number
  /** `<store_id>:<receipt_number>` of a receipt or the id of a cost, when known. */
  readonly id: string | null
  readonly input: unknown
  /** Set when the unit could not be turned into an intake input at all. */
  readonly problem?: string
  /** What the rejects file shows: the line's text, or the CSV rows by column name. */
  readonly raw: unknown
}

export function checkpointFile(file: string): string {
  return `${file}.import-state.json`
}

export function rejectsFileOf(file: string, given?: string): string {
  return given ?? `${file}.rejects.ndjson`
}

export function formatOf(file: string, given?: string): ImportFormat {
  if (given !== undefined) {
    if (given === 'csv' || given === 'ndjson') return given
    throw new ImportError(`--format: expected csv or ndjson (got ${JSON.stringify(given)})`)
  }
  if (/\.csv$/i.test(file)) return 'csv'
  if (/\.(ndjson|jsonl)$/i.test(file)) return 'ndjson'
  throw new ImportError(
    `cannot tell the format of ${file}: name it .csv, .ndjson or .jsonl, or pass --format csv|ndjson`,
  )
}

function headSha256(file: string): string {
  const handle = fs.openSync(file, 'r')
  try {
    const buffer = Buffer.alloc(64 * 1024)
    const read = fs.readSync(handle, buffer, 0, buffer.length, 0)
    return crypto.createHash('sha256').update(buffer.subarray(0, read)).digest('hex')
  } finally {
    fs.closeSync(handle)
  }
}

const blank = (value: unknown): string | null => {
  if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') return null
  const text = String(value).trim()
  return text === '' ? null : text
}

const shown = (value: unknown): string => JSON.stringify(value ?? null)

/** Days since 1970-01-01 of a YYYY-MM-DD date. */
export function daysSinceEpoch(date: string, field: string): number {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date)
  const time = match ? Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3])) : Number.NaN
  if (Number.isNaN(time) || new Date(time).toISOString().slice(0, 10) !== date) {
    throw new Error(`${field}: expected a date as YYYY-MM-DD (got ${shown(date)})`)
  }
  return time / 86_400_000
}

const dateTimePattern =
  /^(\d{4}-\d{2}-\d{2})[T ]([01]\d|2[0-3]):([0-5]\d)(?::([0-5]\d)(?:[.,](\d{1,9}))?)?\s*(Z|[+-](?:[01]\d|2[0-3])(?::?[0-5]\d)?)$/i

/**
 * Epoch milliseconds of an ISO 8601 date-time that names its time zone (`Z` or an offset such as `+03:00`). A time
 * without a zone is refused rather than read in whatever zone the importing machine happens to be in.
 */
export function parseDateTime(value: string, field: string): number {
  const match = dateTimePattern.exec(value)
  const problem = `${field}: expected an ISO 8601 date-time with a time zone, such as 2026-11-20T10:15:00+03:00 (got ${shown(value)})`
  if (!match) throw new Error(problem)
  const [, date = '', hours = '', minutes = '', seconds = '00', fraction = '', zone = 'Z'] = match
  try {
    daysSinceEpoch(date, field)
  } catch {
    throw new Error(problem)
  }
  const offset =
    zone.toUpperCase() === 'Z' ? 'Z' : `${zone.slice(0, 3)}:${zone.slice(3).replace(':', '').padEnd(2, '0')}`
  const millis = fraction.padEnd(3, '0').slice(0, 3)
  const time = Date.parse(`${date}T${hours}:${minutes}:${seconds}.${millis}${offset}`)
  if (Number.isNaN(time)) throw new Error(problem)
  return time
}

/** Kopecks of an amount in roubles; a return's amounts may be given negative and are stored positive. */
function kopecks(value: unknown, field: string, isReturn: boolean): number {
  const amount = roublesToKopecks(value, field)
  if (amount >= 0) return amount
  if (isReturn) return -amount
  throw new Error(`${field}: expected an amount of 0 or more (got ${shown(value)})`)
}

function wholeNumber(value: unknown, field: string): number {
  const text = (blank(value) ?? '0').replace(/\s/g, '')
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(Number(text))) {
    throw new Error(`${field}: expected a whole number of 0 or more (got ${shown(value)})`)
  }
  return Number(text)
}

export const paymentMethods: readonly PaymentMethod[] = [
  'card',
  'cash',
  'sbp',
  'apple_pay',
  'google_pay',
  'mir_pay',
  'gift_card',
  'bonus_points',
  'invoice',
  'other',
]

/** The CSV columns of a receipt, and the ones it cannot do without. */
export const receiptColumns = [
  'receipt_number',
  'type',
  'time',
  'store_id',
  'terminal_id',
  'cashier_id',
  'loyalty_card',
  'phone',
  'email',
  'customer_id',
  'sku',
  'name',
  'category',
  'quantity',
  'price',
  'line_amount',
  'total',
  'discount',
  'currency',
  'payment_method',
  'acquirer',
  'promo_code',
  'original_receipt_number',
] as const
const requiredReceiptColumns = ['receipt_number', 'time', 'store_id', 'sku', 'price']

/** Columns that describe the receipt rather than a line item: later rows may leave them empty or repeat them. */
const receiptHeaderColumns = [
  'type',
  'time',
  'terminal_id',
  'cashier_id',
  'loyalty_card',
  'phone',
  'email',
  'customer_id',
  'total',
  'discount',
  'currency',
  'payment_method',
  'acquirer',
  'promo_code',
  'original_receipt_number',
] as const

export const costColumns = [
  'date',
  'channel',
  'source',
  'medium',
  'campaign',
  'campaign_id',
  'spend',
  'currency',
  'impressions',
  'clicks',
] as const
const requiredCostColumns = ['date', 'source', 'campaign', 'spend']

function currencyOf(value: unknown): string {
  const currency = (blank(value) ?? 'RUB').toUpperCase()
  if (!/^[A-Z]{3}$/.test(currency)) {
    throw new Error(`currency: expected an ISO 4217 code such as RUB (got ${shown(value)})`)
  }
  return currency
}

/** The key that groups receipt rows: `<store_id>:<receipt_number>`, or null when either is missing. */
function receiptKey(row: Readonly<Record<string, string>>): string | null {
  const storeId = blank(row['store_id'])
  const number = blank(row['receipt_number'])
  return storeId === null || number === null ? null : `${storeId}:${number}`
}

/**
 * A receipt, as intake input, from its CSV rows: one row per line item, the receipt's own fields taken from the first
 * row (later rows may repeat them or leave them empty, but not contradict them). Amounts in roubles become exact
 * kopecks; the message id `receipt:<store_id>:<receipt_number>` makes a re-import the same event.
 */
export function receiptFromRows(rows: readonly Readonly<Record<string, string>>[]): Record<string, unknown> {
  const first = rows[0]
  if (first === undefined) throw new Error('(receipt): no rows')
  const storeId = blank(first['store_id'])
  const number = blank(first['receipt_number'])
  if (storeId === null) throw new Error('store_id: expected a store id')
  if (number === null) throw new Error('receipt_number: expected a receipt number')
  const type = (blank(first['type']) ?? 'sale').toLowerCase()
  if (type !== 'sale' && type !== 'return') throw new Error(`type: expected sale or return (got ${shown(type)})`)
  const isReturn = type === 'return'
  rows.forEach((row, index) => {
    if (index === 0) return
    for (const column of receiptHeaderColumns) {
      const value = blank(row[column])
      if (value !== null && value !== blank(first[column])) {
        throw new Error(
          `items[${index}].${column}: expected the receipt's ${column} as on its first row, ${shown(blank(first[column]))}, or nothing (got ${shown(value)})`,
        )
      }
    }
  })
  const time = blank(first['time'])
  if (time === null) throw new Error('time: expected the ISO 8601 date-time of the receipt')
  const paymentMethod = (blank(first['payment_method']) ?? 'other').toLowerCase()
  if (!(paymentMethods as readonly string[]).includes(paymentMethod)) {
    throw new Error(`payment_method: expected one of ${paymentMethods.join(', ')} (got ${shown(paymentMethod)})`)
  }
  const items = rows.map((row, index) => {
    const at = `items[${index}].`
    const sku = blank(row['sku'])
    if (sku === null) throw new Error(`${at}sku: expected the item's SKU`)
    const quantityText = (blank(row['quantity']) ?? '1').replace(',', '.')
    const given = /^-?\d+(\.\d+)?$/.test(quantityText) ? Number(quantityText) : Number.NaN
    const quantity = isReturn ? Math.abs(given) : given
    if (!Number.isFinite(quantity) || quantity <= 0) {
      throw new Error(`${at}quantity: expected a number above 0 (got ${shown(row['quantity'])})`)
    }
    const price = kopecks(row['price'], `${at}price`, isReturn)
    return {
      sku,
      name: blank(row['name']),
      category: blank(row['category']),
      quantity,
      price_minor: price,
      amount_minor:
        blank(row['line_amount']) === null
          ? Math.round(price * quantity)
          : kopecks(row['line_amount'], `${at}line_amount`, isReturn),
    }
  })
  const total =
    blank(first['total']) === null
      ? items.reduce((sum, item) => sum + item.amount_minor, 0)
      : kopecks(first['total'], 'total', isReturn)
  return {
    family: 'receipt',
    message_id: `receipt:${storeId}:${number}`,
    channel: 'store',
    event_type: isReturn ? 'pos_return' : 'pos_receipt',
    event_time: parseDateTime(time, 'time'),
    store_id: storeId,
    terminal_id: blank(first['terminal_id']),
    cashier_id: blank(first['cashier_id']),
    receipt_number: number,
    items,
    total_minor: total,
    discount_minor: blank(first['discount']) === null ? 0 : kopecks(first['discount'], 'discount', isReturn),
    currency: currencyOf(first['currency']),
    payment_method: paymentMethod,
    acquirer: blank(first['acquirer']),
    promo_code: blank(first['promo_code']),
    original_receipt_number: blank(first['original_receipt_number']),
    identifiers: {
      loyalty_card: blank(first['loyalty_card']),
      phone: blank(first['phone']),
      email: blank(first['email']),
      customer_id: blank(first['customer_id']),
    },
  }
}

/** An ad cost, as intake input, from a CSV row (or an NDJSON line with the CSV's field names). */
export function costFromRow(row: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const date = blank(row['date'])
  if (date === null) throw new Error('date: expected a date as YYYY-MM-DD')
  const source = blank(row['source'])
  if (source === null) throw new Error('source: expected the ad platform, such as yandex_direct')
  const campaign = blank(row['campaign'])
  if (campaign === null) throw new Error('campaign: expected a campaign name')
  const campaignId = blank(row['campaign_id'])
  return {
    family: 'ad-cost',
    cost_id: `${source}:${campaignId ?? campaign}:${date}`,
    date: daysSinceEpoch(date, 'date'),
    channel: blank(row['channel']) ?? 'ads',
    source,
    medium: blank(row['medium']),
    campaign,
    campaign_id: campaignId,
    spend_minor: kopecks(row['spend'], 'spend', false),
    currency: currencyOf(row['currency']),
    impressions: wholeNumber(row['impressions'], 'impressions'),
    clicks: wholeNumber(row['clicks'], 'clicks'),
  }
}

/**
 * An NDJSON line as intake input. Receipts are in the intake's JSON format; without a message id or event id they get
 * `receipt:<store_id>:<receipt_number>`, as from CSV. Costs may use the CSV's field names (`spend` in roubles, `date`
 * as YYYY-MM-DD) or the schema's (`spend_minor`, `date` in days, `cost_id`).
 */
export function unitFromJson(kind: ImportKind, value: unknown): { input: unknown; id: string | null } {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new Error('(line): expected a JSON object')
  }
  const object = value as Record<string, unknown>
  if (kind === 'costs') {
    if (object['spend_minor'] === undefined && object['cost_id'] === undefined) {
      const input = costFromRow(object)
      return { input, id: input['cost_id'] as string }
    }
    return {
      input: { family: 'ad-cost', ...object },
      id: typeof object['cost_id'] === 'string' ? object['cost_id'] : null,
    }
  }
  const storeId = blank(object['store_id'])
  const number = blank(object['receipt_number'])
  const input: Record<string, unknown> = { family: 'receipt', ...object }
  if (input['message_id'] === undefined && input['event_id'] === undefined && storeId !== null && number !== null) {
    input['message_id'] = `receipt:${storeId}:${number}`
  }
  return { input, id: storeId !== null && number !== null ? `${storeId}:${number}` : null }
}

/** The field separator of a CSV file, from its header line: comma, semicolon (Excel in many locales) or tab. */
function delimiterOf(headerLine: string): string {
  const counts = [',', ';', '\t'].map((candidate) => [candidate, headerLine.split(candidate).length - 1] as const)
  return counts.reduce((best, next) => (next[1] > best[1] ? next : best))[0]
}

function firstLineOf(file: string): string {
  const handle = fs.openSync(file, 'r')
  try {
    const buffer = Buffer.alloc(64 * 1024)
    const read = fs.readSync(handle, buffer, 0, buffer.length, 0)
    return buffer.subarray(0, read).toString('utf8').split('\n')[0] ?? ''
  } finally {
    fs.closeSync(handle)
  }
}

interface CsvRow {
  readonly record: Record<string, string>
  readonly firstLine: number
  readonly lastLine: number
  readonly problem?: string
}

/** The data rows of a CSV file by column name, with their line numbers; a row of the wrong width carries a problem. */
async function* readCsvRows(
  options: ImportOptions,
  stream: fs.ReadStream,
  notice: (message: string) => void,
): AsyncGenerator<CsvRow> {
  const parser = stream.pipe(
    parse({
      delimiter: delimiterOf(firstLineOf(options.file)),
      bom: true,
      raw: true,
      relax_column_count: true,
      relax_quotes: true,
      skip_empty_lines: true,
      trim: true,
    }),
  )
  let header: string[] | undefined
  // Line numbers are counted here from the raw text: csv-parse's own count drifts after a quoted line break in a
  // CRLF file. Each record's raw text holds what was read since the record before (empty lines included), with one
  // character of a CRLF ending, so counting CR, LF and CRLF each as one line ending is exact.
  let linesBefore = 0
  const endings = (text: string) => text.match(/\r\n|\r|\n/g)?.length ?? 0
  type Entry = { record: string[]; raw: string }
  try {
    for await (const { record, raw } of parser as AsyncIterable<Entry>) {
      const leading = /^[\r\n]*/.exec(raw)?.[0] ?? ''
      const firstLine = linesBefore + endings(leading) + 1
      const lastLine = linesBefore + endings(raw) + (/[\r\n]$/.test(raw) ? 0 : 1)
      linesBefore += endings(raw)
      if (header === undefined) {
        header = record.map((name) => name.trim().toLowerCase())
        const known: readonly string[] = options.kind === 'receipts' ? receiptColumns : costColumns
        const required = options.kind === 'receipts' ? requiredReceiptColumns : requiredCostColumns
        const missing = required.filter((column) => !header?.includes(column))
        if (missing.length > 0) {
          throw new ImportError(
            `${options.file}: the header (line ${firstLine}) lacks ${missing.join(', ')}, needed for ${options.kind}; it has ${header.join(', ')} (see docs/IMPORT.md)`,
          )
        }
        const unknown = header.filter((column) => !known.includes(column))
        if (unknown.length > 0) notice(`${options.file}: columns not read: ${unknown.join(', ')}`)
        continue
      }
      const row: Record<string, string> = {}
      header.forEach((column, index) => {
        row[column] = record[index] ?? ''
      })
      yield {
        record: row,
        firstLine,
        lastLine,
        ...(record.length === header.length
          ? {}
          : { problem: `(row): expected ${header.length} fields as in the header (got ${record.length})` }),
      }
    }
  } catch (error) {
    if (error instanceof ImportError) throw error
    const code = (error as { code?: unknown }).code
    if (typeof code === 'string' && code.startsWith('CSV_')) {
      throw new ImportError(`${options.file}: not readable as CSV: ${(error as Error).message}`, { cause: error })
    }
    throw error
  }
}

const problemOf = (error: unknown): string => (error instanceof Error ? error.message : String(error))

/**
 * Reads the file as units: receipts grouped from consecutive CSV rows of the same store and receipt number, costs
 * one per row, NDJSON one per line.
 */
async function* readUnits(
  options: ImportOptions,
  countBytes: (bytes: number) => void,
  notice: (message: string) => void,
): AsyncGenerator<Unit> {
  const stream = fs.createReadStream(options.file)
  stream.on('data', (chunk) => countBytes(chunk.length))
  try {
    yield* options.format === 'ndjson' ? readJsonUnits(options, stream) : readCsvUnits(options, stream, notice)
  } finally {
    stream.destroy()
  }
}

async function* readJsonUnits(options: ImportOptions, stream: fs.ReadStream): AsyncGenerator<Unit> {
  let line = 0
  for await (const text of readline.createInterface({ input: stream, crlfDelay: Infinity })) {
    line += 1
    const content = line === 1 ? text.replace(/^\uFEFF/, '') : text
    if (content.trim() === '') continue
    let value: unknown
    try {
      value = JSON.parse(content)
    } catch (error) {
      yield {
        firstLine: line,
        lastLine: line,
        id: null,
        input: undefined,
        problem: `not JSON: ${problemOf(error)}`,
        raw: content,
      }
      continue
    }
    try {
      yield { firstLine: line, lastLine: line, ...unitFromJson(options.kind, value), raw: value }
    } catch (error) {
      yield { firstLine: line, lastLine: line, id: null, input: undefined, problem: problemOf(error), raw: value }
    }
  }
}

async function* readCsvUnits(
  options: ImportOptions,
  stream: fs.ReadStream,
  notice: (message: string) => void,
): AsyncGenerator<Unit> {
  const rows = readCsvRows(options, stream, notice)
  if (options.kind === 'costs') {
    for await (const row of rows) {
      const base = { firstLine: row.firstLine, lastLine: row.lastLine, raw: row.record }
      if (row.problem !== undefined) {
        yield { ...base, id: null, input: undefined, problem: row.problem }
        continue
      }
      try {
        const input = costFromRow(row.record)
        yield { ...base, id: input['cost_id'] as string, input }
      } catch (error) {
        yield { ...base, id: null, input: undefined, problem: problemOf(error) }
      }
    }
    return
  }
  /** Where each receipt began, to refuse one whose rows are not together rather than send two halves as one id. */
  const seen = new Map<string, number>()
  const finish = (group: CsvRow[], key: string | null): Unit => {
    const firstLine = group[0]?.firstLine ?? 0
    const base = {
      firstLine,
      lastLine: group.at(-1)?.lastLine ?? 0,
      id: key,
      raw: group.map((row) => row.record),
    }
    const earlier = key === null ? undefined : seen.get(key)
    if (key !== null && earlier !== undefined) {
      return {
        ...base,
        input: undefined,
        problem: `receipt_number: expected the rows of one receipt to be consecutive (receipt ${key} also began at line ${earlier})`,
      }
    }
    if (key !== null) seen.set(key, firstLine)
    const broken = group.findIndex((row) => row.problem !== undefined)
    if (broken >= 0) {
      return { ...base, input: undefined, problem: `items[${broken}]${group[broken]?.problem?.slice('(row)'.length)}` }
    }
    try {
      return { ...base, input: receiptFromRows(group.map((row) => row.record)) }
    } catch (error) {
      return { ...base, input: undefined, problem: problemOf(error) }
    }
  }
  let group: CsvRow[] = []
  let key: string | null = null
  for await (const row of rows) {
    const rowKey = receiptKey(row.record)
    if (group.length > 0 && rowKey !== key) {
      yield finish(group, key)
      group = []
    }
    key = rowKey
    group.push(row)
  }
  if (group.length > 0) yield finish(group, key)
}

function readCheckpoint(
  options: ImportOptions,
  identity: Pick<Checkpoint, 'kind' | 'file_size' | 'file_mtime_ms' | 'head_sha256'>,
  notice: (message: string) => void,
): Checkpoint | undefined {
  const stateFile = checkpointFile(options.file)
  if (!fs.existsSync(stateFile)) return undefined
  if (options.restart === true) {
    notice(`--restart: ignoring the checkpoint ${stateFile}; sending the whole file again`)
    return undefined
  }
  let state: Checkpoint
  try {
    const parsed: unknown = JSON.parse(fs.readFileSync(stateFile, 'utf8'))
    if (typeof parsed !== 'object' || parsed === null) throw new Error('not a JSON object')
    state = parsed as Checkpoint
  } catch (error) {
    notice(`ignoring the unreadable checkpoint ${stateFile} (${problemOf(error)}); importing from the start`)
    return undefined
  }
  const changed = (['kind', 'file_size', 'file_mtime_ms', 'head_sha256'] as const).filter(
    (field) => state[field] !== identity[field],
  )
  if (changed.length > 0 || typeof state.done_through_line !== 'number') {
    notice(
      `ignoring the checkpoint ${stateFile}: it is for ${changed.includes('kind') ? `a ${state.kind} import` : 'another version of the file'} (${changed.join(', ')} ${changed.length === 1 ? 'differs' : 'differ'}); importing from the start`,
    )
    return undefined
  }
  return state
}

/**
 * Imports a file of receipts or ad costs: every unit goes through the intake (hashing, event ids, validation); valid
 * events are sent in batches; rejected ones go to the rejects file with their line and the reason. After each batch
 * Kafka acknowledged, a checkpoint records the last line done, so a re-run of the same file (same size, modification
 * time and first 64 KiB) skips what was sent. Event ids come from the receipts' store and number and the costs' ids,
 * so even a re-run without the checkpoint stores nothing twice downstream.
 */
export async function runImport(options: ImportOptions): Promise<ImportSummary> {
  const notice = options.onNotice ?? (() => {})
  let stat: fs.Stats
  try {
    stat = fs.statSync(options.file)
  } catch (error) {
    throw new ImportError(`cannot read ${options.file}: ${problemOf(error)}`, { cause: error })
  }
  if (!stat.isFile()) throw new ImportError(`cannot read ${options.file}: not a file`)
  const identity = {
    kind: options.kind,
    file_size: stat.size,
    file_mtime_ms: stat.mtimeMs,
    head_sha256: headSha256(options.file),
  }
  const rejectsPath = rejectsFileOf(options.file, options.rejectsFile)
  const checkpoint = readCheckpoint(options, identity, notice)
  const doneThrough = checkpoint?.done_through_line ?? 0
  if (checkpoint !== undefined) {
    const last = checkpoint.last_receipt ?? checkpoint.last_cost_id
    notice(
      `resuming: skipping lines 1-${doneThrough}${last ? ` (through ${options.kind === 'receipts' ? 'receipt' : 'cost'} ${last})` : ''}, sent by an earlier run (checkpoint ${checkpointFile(options.file)}; --restart sends them again)`,
    )
  }

  // The rejects file holds exactly the rejects of the lines done: rewritten from the start, and on resume cut back
  // to its length at the checkpoint, so lines that are read again are not listed twice.
  const rejectsStat = fs.statSync(rejectsPath, { throwIfNoEntry: false })
  let rejectsBytes: number | null = rejectsStat === undefined ? 0 : null
  if (rejectsStat?.isFile() === true) {
    const keep =
      checkpoint === undefined
        ? 0
        : checkpoint.rejects_file === rejectsPath && checkpoint.rejects_bytes !== null
          ? Math.min(checkpoint.rejects_bytes, rejectsStat.size)
          : rejectsStat.size
    if (keep < rejectsStat.size) fs.truncateSync(rejectsPath, keep)
    rejectsBytes = keep
  }
  let rejects: number | undefined
  const reject = (unit: Unit, reason: string) => {
    rejects ??= fs.openSync(rejectsPath, 'a')
    const line = Buffer.from(`${JSON.stringify({ line: unit.firstLine, reason, input: unit.raw })}\n`)
    fs.writeSync(rejects, line)
    if (rejectsBytes !== null) rejectsBytes += line.length
  }

  const summary: ImportSummary = {
    file: options.file,
    kind: options.kind,
    sent: 0,
    rejected: 0,
    skipped_by_checkpoint: 0,
  }
  let batch: CapturedEvent[] = []
  let lastDone = { line: doneThrough, id: checkpoint?.last_receipt ?? checkpoint?.last_cost_id ?? null }
  let bytesRead = 0
  const batchSize = options.batchSize ?? 500
  const stateFile = checkpointFile(options.file)

  const flush = async () => {
    if (batch.length > 0) {
      await options.producer.send(batch)
      summary.sent += batch.length
      batch = []
    }
    const state: Checkpoint = {
      version: 1,
      ...identity,
      done_through_line: lastDone.line,
      ...(options.kind === 'receipts' ? { last_receipt: lastDone.id } : { last_cost_id: lastDone.id }),
      rejects_file: rejectsPath,
      rejects_bytes: rejectsBytes,
      updated_at: new Date().toISOString(),
    }
    fs.writeFileSync(`${stateFile}.tmp`, `${JSON.stringify(state, null, 2)}\n`)
    fs.renameSync(`${stateFile}.tmp`, stateFile)
  }

  try {
    const units = readUnits(
      options,
      (bytes) => {
        bytesRead += bytes
        options.onProgress?.(bytesRead, stat.size)
      },
      notice,
    )
    for await (const unit of units) {
      if (unit.lastLine <= doneThrough) {
        summary.skipped_by_checkpoint += 1
        continue
      }
      let problem = unit.problem
      if (problem === undefined) {
        const input = unit.input as Record<string, unknown>
        const outcome = await intakeEvent(
          options.kind === 'receipts' && input['source'] === undefined ? { ...input, source: options.source } : input,
          { registry: options.registry, hasher: options.hasher, source: importIdSource },
        )
        if (outcome.ok) batch.push(outcome.event)
        else problem = outcome.errors.map((error) => `${error.field}: ${error.message}`).join('; ')
      }
      if (problem !== undefined) {
        reject(unit, problem)
        summary.rejected += 1
      }
      lastDone = { line: unit.lastLine, id: unit.id }
      if (batch.length >= batchSize) await flush()
    }
    await flush()
  } finally {
    if (rejects !== undefined) fs.closeSync(rejects)
  }
  return summary
}
