import { describe, expect, it } from 'vitest'
import type { CapturedEvent } from '../../schemas/capture-events.ts'
import { testHasher, testLogger, waitFor } from '../../test/helpers.ts'
import type { TouchpointProducer } from '../touchpoint-producer.ts'
import { startSimulatedTraffic } from './simulated-traffic.ts'
import { emitTrailers, simulate } from './simulate.ts'

/** Records what it is asked to send: the pacing is under test here, not Kafka (the start e2e test sends to it). */
function recordingProducer(): TouchpointProducer & { batches: CapturedEvent[][] } {
  const batches: CapturedEvent[][] = []
  return {
    batches,
    connect: async () => undefined,
    send: async (events) => {
      batches.push([...events])
    },
    validate: async () => [],
    disconnect: async () => undefined,
  }
}

describe('the demo traffic of `omnistitch start`', () => {
  it('sends the backlog customers’ whole history at once, then the others at the steady rate, in order', async () => {
    const producer = recordingProducer()
    const settings = { customers: 30, days: 120, seed: 5 }
    const traffic = startSimulatedTraffic({
      ...settings,
      producer,
      hasher: testHasher,
      logger: testLogger,
      rate: 8,
      backlogCustomers: 20,
    })
    const start = (Math.floor(Date.now() / 86_400_000) - settings.days + 1) * 86_400_000
    const expected: CapturedEvent[] = []
    const options = { ...settings, start, hasher: testHasher }
    emitTrailers(options, [], { event: (event) => expected.push(event) })
    simulate({ ...options, trailers: false }, { event: (event) => expected.push(event) })
    const backlog = expected.length - countOf(options, 20, 30)

    await waitFor(
      async () => traffic.sent(),
      (sent) => sent >= backlog + 8,
      { what: 'the backlog and a second of the steady stream', timeoutMs: 30_000 },
    )
    await traffic.stop()
    const sent = producer.batches.flat()
    // The backlog in one request (it is under the 5,000 events a request holds), then a tick's worth at a time
    // (8 a second in 4 ticks), continuing where the backlog ended.
    expect(producer.batches[0]).toEqual(expected.slice(0, backlog))
    for (const batch of producer.batches.slice(1)) expect(batch.length).toBeLessThanOrEqual(2)
    expect(sent).toEqual(expected.slice(0, sent.length))
    expect(traffic.sent()).toBe(sent.length)
  })
})

function countOf(options: Parameters<typeof simulate>[0], from: number, to: number): number {
  let n = 0
  simulate({ ...options, range: { from, to }, trailers: false }, { event: () => (n += 1) })
  return n
}
