import fs from 'node:fs'
import { createIdentifierHasher, resolveHashSecret } from '../producers/identifier-hashing.ts'
import { simulate } from '../producers/simulator/simulate.ts'
import { simulateToFiles } from '../producers/simulator/simulation-files.ts'
import type { Config } from '../runtime/config.ts'
import type { Logger } from '../runtime/logger.ts'
import type { CapturedEvent } from '../schemas/capture-events.ts'
import { loadSchemaCatalog } from '../schemas/schema-catalog.ts'
import { connectPipelineProducer } from './services.ts'

export interface SimulateCommandOptions {
  readonly customers: number
  readonly days: number
  readonly seed: number
  readonly out?: string
  readonly format: string
  readonly counterfactual: boolean
  readonly rate: number
}

/** `omnistitch simulate`: a seeded omnichannel retailer, to files with its ground truth, or to Kafka. */
export async function simulateCommand(
  { config, logger }: { config: Config; logger: Logger },
  options: SimulateCommandOptions,
): Promise<void> {
  const secret =
    options.out === undefined
      ? resolveHashSecret(config.hashSecret, config.dataDir)
      : (config.hashSecret ?? `omnistitch-simulator-${options.seed}`)
  const hasher = createIdentifierHasher(secret)
  if (options.out !== undefined) {
    if (options.format !== 'ndjson' && options.format !== 'avro')
      throw new Error(`--format: expected ndjson or avro (got ${options.format})`)
    fs.mkdirSync(options.out, { recursive: true })
    const { totals, seconds } = await simulateToFiles({
      customers: options.customers,
      days: options.days,
      seed: options.seed,
      out: options.out,
      format: options.format,
      hashSecret: secret,
      catalog: loadSchemaCatalog(),
      counterfactual: options.counterfactual,
    })
    process.stdout.write(
      `${JSON.stringify({ out: options.out, format: options.format, events: totals.events, conversions: totals.conversions, seconds: Number(seconds.toFixed(2)), events_per_s: Math.round(totals.events / seconds) })}\n`,
    )
    return
  }
  const { producer } = await connectPipelineProducer(config, logger)
  const batch: CapturedEvent[] = []
  const pending: CapturedEvent[][] = []
  simulate(
    { customers: options.customers, days: options.days, seed: options.seed, hasher },
    {
      event: (event) => {
        batch.push(event)
        if (batch.length === 500) pending.push(batch.splice(0))
      },
    },
  )
  if (batch.length > 0) pending.push(batch.splice(0))
  let sent = 0
  const began = Date.now()
  for (const events of pending) {
    await producer.send(events)
    sent += events.length
    const due = began + (sent / options.rate) * 1000
    if (due > Date.now()) await new Promise((resolve) => setTimeout(resolve, due - Date.now()))
  }
  await producer.disconnect()
  process.stdout.write(`${JSON.stringify({ topic: config.touchpointTopic, sent })}\n`)
}
