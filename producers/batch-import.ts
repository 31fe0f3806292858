import crypto from 'node:crypto'
import fs from 'node:fs'
import readline from 'node:readline'
import { parse } from 'csv-parse'
import type { CapturedEvent } from '../schemas/capture-events.ts'
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
  /** Recorded as the events' source. */
  readonly source: string
  /** Called as the file is read, with bytes read so far and the file size. */
  readonly onProgress?: (bytesRead: number, totalBytes: number) => void
  readonly batchSize?: number
}

export interface ImportSummary {
  file: string
  kind: ImportKind
  sent: number
  rejected: number
  skipped_by_checkpoint: number
}

/** What the checkpoint file records: which file (by its first 64 KiB) and through which line it has been sent. */
interface Checkpoint {
  kind: ImportKind
  head_sha256: string
  done_through_line: number
  updated_at: string
}

/** One unit of input: the lines it came from and what it became. */
interface Unit {
  readonly firstLine: number
  readonly lastLine: number
  readonly input: unknown
  /** Set when the unit could not be turned into an intake input at all. */
  readonly problem?: string
  readonly raw: unknown
}

export function checkpointFile(file: string): string {
  return `${file}.import-state.json`
}

export function formatOf(file: string, given?: string): ImportFormat {
  if (given === 'csv' || given === 'ndjson') return given
  if (/\.csv$/i.test(file)) return 'csv'
  if (/\.(ndjson|jsonl)$/i.test(file)) return 'ndjson'
  throw new Error(`cannot tell the format of ${file}: name it .csv, .ndjson or .jsonl, or pass --format csv|ndjson`)
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

const blank = (value: string | undefined): string | null =>
  value === undefined || value.trim() === '' ? null : value.trim()

/** Days since 1970-01-01 of a YYYY-MM-DD date. */
export function daysSinceEpoch(date: string, field: string): number {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date)
  const time = match ? Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3])) : Number.NaN
  if (Number.isNaN(time) || new Date(time).toISOString().slice(0, 10) !== date) {
    throw new Error(`${field}: expected a date as YYYY-MM-DD (got ${JSON.stringify(date)})`)
  }
  return time / 86_400_000
}

function wholeNumber(value: string | undefined, field: string): number {
  const text = blank(value) ?? '0'
  if (!/^\d+$/.test(text)) throw new Error(`${field}: expected a whole number (got ${JSON.stringify(value)})`)
  return Number(text)
}

/** A receipt from its CSV rows (one row per line item, header fields taken from the first row). */
export function receiptFromRows(rows: readonly Record<string, string>[]): unknown {
  const first = rows[0]
  if (first === undefined) throw new Error('(receipt): no rows')
  const storeId = blank(first['store_id'])
  const number = blank(first['receipt_number'])
  if (storeId === null) throw new Error('store_id: expected a store id')
  if (number === null) throw new Error('receipt_number: expected a receipt number')
  const type = blank(first['type']) ?? 'sale'
  if (type !== 'sale' && type !== 'return')
    throw new Error(`type: expected sale or return (got ${JSON.stringify(type)})`)
  const items = rows.map((row, index) => {
    const quantity = Number(blank(row['quantity']) ?? '1')
    if (!Number.isFinite(quantity) || quantity <= 0) {
      throw new Error(`items[${index}].quantity: expected a positive number (got ${JSON.stringify(row['quantity'])})`)
    }
    const price = roublesToKopecks(row['price'], `items[${index}].price`)
    return {
      sku: blank(row['sku']) ?? '',
      name: blank(row['name']),
      category: blank(row['category']),
      quantity,
      price_minor: price,
      amount_minor:
        blank(row['line_amount']) === null
          ? Math.round(price * quantity)
          : roublesToKopecks(row['line_amount'], `items[${index}].line_amount`),
    }
  })
  const total =
    blank(first['total']) === null
      ? items.reduce((sum, item) => sum + item.amount_minor, 0)
      : roublesToKopecks(first['total'], 'total')
  return {
    family: 'receipt',
    message_id: `receipt:${storeId}:${number}`,
    channel: 'store',
    event_type: type === 'return' ? 'pos_return' : 'pos_receipt',
    event_time: blank(first['time']) ?? undefined,
    store_id: storeId,
    terminal_id: blank(first['terminal_id']),
    cashier_id: blank(first['cashier_id']),
    receipt_number: number,
    items,
    total_minor: total,
    discount_minor: blank(first['discount']) === null ? 0 : roublesToKopecks(first['discount'], 'discount'),
    currency: blank(first['currency']) ?? 'RUB',
    payment_method: blank(first['payment_method']) ?? 'other',
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

/** An ad cost from its CSV row. */
export function costFromRow(row: Record<string, string>): unknown {
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
    spend_minor: roublesToKopecks(row['spend'], 'spend'),
    currency: blank(row['currency']) ?? 'RUB',
    impressions: wholeNumber(row['impressions'], 'impressions'),
    clicks: wholeNumber(row['clicks'], 'clicks'),
  }
}

/** Reads the file as units: receipts grouped from consecutive CSV rows, costs one per row, NDJSON one per line. */
async function* readUnits(options: ImportOptions, countBytes: (bytes: number) => void): AsyncGenerator<Unit> {
  const stream = fs.createReadStream(options.file)
  stream.on('data', (chunk) => countBytes(chunk.length))
  if (options.format === 'ndjson') {
    let line = 0
    for await (const text of readline.createInterface({ input: stream, crlfDelay: Infinity })) {
      line += 1
      if (text.trim() === '') continue
      try {
        const value: unknown = JSON.parse(text)
        const input =
          typeof value === 'object' && value !== null && !Array.isArray(value) && !('family' in value)
            ? { family: options.kind === 'receipts' ? 'receipt' : 'ad-cost', ...value }
            : value
        yield { firstLine: line, lastLine: line, input, raw: text }
      } catch (error) {
        yield {
          firstLine: line,
          lastLine: line,
          input: undefined,
          problem: `not JSON: ${(error as Error).message}`,
          raw: text,
        }
      }
    }
    return
  }
  const parser = stream.pipe(parse({ columns: true, info: true, skip_empty_lines: true, trim: true, bom: true }))
  let group: { rows: Record<string, string>[]; key: string; firstLine: number; lastLine: number } | undefined
  const finish = (current: NonNullable<typeof group>): Unit => {
    try {
      return {
        firstLine: current.firstLine,
        lastLine: current.lastLine,
        input: receiptFromRows(current.rows),
        raw: current.rows,
      }
    } catch (error) {
      return {
        firstLine: current.firstLine,
        lastLine: current.lastLine,
        input: undefined,
        problem: (error as Error).message,
        raw: current.rows,
      }
    }
  }
  for await (const entry of parser as AsyncIterable<{ record: Record<string, string>; info: { lines: number } }>) {
    const line = entry.info.lines
    if (options.kind === 'costs') {
      try {
        yield { firstLine: line, lastLine: line, input: costFromRow(entry.record), raw: entry.record }
      } catch (error) {
        yield {
          firstLine: line,
          lastLine: line,
          input: undefined,
          problem: (error as Error).message,
          raw: entry.record,
        }
      }
      continue
    }
    const key = `${entry.record['store_id'] ?? ''}\u0000${entry.record['receipt_number'] ?? ''}`
    if (group !== undefined && group.key !== key) {
      yield finish(group)
      group = undefined
    }
    group ??= { rows: [], key, firstLine: line, lastLine: line }
    group.rows.push(entry.record)
    group.lastLine = line
  }
  if (group !== undefined) yield finish(group)
}

/**
 * Imports a file of receipts or ad costs: every unit goes through the intake (hashing, event ids, validation); valid
 * events are sent in batches; rejected ones go to the rejects file with their line and the reason. After each batch
 * Kafka acknowledged, a checkpoint records the last line done, so a re-run of the same file (recognised by its first
 * 64 KiB; appending to it is fine) skips what was sent. Event ids come from the receipts' store and number and the
 * costs' ids, so even a re-run without the checkpoint stores nothing twice downstream.
 */
export async function runImport(options: ImportOptions): Promise<ImportSummary> {
  const size = fs.statSync(options.file).size
  const head = headSha256(options.file)
  const stateFile = checkpointFile(options.file)
  let doneThrough = 0
  if (!options.restart && fs.existsSync(stateFile)) {
    const state = JSON.parse(fs.readFileSync(stateFile, 'utf8')) as Checkpoint
    if (state.kind === options.kind && state.head_sha256 === head) doneThrough = state.done_through_line
  }
  const summary: ImportSummary = {
    file: options.file,
    kind: options.kind,
    sent: 0,
    rejected: 0,
    skipped_by_checkpoint: 0,
  }
  const rejectsPath = options.rejectsFile ?? `${options.file}.rejects.ndjson`
  let rejects: fs.WriteStream | undefined
  let batch: CapturedEvent[] = []
  let lastProcessedLine = doneThrough
  let bytesRead = 0
  const batchSize = options.batchSize ?? 500

  const flush = async () => {
    if (batch.length > 0) {
      await options.producer.send(batch)
      summary.sent += batch.length
      batch = []
    }
    if (rejects !== undefined) await new Promise<void>((resolve) => rejects?.write('', () => resolve()))
    const state: Checkpoint = {
      kind: options.kind,
      head_sha256: head,
      done_through_line: lastProcessedLine,
      updated_at: new Date().toISOString(),
    }
    fs.writeFileSync(`${stateFile}.tmp`, `${JSON.stringify(state, null, 2)}\n`)
    fs.renameSync(`${stateFile}.tmp`, stateFile)
  }

  for await (const unit of readUnits(options, (bytes) => {
    bytesRead += bytes
    options.onProgress?.(bytesRead, size)
  })) {
    if (unit.lastLine <= doneThrough) {
      summary.skipped_by_checkpoint += 1
      continue
    }
    let problem = unit.problem
    if (problem === undefined) {
      const outcome = await intakeEvent(unit.input, {
        registry: options.registry,
        hasher: options.hasher,
        source: options.source,
      })
      if (outcome.ok) batch.push(outcome.event)
      else problem = outcome.errors.map((error) => `${error.field}: ${error.message}`).join('; ')
    }
    if (problem !== undefined) {
      rejects ??= fs.createWriteStream(rejectsPath, { flags: 'a' })
      rejects.write(`${JSON.stringify({ line: unit.firstLine, reason: problem, input: unit.raw })}\n`)
      summary.rejected += 1
    }
    lastProcessedLine = unit.lastLine
    if (batch.length >= batchSize) await flush()
  }
  await flush()
  if (rejects !== undefined) await new Promise((resolve) => rejects?.end(resolve))
  return summary
}
