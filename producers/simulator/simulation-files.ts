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

/** Avro object container files, one per family; the sync marker comes from the seed so the bytes are reproducible. */
function createAvroWriters(out: string, seed: number, catalog: SchemaCatalog) {
  const encoders = new Map<Family, avro.streams.BlockEncoder>()
  const finished: Promise<void>[] = []
  const syncMarker = crypto.createHash('sha256').update(`omnistitch-simulator:${seed}`).digest().subarray(0, 16)
  return {
    write(event: CapturedEvent) {
      let encoder = encoders.get(event.family)
      if (encoder === undefined) {
        const type = catalog.latest(event.family)?.type
        if (type === undefined) throw new Error(`no schema for ${event.family}`)
        encoder = new avro.streams.BlockEncoder(type, { syncMarker, codec: 'null' })
        const file = fs.createWriteStream(path.join(out, `events-${event.family}.avro`))
        finished.push(new Promise((resolve, reject) => file.on('finish', () => resolve()).on('error', reject)))
        encoder.pipe(file)
        encoders.set(event.family, encoder)
      }
      encoder.write(event.value)
    },
    async close() {
      for (const encoder of encoders.values()) encoder.end()
      await Promise.all(finished)
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
  await avroFiles?.close()
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
