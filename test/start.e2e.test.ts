import fs from 'node:fs'
import http from 'node:http'
import os from 'node:os'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { waitFor } from './helpers.ts'
import { collectOutput, exited, processesMentioning, spawnTs } from './processes.ts'

describe('omnistitch start', () => {
  it('starts local Kafka, loads demo traffic, serves non-zero counts, and leaves nothing running after SIGINT', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'omnistitch-start-'))
    const child = spawnTs('cli/omnistitch.ts', ['start'], {
      ...process.env,
      KAFKA_BROKERS: '',
      CLICKHOUSE_URL: '',
      OMNISTITCH_DATA_DIR: dataDir,
      OMNISTITCH_API_PORT: '0',
      OMNISTITCH_COLLECTOR_PORT: '0',
      OMNISTITCH_DEMO_RATE: '50',
      OMNISTITCH_LOG_LEVEL: 'warn',
    })
    const output = collectOutput(child)
    const banner = await waitFor(
      async () => output.stdout(),
      (text) => text.includes('Press Ctrl-C to stop.') || child.exitCode !== null,
      { timeoutMs: 120_000, what: 'the start banner' },
    )
    const api = /API\s+(http:\/\/\S+)/.exec(banner)?.[1]
    expect(api, `stdout: ${banner}\nstderr: ${output.stderr()}`).toBeDefined()
    expect(processesMentioning(dataDir).length).toBeGreaterThan(0)
    expect(banner).toMatch(/API key\s+oak_[0-9a-f]{32} \(admin, kept in the data directory\)/)

    const stats = await waitFor(
      async () => {
        // With OMNISTITCH_API_KEYS unset, start makes an admin key and keeps it in the data directory.
        const key = fs.readFileSync(path.join(dataDir, 'api-key'), 'utf8').trim()
        const response = await fetch(`${api}/v1/stats/channels`, { headers: { authorization: `Bearer ${key}` } })
        return response.json() as Promise<{ channels: { events: number }[] }>
      },
      (body) => body.channels.reduce((sum, row) => sum + row.events, 0) > 0,
      { timeoutMs: 60_000, what: 'non-zero channel counts' },
    )
    expect(stats.channels.length).toBeGreaterThan(1)
    expect((await fetch(`${api}/readyz`)).status).toBe(200)

    // The dashboard: its address carries the reader key kept in the data directory; the page and its script are served.
    const readerKey = fs.readFileSync(path.join(dataDir, 'api-reader-key'), 'utf8').trim()
    expect(banner).toContain(`Dashboard       ${api}/#key=${readerKey}`)
    const page = await fetch(`${api}/`)
    expect(page.headers.get('content-type')).toContain('text/html')
    expect(await page.text()).toContain('<script src="/dashboard/app.js">')
    expect((await (await fetch(`${api}/dashboard/app.js`)).text()).length).toBeGreaterThan(100_000)
    // Opened without the key, the page asks for it: the server hands a browser on this machine the reader key...
    const session = (await (await fetch(`${api}/dashboard/session`)).json()) as { key: string }
    expect(session.key).toBe(readerKey)
    const asLocalBrowser = { headers: { authorization: `Bearer ${session.key}` } }
    expect((await fetch(`${api}/v1/stats/channels`, asLocalBrowser)).status).toBe(200)
    // ...but not to a page of another site whose name resolves here (fetch cannot set Host; node:http can).
    expect(await statusWithHost(`${api}/dashboard/session`, 'evil.example')).toBe(404)

    child.kill('SIGINT')
    expect(await exited(child)).toBe(0)
    // The broker is the only process started with the data directory in its command line.
    await waitFor(
      async () => processesMentioning(dataDir),
      (pids) => pids.length === 0,
      {
        timeoutMs: 30_000,
        what: 'no process left running',
      },
    )
    expect(fs.readFileSync(path.join(dataDir, 'kafka', 'broker.log'), 'utf8')).toMatch(
      /shut down completed|Shutdown completed/i,
    )
  })
})

function statusWithHost(address: string, host: string): Promise<number | undefined> {
  return new Promise((resolve, reject) => {
    http
      .get(address, { headers: { host } }, (response) => {
        response.resume()
        resolve(response.statusCode)
      })
      .on('error', reject)
  })
}
