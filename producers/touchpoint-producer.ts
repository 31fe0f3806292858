import { CompressionTypes, Partitioners, type Kafka, type Message, type Producer } from 'kafkajs'
import { OmnistitchError } from '../runtime/errors.ts'
import type { Logger } from '../runtime/logger.ts'
import {
  eventIdOf,
  findSchemaErrors,
  identifiersOf,
  strongestIdentifier,
  type CapturedEvent,
} from '../schemas/capture-events.ts'
import { encodeEvent, type SchemaRegistry } from '../schemas/schema-registry.ts'

export interface TouchpointProducerOptions {
  readonly kafka: Kafka
  /** Topic of touchpoints (every family but ad costs). */
  readonly topic: string
  /** Topic of ad costs. */
  readonly adCostTopic: string
  readonly registry: SchemaRegistry
  readonly logger: Logger
  /** Compression of record batches; see bench/compression.ts for the measurement behind the default. */
  readonly compression?: CompressionTypes
}

export interface TouchpointProducer {
  connect(): Promise<void>
  /**
   * Validates every event against its family's schema, then sends them all in one request per topic. One invalid
   * event refuses the whole call before anything is sent, with OMNI_ERR_SCHEMA_INVALID_EVENT naming the event's index
   * and the field path. Use `validate` first to send the valid part of a mixed batch.
   */
  send(events: readonly CapturedEvent[]): Promise<void>
  /** The schema errors of one event (field paths with what was expected); empty when it can be sent. */
  validate(event: CapturedEvent): Promise<string[]>
  /** Waits for sends in flight, then disconnects. */
  disconnect(): Promise<void>
}

/**
 * A producer of captured events in the Confluent wire format. Idempotent (the broker drops a batch it already has
 * when a request is retried), retried with exponential backoff, and keyed by the most stable identifier so one
 * person's events stay in one partition in order; ad costs are keyed by their cost id.
 */
export function createTouchpointProducer(options: TouchpointProducerOptions): TouchpointProducer {
  const logger = options.logger.child({ component: 'touchpoint-producer' })
  const producer: Producer = options.kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    createPartitioner: Partitioners.DefaultPartitioner,
    retry: { initialRetryTime: 100, maxRetryTime: 5_000, retries: 8, factor: 0.2, multiplier: 2 },
  })
  // Snappy, by measurement (bench/compression.ts, docs/COMPRESSION.md): the highest producer throughput on this
  // hardware and half the bytes on the wire and on disk.
  const compression = options.compression ?? CompressionTypes.Snappy
  const inFlight = new Set<Promise<unknown>>()

  async function validate(event: CapturedEvent): Promise<string[]> {
    const writer = await options.registry.writerFor(event.family)
    return findSchemaErrors(writer.type, event.value)
  }

  return {
    connect: () => producer.connect(),
    validate,
    async send(events) {
      const byTopic = new Map<string, Message[]>()
      for (const [index, event] of events.entries()) {
        const problems = await validate(event)
        if (problems.length > 0) {
          throw new OmnistitchError(
            'OMNI_ERR_SCHEMA_INVALID_EVENT',
            `event ${index} (${event.family}) is invalid: ${problems.join('; ')}`,
          )
        }
        const topic = event.family === 'ad-cost' ? options.adCostTopic : options.topic
        const key = strongestIdentifier(identifiersOf(event)) ?? eventIdOf(event)
        const messages = byTopic.get(topic) ?? []
        messages.push({ key, value: await encodeEvent(options.registry, event) })
        byTopic.set(topic, messages)
      }
      if (byTopic.size === 0) return
      const sending = producer.sendBatch({
        acks: -1,
        compression,
        topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
      })
      inFlight.add(sending)
      try {
        await sending
      } finally {
        inFlight.delete(sending)
      }
      logger.debug({ count: events.length }, 'events sent')
    },
    async disconnect() {
      await Promise.allSettled(inFlight)
      await producer.disconnect()
    },
  }
}
