import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { parseCustomerSummaries } from '../queries/models/customer-summaries.ts'
import { fitBgNbd } from '../queries/models/ltv.ts'
import { drawCustomers } from './fixtures/customers.ts'
import { collectOutput, exited, isRunning, spawnTs } from './processes.ts'

async function runCli(args: string[], env: NodeJS.ProcessEnv = {}) {
  const child = spawnTs('cli/omnistitch.ts', args, { ...process.env, OMNISTITCH_LOG_LEVEL: 'warn', ...env })
  const output = collectOutput(child)
  const code = await exited(child)
  return { code, stdout: output.stdout(), stderr: output.stderr() }
}

describe('the omnistitch command', () => {
  it.each([
    [[], /start .*produce .*consume .*serve .*migrate .*kafka/s],
    [['start'], /Run the whole pipeline in one process[\s\S]*--no-demo/],
    [['produce'], /--file <path>[\s\S]*--count <n>[\s\S]*--rejects <path>/],
    [['consume'], /Run the consumer: load touchpoints/],
    [['identity'], /resolve .*show .*split .*unsplit/s],
    [['identity', 'split'], /Take an identifier \(kind:value\) out of merging[\s\S]*--reason <text>/],
    [['serve'], /Run the HTTP API alone/],
    [['settings'], /show .*apply/s],
    [['settings', 'apply'], /Store this environment's journey settings, identity rules and retention/],
    [['migrate'], /Apply pending ClickHouse migrations/],
    [['kafka'], /start .*stop .*fetch/s],
    [['kafka', 'start'], /Start a local broker in the background/],
    [['kafka', 'stop'], /Stop the broker started by `omnistitch kafka start`/],
    [['import', 'receipts'], /Import POS receipts[\s\S]*--rejects <path>[\s\S]*--restart/],
    [['import', 'costs'], /Import daily ad costs/],
    [['simulate'], /--customers <n>[\s\S]*--seed <n>[\s\S]*--out <dir>[\s\S]*--format <format>/],
    [['schemas', 'check'], /Prove every version reads all earlier ones/],
    [['sql'], /read-only SQL[\s\S]*--format <format>/],
    [['ltv', 'fit'], /--summary <file>[\s\S]*--format <format>/],
    [['attribution'], /--paths <file>[\s\S]*--model <model>[\s\S]*--order <k>[\s\S]*--format <format>/],
  ])('prints help for %j', async (args, text) => {
    const result = await runCli([...args, '--help'])
    expect(result.code).toBe(0)
    expect(result.stdout).toMatch(/Usage: omnistitch/)
    expect(result.stdout).toMatch(text)
  })

  it('attributes a path file in JSON and CSV, and names a bad option', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'omnistitch-paths-'))
    const file = path.join(dir, 'paths.csv')
    fs.writeFileSync(file, 'path;total_conversions;total_conversion_value;total_null\nA > B;2;100;3\nB;1;30;1\n')
    const json = await runCli(['attribution', '--paths', file, '--model', 'last_touch'])
    expect(json.code).toBe(0)
    expect(JSON.parse(json.stdout)).toEqual({
      model: 'last_touch',
      channels: [{ channel: 'B', conversions: 3, value: 130 }],
    })
    const csv = await runCli(['attribution', '--paths', file, '--model', 'first_touch', '--format', 'csv'])
    expect(csv.stdout).toBe('channel,conversions,value\nA,2,100\nB,1,30\n')
    const bad = await runCli(['attribution', '--paths', file, '--model', 'markov', '--order', '5'])
    expect(bad.code).not.toBe(0)
    expect(bad.stderr).toMatch(/order: expected 1, 2 or 3 \(got 5\)/)
  })

  it('fits BG/NBD and Gamma-Gamma to a summary file as the library does, and names a bad line', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'omnistitch-ltv-'))
    const file = path.join(dir, 'summary.csv')
    const rows = drawCustomers(500, 5, { r: 0.9, alpha: 40, a: 0.8, b: 4, p: 6, q: 4, v: 720 }).map(
      (customer, index) =>
        `c${index},${customer.frequency},${customer.recency},${customer.T},${customer.monetaryValue?.toFixed(2) ?? 0}`,
    )
    const text = `customer_id,frequency,recency,T,monetary_value\n${rows.join('\n')}\n`
    fs.writeFileSync(file, text)
    const result = await runCli(['ltv', 'fit', '--summary', file])
    expect(result.code, result.stderr).toBe(0)
    const printed = JSON.parse(result.stdout) as {
      bgnbd: Record<string, number>
      gamma_gamma: Record<string, number>
    }
    expect(Object.keys(printed.bgnbd)).toEqual(['r', 'alpha', 'a', 'b', 'loglik'])
    expect(Object.keys(printed.gamma_gamma)).toEqual(['p', 'q', 'v'])
    const expected = fitBgNbd(parseCustomerSummaries(text))
    expect(printed.bgnbd['r']).toBeCloseTo(expected.parameters.r, 5)
    expect(printed.bgnbd['loglik']).toBeCloseTo(expected.logLikelihood, 3)
    fs.writeFileSync(file, 'id,frequency,recency,T\nc1,2,40,30\n')
    const bad = await runCli(['ltv', 'fit', '--summary', file])
    expect(bad.code).not.toBe(0)
    expect(bad.stderr).toMatch(/line 2, recency: expected no more than T \(40 > 30\)/)
  })

  it('runs read-only SQL on an embedded store as a table, CSV or an Arrow stream, and refuses a write', async () => {
    const env = { OMNISTITCH_DATA_DIR: fs.mkdtempSync(path.join(os.tmpdir(), 'omnistitch-sql-')), CLICKHOUSE_URL: '' }
    const query =
      "SELECT name FROM system.tables WHERE database = {database:String} AND name IN ('journeys', 'touchpoints') ORDER BY name"
    const csv = await runCli(['sql', query, '--format', 'csv'], env)
    expect(csv.code, csv.stderr).toBe(0)
    expect(csv.stdout).toBe('"name"\n"journeys"\n"touchpoints"\n')
    const table = await runCli(['sql', 'SELECT count() AS n FROM {database:Identifier}.touchpoints'], env)
    expect(table.stdout).toMatch(/n[\s\S]*0/)
    const arrow = await runCli(['sql', 'SELECT 1 AS one', '--format', 'arrow'], env)
    expect(arrow.code).toBe(0)
    const refused = await runCli(['sql', "INSERT INTO {database:Identifier}.touchpoints (channel) VALUES ('web')"], env)
    expect(refused.code).not.toBe(0)
    expect(refused.stderr).toMatch(/the query failed: .*readonly/)
  })

  it('fails fast on a bad configuration value, naming the variable and what it accepts', async () => {
    const result = await runCli(['migrate'], { OMNISTITCH_API_PORT: 'eighty', CLICKHOUSE_DATABASE: 'bad-name' })
    expect(result.code).toBe(78)
    expect(result.stderr).toMatch(/OMNISTITCH_API_PORT="eighty" is invalid: expected a port number from 0 to 65535/)
    expect(result.stderr).toMatch(/CLICKHOUSE_DATABASE="bad-name" is invalid: expected a name of letters/)
  })

  it('tells the user how to get a broker when none is configured or running', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'omnistitch-cli-'))
    const result = await runCli(['produce', '--count', '1'], { OMNISTITCH_DATA_DIR: dataDir, KAFKA_BROKERS: '' })
    expect(result.code).toBe(1)
    expect(result.stderr).toMatch(/No Kafka broker: set KAFKA_BROKERS=host:port, or run `omnistitch kafka start`/)
  })

  it('migrates an embedded store and reports nothing to do the second time', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'omnistitch-cli-'))
    const first = await runCli(['migrate'], { OMNISTITCH_DATA_DIR: dataDir, CLICKHOUSE_URL: '' })
    expect(first.code).toBe(0)
    expect(JSON.parse(first.stdout)).toMatchObject({
      database: 'omnistitch',
      applied: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12],
      alreadyApplied: [],
    })
    const second = await runCli(['migrate'], { OMNISTITCH_DATA_DIR: dataDir, CLICKHOUSE_URL: '' })
    expect(JSON.parse(second.stdout)).toMatchObject({
      applied: [],
      alreadyApplied: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12],
    })
  })

  it('resolves identities on an embedded store, and refuses an identifier that is not kind:value', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'omnistitch-cli-'))
    const env = { OMNISTITCH_DATA_DIR: dataDir, CLICKHOUSE_URL: '' }
    const resolved = await runCli(['identity', 'resolve'], env)
    expect(resolved.code, resolved.stderr).toBe(0)
    expect(JSON.parse(resolved.stdout)).toMatchObject({ combos: 0, identifiers: 0, persons: 0 })
    const again = await runCli(['identity', 'resolve'], env)
    expect(JSON.parse(again.stdout)).toMatchObject({ mode: 'incremental', combos: 0 })
    const rebuilt = await runCli(['identity', 'rebuild'], env)
    expect(rebuilt.code, rebuilt.stderr).toBe(0)
    expect(JSON.parse(rebuilt.stdout)).toMatchObject({ mode: 'rebuild', persons: 0 })
    const refused = await runCli(['identity', 'split', 'card-123'], env)
    expect(refused.code).toBe(1)
    expect(refused.stderr).toMatch(
      /identifier "card-123": expected kind:value with a kind of customer_id, loyalty_card/,
    )
  })

  it('runs a background broker with `kafka start`, finds it from other commands, and stops it with `kafka stop`', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'omnistitch-cli-'))
    const env = { OMNISTITCH_DATA_DIR: dataDir, KAFKA_BROKERS: '' }
    const started = await runCli(['kafka', 'start'], env)
    expect(started.code).toBe(0)
    expect(started.stdout).toMatch(/Local Kafka is running at 127\.0\.0\.1:\d+ \(pid \d+/)
    const state = JSON.parse(fs.readFileSync(path.join(dataDir, 'kafka', 'broker.json'), 'utf8')) as { pid: number }
    try {
      expect(isRunning(state.pid)).toBe(true)
      const again = await runCli(['kafka', 'start'], env)
      expect(again.stdout).toMatch(/already running/)

      const input = path.join(dataDir, 'touchpoints.ndjson')
      const valid = {
        channel: 'web',
        event_type: 'page_view',
        message_id: 'm-1',
        identifiers: { anonymous_id: 'cookie-1' },
      }
      fs.writeFileSync(
        input,
        [JSON.stringify(valid), JSON.stringify({ ...valid, channel: 'fax' }), 'not json', ''].join('\n'),
      )
      const produced = await runCli(['produce', '--file', input], env)
      expect(produced.code).toBe(0)
      expect(JSON.parse(produced.stdout)).toEqual({ topic: 'omnistitch.touchpoints', sent: 1, rejected: 2 })
      const rejects = fs
        .readFileSync(`${input}.rejects.ndjson`, 'utf8')
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as { line: number; reason: string })
      expect(rejects.map((entry) => entry.line)).toEqual([2, 3])
      expect(rejects[0]?.reason).toMatch(/channel: expected a channel that names the event's family/)
      expect(rejects[1]?.reason).toMatch(/not JSON/)
    } finally {
      const stopped = await runCli(['kafka', 'stop'], env)
      expect(stopped.stdout).toMatch(/Stopped local Kafka/)
    }
    expect(isRunning(state.pid)).toBe(false)
  })
})
