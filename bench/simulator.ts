// Simulator speed: about 1,000,000 events to files, NDJSON and Avro, on this machine. Prints one JSON line.
//   npm run bench:simulator -- [--customers 7500] [--days 365]
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { simulateToFiles } from '../producers/simulator/simulation-files.ts'
import { loadSchemaCatalog } from '../schemas/schema-catalog.ts'

const { values } = parseArgs({
  options: { customers: { type: 'string', default: '7500' }, days: { type: 'string', default: '365' } },
})
const catalog = loadSchemaCatalog()
const results: Record<string, unknown> = {}
for (const format of ['ndjson', 'avro'] as const) {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'omnistitch-sim-bench-'))
  const { totals, seconds } = await simulateToFiles({
    customers: Number(values.customers),
    days: Number(values.days),
    seed: 1,
    out,
    format,
    hashSecret: 'bench-secret-0123456789',
    catalog,
    counterfactual: false,
  })
  const bytes = fs
    .readdirSync(out)
    .filter((name) => name.startsWith('events'))
    .reduce((sum, name) => sum + fs.statSync(path.join(out, name)).size, 0)
  results[format] = {
    events: totals.events,
    seconds: Number(seconds.toFixed(2)),
    events_per_s: Math.round(totals.events / seconds),
    bytes_per_event: Math.round(bytes / totals.events),
  }
  fs.rmSync(out, { recursive: true, force: true })
}
process.stdout.write(
  `${JSON.stringify({
    bench: 'simulator',
    customers: Number(values.customers),
    days: Number(values.days),
    target_events_per_s: 200_000,
    ...results,
    machine: { cpus: os.cpus().length, memory_gib: Math.round(os.totalmem() / 2 ** 30), node: process.version },
  })}\n`,
)
