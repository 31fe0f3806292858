import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import avro from 'avsc'
import type { CapturedEvent, Family } from '../../schemas/capture-events.ts'
import type { SchemaCatalog } from '../../schemas/schema-catalog.ts'
import type { IdentifierHasher } from '../identifier-hashing.ts'
import { marketingChannels, retailModel } from './retail-model.ts'
import { simulate, type SimulationTotals } from './simulate.ts'

export interface SimulateToFilesOptions {
  readonly customers: number
  readonly days: number
  readonly seed: number
  readonly out: string
  readonly format: 'ndjson' | 'avro'
  readonly hasher: IdentifierHasher
  readonly catalog: SchemaCatalog
  /** Re-run the seed with each marketing channel switched off to write `truth/incrementality.json` (default true). */
  readonly counterfactual?: boolean
  readonly start?: number
}

/** Appends text to a file through a large buffer: one write per megabyte, not per line. */
class BufferedFile {
  private readonly fd: number
  private chunks: string[] = []
  private size = 0
  constructor(file: string) {
    this.fd = fs.openSync(file, 'w')
  }
  write(text: string): void {
    this.chunks.push(text)
    this.size += text.length
    if (this.size > 1 << 20) this.flush()
  }
  flush(): void {
    if (this.chunks.length > 0) fs.writeSync(this.fd, this.chunks.join(''))
    this.chunks = []
    this.size = 0
  }
  close(): void {
    this.flush()
    fs.closeSync(this.fd)
  }
}

const longType = avro.Type.forSchema('long')

/** Avro's length-prefixed bytes: a zig-zag varint length, then the bytes. */
function avroBytes(value: Buffer): Buffer {
  return Buffer.concat([longType.toBuffer(value.length), value])
}

/**
 * An Avro object container file written in blocks of about 64 KiB (no compression), by hand rather than through
 * avsc's stream encoder, whose per-record stream writes cost more than the encoding. Format: "Obj\x01", the metadata
 * map (avro.schema, avro.codec), a 16-byte sync marker, then blocks of (count, size, records, sync marker).
 */
class AvroFile {
  private readonly fd: number
  private readonly records: Buffer[] = []
  private size = 0
  constructor(
    file: string,
    private readonly type: avro.Type,
    private readonly sync: Buffer,
  ) {
    this.fd = fs.openSync(file, 'w')
    const metadata = Buffer.concat([
      longType.toBuffer(2),
      avroBytes(Buffer.from('avro.schema')),
      avroBytes(Buffer.from(JSON.stringify(type.schema()))),
      avroBytes(Buffer.from('avro.codec')),
      avroBytes(Buffer.from('null')),
      longType.toBuffer(0),
    ])
    fs.writeSync(this.fd, Buffer.concat([Buffer.from('Obj\x01', 'latin1'), metadata, sync]))
  }
  write(value: unknown): void {
    const record = this.type.toBuffer(value)
    this.records.push(record)
    this.size += record.length
    if (this.size >= 64 * 1024) this.flush()
  }
  flush(): void {
    if (this.records.length === 0) return
    fs.writeSync(
      this.fd,
      Buffer.concat([longType.toBuffer(this.records.length), longType.toBuffer(this.size), ...this.records, this.sync]),
    )
    this.records.length = 0
    this.size = 0
  }
  close(): void {
    this.flush()
    fs.closeSync(this.fd)
  }
}

/** Avro object container files, one per family; the sync marker comes from the seed so the bytes are reproducible. */
function createAvroWriters(out: string, seed: number, catalog: SchemaCatalog) {
  const files = new Map<Family, AvroFile>()
  const sync = crypto.createHash('sha256').update(`omnistitch-simulator:${seed}`).digest().subarray(0, 16)
  return {
    write(event: CapturedEvent) {
      let file = files.get(event.family)
      if (file === undefined) {
        const type = catalog.latest(event.family)?.type
        if (type === undefined) throw new Error(`no schema for ${event.family}`)
        file = new AvroFile(path.join(out, `events-${event.family}.avro`), type, sync)
        files.set(event.family, file)
      }
      file.write(event.value)
    },
    close() {
      for (const file of files.values()) file.close()
    },
  }
}

/**
 * Runs the simulation into files: the events (`events.ndjson`, one `{"family": ..., ...record}` per line, or
 * `events-<family>.avro`), and beside them `truth/` with the identity truth, the customers' parameters, the model
 * parameters and, unless switched off, the counterfactual incrementality of each marketing channel.
 */
export async function simulateToFiles(
  options: SimulateToFilesOptions,
): Promise<{ totals: SimulationTotals; seconds: number }> {
  fs.mkdirSync(path.join(options.out, 'truth'), { recursive: true })
  const ndjson = options.format === 'ndjson' ? new BufferedFile(path.join(options.out, 'events.ndjson')) : undefined
  const avroFiles =
    options.format === 'avro' ? createAvroWriters(options.out, options.seed, options.catalog) : undefined
  const identities = new BufferedFile(path.join(options.out, 'truth', 'identities.ndjson'))
  const customers = new BufferedFile(path.join(options.out, 'truth', 'customers.ndjson'))
  const settings = {
    customers: options.customers,
    days: options.days,
    seed: options.seed,
    start: options.start,
    hasher: options.hasher,
  }

  const began = performance.now()
  const totals = simulate(settings, {
    event: (event) => {
      if (ndjson) ndjson.write(`{"family":"${event.family}",${JSON.stringify(event.value).slice(1)}\n`)
      else avroFiles?.write(event)
    },
    identity: (truth) => identities.write(`${JSON.stringify(truth)}\n`),
    customer: (truth) => customers.write(`${JSON.stringify(truth)}\n`),
  })
  ndjson?.close()
  avroFiles?.close()
  identities.close()
  customers.close()
  const seconds = (performance.now() - began) / 1000

  fs.writeFileSync(
    path.join(options.out, 'truth', 'parameters.json'),
    `${JSON.stringify({ run: { customers: options.customers, days: options.days, seed: options.seed, format: options.format }, model: retailModel, totals }, null, 2)}\n`,
  )
  if (options.counterfactual !== false) {
    const channels: Record<string, unknown> = {}
    for (const channel of marketingChannels) {
      const without = simulate({ ...settings, disabled: channel }, { event: () => undefined })
      channels[channel] = {
        conversions: totals.conversions,
        conversions_without_channel: without.conversions,
        incremental_conversions: totals.conversions - without.conversions,
        revenue_minor: totals.revenue_minor,
        revenue_without_channel_minor: without.revenue_minor,
        incremental_revenue_minor: totals.revenue_minor - without.revenue_minor,
      }
    }
    fs.writeFileSync(
      path.join(options.out, 'truth', 'incrementality.json'),
      `${JSON.stringify({ method: 'same seed re-run with the channel switched off', channels }, null, 2)}\n`,
    )
  }
  return { totals, seconds }
}
