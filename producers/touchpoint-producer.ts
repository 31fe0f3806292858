import { CompressionTypes, Partitioners, type Kafka, type Producer } from 'kafkajs'
import type { Logger } from '../runtime/logger.ts'
import { encodeRecord, type SchemaRegistry } from '../schemas/schema-registry.ts'
import { assertTouchpoint, strongestIdentifier, type Touchpoint } from '../schemas/touchpoint.ts'

export interface TouchpointProducerOptions {
  readonly kafka: Kafka
  readonly topic: string
  readonly registry: SchemaRegistry
  readonly logger: Logger
}

export interface TouchpointProducer {
  connect(): Promise<void>
  /**
   * Validates every touchpoint, then sends them all. One invalid touchpoint refuses the whole call before anything is
   * sent, with an error naming the bad field (OMNI_ERR_SCHEMA_INVALID_EVENT).
   */
  send(touchpoints: readonly Touchpoint[]): Promise<void>
  /** Waits for sends in flight, then disconnects. */
  disconnect(): Promise<void>
}

/**
 * A producer of touchpoints in the Confluent wire format. It is idempotent (the broker drops a retried batch it
 * already has) and keys every record by the most stable identifier, so one person's events stay in order.
 */
export function createTouchpointProducer(options: TouchpointProducerOptions): TouchpointProducer {
  const logger = options.logger.child({ component: 'touchpoint-producer' })
  const producer: Producer = options.kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    createPartitioner: Partitioners.DefaultPartitioner,
  })
  const inFlight = new Set<Promise<unknown>>()
  return {
    connect: () => producer.connect(),
    async send(touchpoints) {
      const messages = touchpoints.map((touchpoint) => {
        assertTouchpoint(touchpoint)
        return {
          key: strongestIdentifier(touchpoint) ?? touchpoint.event_id,
          value: encodeRecord(options.registry, 'touchpoint', touchpoint),
        }
      })
      if (messages.length === 0) return
      const sending = producer.send({
        topic: options.topic,
        acks: -1,
        compression: CompressionTypes.None,
        messages,
      })
      inFlight.add(sending)
      try {
        await sending
      } finally {
        inFlight.delete(sending)
      }
      logger.debug({ count: messages.length }, 'touchpoints sent')
    },
    async disconnect() {
      await Promise.allSettled(inFlight)
      await producer.disconnect()
    },
  }
}
