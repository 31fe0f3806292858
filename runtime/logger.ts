import { pino, type Logger } from 'pino'
import { logLevel as kafkaLogLevel, type logCreator } from 'kafkajs'

export type { Logger }

/** One root logger per process: JSON lines on stderr, so stdout stays free for command output. */
export function createLogger(options: { level: string; name?: string }): Logger {
  return pino({ level: options.level, name: options.name ?? 'omnistitch' }, pino.destination(2))
}

/**
 * kafkajs warnings that do not apply to Omnistitch, logged at debug instead:
 * - bounded retries on idempotent producers: a send that finally fails is retried by the caller, and the loader
 *   collapses any repeat by event id, so exactly-once results do not rest on the producer.
 */
const benignKafkaWarnings = ['Limiting retries for the idempotent producer may invalidate EoS guarantees']

/** Routes kafkajs's own log lines into a pino child logger instead of the console. */
export function kafkaLogCreator(logger: Logger): logCreator {
  return () =>
    ({ namespace, level, log }) => {
      const { message, ...extra } = log
      const child = logger.child({ component: 'kafkajs', namespace })
      // An error response to one request ("Response JoinGroup(...)": the coordinator is loading, a leader is moving)
      // is logged by kafkajs as an error, but the caller retries it or throws, and a throw is logged where it lands.
      const handledByCaller = namespace === 'Connection' && message.startsWith('Response ')
      if (benignKafkaWarnings.includes(message) || handledByCaller) child.debug(extra, message)
      else if (level === kafkaLogLevel.ERROR) child.error(extra, message)
      else if (level === kafkaLogLevel.WARN) child.warn(extra, message)
      else if (level === kafkaLogLevel.INFO) child.info(extra, message)
      else child.debug(extra, message)
    }
}
