/**
 * The one error catalogue of Omnistitch. Every error the product raises on purpose has a stable code
 * (`OMNI_ERR_<AREA>_<CONDITION>`), says whether retrying can help, and carries its cause. Where an error reaches the
 * HTTP API it also carries the status it maps to.
 */
export const errorCatalogue = {
  OMNI_ERR_CONFIG_INVALID: { status: 500, retriable: false, summary: 'An environment variable has a bad value.' },
  OMNI_ERR_KAFKA_TOOLING_MISSING: {
    status: 500,
    retriable: false,
    summary: 'java or mvn, needed for the local Kafka broker, is not installed.',
  },
  OMNI_ERR_KAFKA_START_FAILED: { status: 500, retriable: true, summary: 'The local Kafka broker did not come up.' },
  OMNI_ERR_KAFKA_UNAVAILABLE: { status: 503, retriable: true, summary: 'No Kafka broker could be reached.' },
  OMNI_ERR_STORE_LOCKED: {
    status: 500,
    retriable: false,
    summary: 'Another process holds the embedded ClickHouse data directory.',
  },
  OMNI_ERR_MIGRATION_CHANGED: {
    status: 500,
    retriable: false,
    summary: 'A migration that was already applied has been edited.',
  },
  OMNI_ERR_MIGRATION_FAILED: { status: 500, retriable: false, summary: 'A migration statement failed.' },
  OMNI_ERR_SCHEMA_INVALID_EVENT: { status: 400, retriable: false, summary: 'An event does not match its Avro schema.' },
  OMNI_ERR_SCHEMA_WIRE_FORMAT: {
    status: 400,
    retriable: false,
    summary: 'A Kafka record is not in the Confluent wire format.',
  },
  OMNI_ERR_SCHEMA_UNKNOWN_ID: {
    status: 400,
    retriable: false,
    summary: 'A Kafka record names a schema id this registry does not know.',
  },
  OMNI_ERR_EVENT_IMPOSSIBLE: {
    status: 400,
    retriable: false,
    summary: 'An event matches its schema but cannot be true (a time in the future, a negative amount).',
  },
  OMNI_ERR_EVENT_PERSONAL_DATA: {
    status: 400,
    retriable: false,
    summary:
      'An event would store an e-mail address or phone number in the clear: an identifier hash not in its form, or contact details in another field.',
  },
  OMNI_ERR_STORE_UNAVAILABLE: {
    status: 503,
    retriable: true,
    summary: 'ClickHouse did not accept an insert or a query.',
  },
  OMNI_ERR_COLLECT_UNAUTHORIZED: { status: 401, retriable: false, summary: 'The write key is missing or unknown.' },
  OMNI_ERR_COLLECT_BAD_REQUEST: {
    status: 400,
    retriable: false,
    summary: 'A collect request is malformed as a whole.',
  },
  OMNI_ERR_COLLECT_UNKNOWN_SOURCE: {
    status: 404,
    retriable: false,
    summary: 'A webhook names an integration the collector has no adapter for.',
  },
  OMNI_ERR_COLLECT_TOO_DEEP: {
    status: 400,
    retriable: false,
    summary: 'A request body nests JSON deeper than the collector reads.',
  },
  OMNI_ERR_COLLECT_TOO_LARGE: {
    status: 413,
    retriable: false,
    summary: 'A collect request body is over the size limit.',
  },
  OMNI_ERR_COLLECT_RATE_LIMITED: {
    status: 429,
    retriable: true,
    summary: 'A write key sent more requests than its rate limit allows.',
  },
  OMNI_ERR_SCHEMA_REGISTRY_UNAVAILABLE: {
    status: 503,
    retriable: true,
    summary: 'The Schema Registry could not be reached or refused a request.',
  },
  OMNI_ERR_API_BAD_PARAMETER: {
    status: 400,
    retriable: false,
    summary: 'A request parameter is missing or malformed.',
  },
  OMNI_ERR_INTERNAL: {
    status: 500,
    retriable: false,
    summary: 'An unexpected failure; the server log has the details.',
  },
  OMNI_ERR_API_NOT_FOUND: { status: 404, retriable: false, summary: 'What the request names is not stored.' },
  OMNI_ERR_API_UNAUTHORIZED: { status: 401, retriable: false, summary: 'The API key is missing or unknown.' },
  OMNI_ERR_API_FORBIDDEN: { status: 403, retriable: false, summary: "The API key's scope does not reach the route." },
  OMNI_ERR_API_RATE_LIMITED: {
    status: 429,
    retriable: true,
    summary: 'The API key sent more requests a minute than OMNISTITCH_API_RATE_LIMIT.',
  },
  OMNI_ERR_API_NOT_READY: { status: 503, retriable: true, summary: 'A dependency of the API is not reachable.' },
  OMNI_ERR_API_BAD_REQUEST: {
    status: 400,
    retriable: false,
    summary: 'An API request is malformed as a whole: a body that is not the JSON its content type says, a bad URL.',
  },
  OMNI_ERR_API_TOO_LARGE: { status: 413, retriable: false, summary: 'An API request body is over the size limit.' },
  OMNI_ERR_API_UNSUPPORTED_MEDIA_TYPE: {
    status: 415,
    retriable: false,
    summary: 'An API request body is in a content type the route does not read (it reads JSON).',
  },
  OMNI_ERR_SUMMARY_INVALID: {
    status: 400,
    retriable: false,
    summary: 'A per-customer summary file for LTV fitting cannot be read.',
  },
  OMNI_ERR_LTV_NOT_FITTABLE: {
    status: 422,
    retriable: false,
    summary: 'Too few customers, or too few repeat purchases, in the range to fit BG/NBD and Gamma-Gamma.',
  },
  OMNI_ERR_SQL_FAILED: {
    status: 400,
    retriable: false,
    summary:
      'An analyst query was refused by the engine (a syntax error, an unknown table, a write in read-only mode).',
  },
  OMNI_ERR_PATHS_INVALID: {
    status: 400,
    retriable: false,
    summary: 'A file of attribution paths, or a model option, cannot be read.',
  },
} as const satisfies Record<string, { status: number; retriable: boolean; summary: string }>

export type ErrorCode = keyof typeof errorCatalogue

/** Base class of every error Omnistitch raises on purpose. */
export class OmnistitchError extends Error {
  readonly code: ErrorCode
  readonly retriable: boolean
  readonly status: number

  constructor(code: ErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'OmnistitchError'
    this.code = code
    this.retriable = errorCatalogue[code].retriable
    this.status = errorCatalogue[code].status
  }
}

/** True for an OmnistitchError with the given code. */
export function hasErrorCode(error: unknown, code: ErrorCode): error is OmnistitchError {
  return error instanceof OmnistitchError && error.code === code
}

/** The message of anything thrown, for logs and dead-letter headers. */
export function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}
