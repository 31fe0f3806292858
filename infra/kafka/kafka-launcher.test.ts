import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { loadConfig } from '../../runtime/config.ts'
import { collectOutput, exited, isRunning, spawnTs } from '../../test/processes.ts'
import { waitFor } from '../../test/helpers.ts'

const cacheDir = loadConfig().cacheDir

describe('the local Kafka launcher', () => {
  it('leaves no broker behind when its parent is killed with SIGKILL', async () => {
    const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'omnistitch-kafka-child-'))
    const child = spawnTs('test/fixtures/kafka-child.ts', ['start', cacheDir, stateDir])
    const output = collectOutput(child)
    const line = await waitFor(
      async () => output.stdout(),
      (text) => text.includes('\n') || child.exitCode !== null,
      { timeoutMs: 120_000, what: 'the child to report its broker' },
    )
    const { pid } = JSON.parse(line) as { pid: number }
    expect(isRunning(pid)).toBe(true)

    child.kill('SIGKILL')
    await exited(child)
    await waitFor(
      async () => isRunning(pid),
      (running) => !running,
      { timeoutMs: 30_000, what: `broker ${pid} to exit` },
    )
    expect(fs.readFileSync(path.join(stateDir, 'broker.log'), 'utf8')).toMatch(/parent process gone, stopping Kafka/)
  })

  it('says what to install when java is missing', async () => {
    const child = spawnTs('test/fixtures/kafka-child.ts', ['ensure', cacheDir], {
      ...process.env,
      PATH: '/nonexistent',
    })
    const output = collectOutput(child)
    await exited(child)
    expect(output.stdout()).toMatch(/needs `java`, which was not found/)
    expect(output.stdout()).toMatch(/apt-get install openjdk-17-jre-headless maven/)
    expect(output.stdout()).toMatch(/KAFKA_BROKERS/)
    expect(output.stdout()).toMatch(/docker-compose\.yml/)
  })
})
