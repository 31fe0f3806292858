import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import avro from 'avsc'
import type { CapturedEvent, Family } from '../../schemas/capture-events.ts'
import type { SchemaCatalog } from '../../schemas/schema-catalog.ts'
import { Worker } from 'node:worker_threads'
import { createIdentifierHasher } from '../identifier-hashing.ts'
import { marketingChannels, retailModel } from './retail-model.ts'
import { emitTrailers, emptyTotals, simulate, type SimulationTotals } from './simulate.ts'

export interface SimulateToFilesOptions {
  readonly customers: number
  readonly days: number
  readonly seed: number
  readonly out: string
  readonly format: 'ndjson' | 'avro'
  /** The secret e-mails and phones are hashed with (each worker builds its own hasher from it). */
  readonly hashSecret: string
  readonly catalog: SchemaCatalog
  /** Worker threads: 2 (default) runs the two shards in parallel, 1 one after the other. Same bytes either way. */
  readonly workers?: number
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

/** The header of an Avro object container file: magic, metadata (schema, codec), sync marker. */
function avroHeader(type: avro.Type, sync: Buffer): Buffer {
  const metadata = Buffer.concat([
    longType.toBuffer(2),
    avroBytes(Buffer.from('avro.schema')),
    avroBytes(Buffer.from(JSON.stringify(type.schema()))),
    avroBytes(Buffer.from('avro.codec')),
    avroBytes(Buffer.from('null')),
    longType.toBuffer(0),
  ])
  return Buffer.concat([Buffer.from('Obj\x01', 'latin1'), metadata, sync])
}

/** The sync marker comes from the seed, so the files are reproducible. */
function syncMarker(seed: number): Buffer {
  return crypto.createHash('sha256').update(`omnistitch-simulator:${seed}`).digest().subarray(0, 16)
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
    header: boolean,
  ) {
    this.fd = fs.openSync(file, 'w')
    if (header) fs.writeSync(this.fd, avroHeader(type, sync))
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
function createAvroWriters(out: string, seed: number, catalog: SchemaCatalog, header: boolean) {
  const files = new Map<Family, AvroFile>()
  const sync = syncMarker(seed)
  return {
    write(event: CapturedEvent) {
      let file = files.get(event.family)
      if (file === undefined) {
        const type = catalog.latest(event.family)?.type
        if (type === undefined) throw new Error(`no schema for ${event.family}`)
        file = new AvroFile(path.join(out, `events-${event.family}.avro`), type, sync, header)
        files.set(event.family, file)
      }
      file.write(event.value)
    },
    close() {
      for (const file of files.values()) file.close()
    },
  }
}

/** Where one shard of a run writes its part files. */
export interface ShardFiles {
  events: string
  identities: string
  customers: string
  /** Avro: one file per family here. */
  avroDir: string
  /** Whether the Avro files start with their header: the first shard writes the final files, later ones parts. */
  avroHeader: boolean
}

export interface ShardTask {
  readonly customers: number
  readonly days: number
  readonly seed: number
  readonly start?: number
  readonly format: 'ndjson' | 'avro'
  readonly hashSecret: string
  readonly range: { from: number; to: number }
  readonly files: ShardFiles
}

/** Runs one shard of customers into its part files; ad costs and run-wide truth are left to the merge. */
export function runShard(task: ShardTask, catalog: SchemaCatalog): SimulationTotals {
  const ndjson = task.format === 'ndjson' ? new BufferedFile(task.files.events) : undefined
  const avroFiles =
    task.format === 'avro'
      ? createAvroWriters(task.files.avroDir, task.seed, catalog, task.files.avroHeader)
      : undefined
  const identities = new BufferedFile(task.files.identities)
  const customers = new BufferedFile(task.files.customers)
  const totals = simulate(
    {
      customers: task.customers,
      days: task.days,
      seed: task.seed,
      start: task.start,
      hasher: createIdentifierHasher(task.hashSecret),
      range: task.range,
      trailers: false,
    },
    {
      event: (event) => {
        if (ndjson) ndjson.write(`{"family":"${event.family}",${JSON.stringify(event.value).slice(1)}\n`)
        else avroFiles?.write(event)
      },
      identity: (truth) => identities.write(`${JSON.stringify(truth)}\n`),
      customer: (truth) => customers.write(`${JSON.stringify(truth)}\n`),
    },
  )
  ndjson?.close()
  avroFiles?.close()
  identities.close()
  customers.close()
  return totals
}

function runShardInWorker(task: ShardTask): Promise<SimulationTotals> {
  return new Promise((resolve, reject) => {
    // The worker is TypeScript: a bootstrap registers tsx in the new thread, then loads it.
    const bootstrap = `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then(({ register }) => { register(); return import(${JSON.stringify(new URL('./simulation-worker.ts', import.meta.url).href)}) })`
    const worker = new Worker(bootstrap, { eval: true, workerData: task })
    worker.once('message', (totals: SimulationTotals) => resolve(totals))
    worker.once('error', reject)
    worker.once('exit', (code) => {
      if (code !== 0) reject(new Error(`simulation worker exited with code ${code}`))
    })
  })
}

/** Appends `part` to `target` and deletes it. */
function appendPart(target: number, part: string): void {
  if (!fs.existsSync(part)) return
  const input = fs.openSync(part, 'r')
  const buffer = Buffer.alloc(8 << 20)
  for (;;) {
    const read = fs.readSync(input, buffer, 0, buffer.length, null)
    if (read === 0) break
    fs.writeSync(target, buffer, 0, read)
  }
  fs.closeSync(input)
  fs.rmSync(part)
}

/**
 * Runs the simulation into files: the events (`events.ndjson`, one `{"family": ..., ...record}` per line, or
 * `events-<family>.avro`), and beside them `truth/` with the identity truth, the customers' parameters, the model
 * parameters and, unless switched off, the counterfactual incrementality of each marketing channel. Customers are
 * split into two fixed shards that run on two worker threads (or one after the other with `workers: 1`); the parts
 * are joined in shard order, so the bytes are the same however many workers ran.
 */
export async function simulateToFiles(
  options: SimulateToFilesOptions,
): Promise<{ totals: SimulationTotals; seconds: number }> {
  const truthDir = path.join(options.out, 'truth')
  fs.mkdirSync(truthDir, { recursive: true })
  const partsDir = fs.mkdtempSync(path.join(options.out, '.parts-'))
  const split = Math.ceil(options.customers / 2)
  const ranges = [
    { from: 0, to: split },
    { from: split, to: options.customers },
  ]
  // The first shard writes the final files directly; later shards write parts that are appended to them.
  const tasks: ShardTask[] = ranges.map((range, shard) => {
    const avroDir = shard === 0 ? options.out : path.join(partsDir, `avro-${shard}`)
    fs.mkdirSync(avroDir, { recursive: true })
    return {
      customers: options.customers,
      days: options.days,
      seed: options.seed,
      start: options.start,
      format: options.format,
      hashSecret: options.hashSecret,
      range,
      files: {
        events: shard === 0 ? path.join(options.out, 'events.ndjson') : path.join(partsDir, `events-${shard}`),
        identities: path.join(partsDir, `identities-${shard}`),
        customers: path.join(partsDir, `customers-${shard}`),
        avroDir,
        avroHeader: shard === 0,
      },
    }
  })

  const began = performance.now()
  const shardTotals =
    (options.workers ?? 2) > 1
      ? await Promise.all(tasks.map(runShardInWorker))
      : tasks.map((task) => runShard(task, options.catalog))
  const totals = emptyTotals()
  for (const part of shardTotals) {
    totals.generic_card_users.push(...part.generic_card_users)
    totals.events += part.events
    totals.conversions += part.conversions
    totals.revenue_minor += part.revenue_minor
    for (const [channel, count] of Object.entries(part.conversions_by_channel)) {
      totals.conversions_by_channel[channel] = (totals.conversions_by_channel[channel] ?? 0) + count
    }
  }

  // Join the parts in shard order, then what belongs to the whole run.
  const identities = fs.openSync(path.join(truthDir, 'identities.ndjson'), 'w')
  const customers = fs.openSync(path.join(truthDir, 'customers.ndjson'), 'w')
  for (const task of tasks) {
    appendPart(identities, task.files.identities)
    appendPart(customers, task.files.customers)
  }
  fs.closeSync(customers)
  const trailerEvents: CapturedEvent[] = []
  const settings = {
    customers: options.customers,
    days: options.days,
    seed: options.seed,
    start: options.start,
    hasher: createIdentifierHasher(options.hashSecret),
  }
  emitTrailers(settings, totals.generic_card_users, {
    event: (event) => trailerEvents.push(event),
    identity: (truth) => fs.writeSync(identities, `${JSON.stringify(truth)}\n`),
  })
  fs.closeSync(identities)
  totals.events += trailerEvents.length

  if (options.format === 'ndjson') {
    const events = fs.openSync(path.join(options.out, 'events.ndjson'), 'a')
    for (const task of tasks.slice(1)) appendPart(events, task.files.events)
    fs.writeSync(
      events,
      trailerEvents.map((event) => `{"family":"${event.family}",${JSON.stringify(event.value).slice(1)}\n`).join(''),
    )
    fs.closeSync(events)
  } else {
    const trailerDir = path.join(partsDir, 'avro-trailers')
    fs.mkdirSync(trailerDir)
    const trailerWriters = createAvroWriters(trailerDir, options.seed, options.catalog, false)
    for (const event of trailerEvents) trailerWriters.write(event)
    trailerWriters.close()
    const partDirs = [...tasks.slice(1).map((task) => task.files.avroDir), trailerDir]
    const families = new Set(partDirs.flatMap((dir) => fs.readdirSync(dir)))
    for (const name of [...families].sort()) {
      const family = name.replace(/^events-|\.avro$/g, '') as Family
      const type = options.catalog.latest(family)?.type
      if (type === undefined) continue
      const target = path.join(options.out, name)
      const fresh = !fs.existsSync(target)
      const file = fs.openSync(target, 'a')
      if (fresh) fs.writeSync(file, avroHeader(type, syncMarker(options.seed)))
      for (const dir of partDirs) appendPart(file, path.join(dir, name))
      fs.closeSync(file)
    }
  }
  fs.rmSync(partsDir, { recursive: true, force: true })
  const seconds = (performance.now() - began) / 1000

  totals.generic_card_users = []
  fs.writeFileSync(
    path.join(truthDir, 'parameters.json'),
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
      path.join(truthDir, 'incrementality.json'),
      `${JSON.stringify({ method: 'same seed re-run with the channel switched off', channels }, null, 2)}\n`,
    )
  }
  return { totals, seconds }
}
