import os from 'node:os'
import path from 'node:path'
import { z } from 'zod'
import { OmnistitchError } from './errors.ts'

/**
 * Every setting Omnistitch reads from the environment, in one place. The README's configuration table is checked
 * against this list by a test, so the two cannot drift.
 */
interface Setting<T> {
  /** The environment variable. */
  readonly env: string
  /** The default, as text, for the docs; `undefined` means unset. */
  readonly defaultText: string
  /** What the variable accepts, in words; used in error messages. */
  readonly accepts: string
  readonly description: string
  readonly schema: z.ZodType<T>
  readonly fallback: T
}

function setting<T>(spec: Setting<T>): Setting<T> {
  return spec
}

const port = (accepts = 'a port number from 0 to 65535 (0 picks a free port)') => ({
  schema: z.coerce.number().int().min(0).max(65535),
  accepts,
})
const positiveInt = (max: number) => ({
  schema: z.coerce.number().int().min(1).max(max),
  accepts: `a whole number from 1 to ${max}`,
})
const identifier = {
  schema: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,62}$/),
  accepts: 'a name of letters, digits and underscores that does not start with a digit',
}
const topicName = {
  schema: z.string().regex(/^[A-Za-z0-9._-]{1,249}$/),
  accepts: 'a Kafka topic name: 1 to 249 of letters, digits, ".", "_" and "-"',
}
const brokerList = {
  schema: z
    .string()
    .transform((raw) => raw.split(',').map((entry) => entry.trim()))
    .pipe(z.array(z.string().regex(/^[A-Za-z0-9.\-[\]:]+:\d{1,5}$/)).min(1)),
  accepts: 'a comma-separated list of host:port pairs, such as "kafka-1:9092,kafka-2:9092"',
}
const httpUrl = {
  schema: z.url({ protocol: /^https?$/ }),
  accepts: 'an http:// or https:// URL of a ClickHouse server, such as "http://localhost:8123"',
}
const logLevel = {
  schema: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
  accepts: 'one of fatal, error, warn, info, debug, trace, silent',
}

const defaultCacheDir = path.join(process.env['XDG_CACHE_HOME'] ?? path.join(os.homedir(), '.cache'), 'omnistitch')

export const settings = {
  dataDir: setting({
    env: 'OMNISTITCH_DATA_DIR',
    defaultText: '.omnistitch',
    description: 'Where local state lives: embedded ClickHouse (chDB) data, the local Kafka broker and its log.',
    schema: z.string().min(1),
    accepts: 'a directory path',
    fallback: '.omnistitch',
  }),
  cacheDir: setting({
    env: 'OMNISTITCH_CACHE_DIR',
    defaultText: '~/.cache/omnistitch',
    description: 'Where the Apache Kafka jars fetched from Maven Central are kept (outside git, shared by checkouts).',
    schema: z.string().min(1),
    accepts: 'a directory path',
    fallback: defaultCacheDir,
  }),
  logLevel: setting({
    env: 'OMNISTITCH_LOG_LEVEL',
    defaultText: 'info',
    description: 'Log level of every component (logs are JSON lines on stderr).',
    ...logLevel,
    fallback: 'info' as const,
  }),
  kafkaBrokers: setting<string[] | undefined>({
    env: 'KAFKA_BROKERS',
    defaultText: '(unset: start a local broker)',
    description: 'Existing Kafka cluster to use. Unset: `start` runs a local single-node KRaft broker.',
    ...brokerList,
    fallback: undefined,
  }),
  kafkaClientId: setting({
    env: 'KAFKA_CLIENT_ID',
    defaultText: 'omnistitch',
    description: 'Client id sent to Kafka (shows in broker logs and quotas).',
    schema: z.string().regex(/^[A-Za-z0-9._-]{1,100}$/),
    accepts: 'letters, digits, ".", "_" and "-", at most 100',
    fallback: 'omnistitch',
  }),
  touchpointTopic: setting({
    env: 'KAFKA_TOPIC_TOUCHPOINTS',
    defaultText: 'omnistitch.touchpoints',
    description: 'Topic the producers write touchpoints to and the loader reads.',
    ...topicName,
    fallback: 'omnistitch.touchpoints',
  }),
  deadLetterTopic: setting({
    env: 'KAFKA_TOPIC_DEAD_LETTER',
    defaultText: 'omnistitch.touchpoints.dlq',
    description: 'Topic that receives records the loader cannot read, with the reason in headers.',
    ...topicName,
    fallback: 'omnistitch.touchpoints.dlq',
  }),
  adCostTopic: setting({
    env: 'KAFKA_TOPIC_AD_COSTS',
    defaultText: 'omnistitch.ad-costs',
    description: 'Topic of daily ad costs (spend, impressions, clicks), which are not touchpoints.',
    ...topicName,
    fallback: 'omnistitch.ad-costs',
  }),
  topicPartitions: setting({
    env: 'KAFKA_TOPIC_PARTITIONS',
    defaultText: '6',
    description: 'Partitions of topics Omnistitch creates (the ceiling on parallel loader instances).',
    ...positiveInt(10_000),
    fallback: 6,
  }),
  consumerGroup: setting({
    env: 'KAFKA_CONSUMER_GROUP',
    defaultText: 'omnistitch-loader',
    description: 'Consumer group of the ClickHouse loader; instances in one group share the partitions.',
    schema: z.string().regex(/^[A-Za-z0-9._-]{1,200}$/),
    accepts: 'letters, digits, ".", "_" and "-", at most 200',
    fallback: 'omnistitch-loader',
  }),
  localKafkaPort: setting({
    env: 'OMNISTITCH_KAFKA_PORT',
    defaultText: '0',
    description: 'Client port of the local broker; 0 picks a free port.',
    ...port(),
    fallback: 0,
  }),
  localKafkaHeapMb: setting({
    env: 'OMNISTITCH_KAFKA_HEAP_MB',
    defaultText: '512',
    description: 'Java heap of the local broker, in MiB.',
    schema: z.coerce.number().int().min(128).max(16_384),
    accepts: 'a whole number of MiB from 128 to 16384',
    fallback: 512,
  }),
  clickhouseUrl: setting<string | undefined>({
    env: 'CLICKHOUSE_URL',
    defaultText: '(unset: embedded chDB)',
    description: 'ClickHouse server to use over HTTP. Unset: embedded chDB under the data directory.',
    ...httpUrl,
    fallback: undefined,
  }),
  clickhouseUser: setting({
    env: 'CLICKHOUSE_USER',
    defaultText: 'default',
    description: 'ClickHouse user (server mode only).',
    schema: z.string().min(1),
    accepts: 'a user name',
    fallback: 'default',
  }),
  clickhousePassword: setting({
    env: 'CLICKHOUSE_PASSWORD',
    defaultText: '(empty)',
    description: 'ClickHouse password (server mode only).',
    schema: z.string(),
    accepts: 'any text',
    fallback: '',
  }),
  clickhouseApiUser: setting<string | undefined>({
    env: 'CLICKHOUSE_API_USER',
    defaultText: '(unset: the API uses CLICKHOUSE_USER, each query with readonly = 2)',
    description:
      'Server mode: a read-only ClickHouse user (readonly = 1 in its profile) the API runs its metric queries as.',
    schema: z.string().min(1),
    accepts: 'a user name',
    fallback: undefined,
  }),
  clickhouseApiPassword: setting({
    env: 'CLICKHOUSE_API_PASSWORD',
    defaultText: '(empty)',
    description: 'Password of CLICKHOUSE_API_USER.',
    schema: z.string(),
    accepts: 'any text',
    fallback: '',
  }),
  clickhouseDatabase: setting({
    env: 'CLICKHOUSE_DATABASE',
    defaultText: 'omnistitch',
    description: 'Database that holds every Omnistitch table; created by `migrate` if missing.',
    ...identifier,
    fallback: 'omnistitch',
  }),
  clickhouseCluster: setting<string | undefined>({
    env: 'CLICKHOUSE_CLUSTER',
    defaultText: '(unset: a single server or embedded chDB)',
    description:
      'Cluster mode: migrations run ON CLUSTER with Replicated engines and Distributed tables over them (docs/OPERATIONS.md).',
    ...identifier,
    accepts: "a cluster name from the servers' remote_servers: letters, digits and underscores",
    fallback: undefined,
  }),
  retentionDays: setting({
    env: 'OMNISTITCH_RETENTION_DAYS',
    defaultText: '0',
    description: 'Days raw touchpoints are kept (a ClickHouse TTL on event_time); 0 keeps them forever.',
    schema: z.coerce.number().int().min(0).max(36_500),
    accepts: 'a whole number of days from 0 to 36500',
    fallback: 0,
  }),
  identityPriority: setting({
    env: 'OMNISTITCH_IDENTITY_PRIORITY',
    defaultText: 'customer_id,loyalty_card,email_hash,phone_hash,device_id,anonymous_id',
    description:
      'Identifier kinds from most to least stable; a person is named after its most stable identifier. Every kind once.',
    schema: z
      .string()
      .transform((raw) => raw.split(',').map((kind) => kind.trim()))
      .pipe(
        z
          .array(z.enum(['customer_id', 'loyalty_card', 'email_hash', 'phone_hash', 'device_id', 'anonymous_id']))
          .length(6)
          .refine((kinds) => new Set(kinds).size === 6),
      ),
    accepts:
      'the six kinds customer_id, loyalty_card, email_hash, phone_hash, device_id, anonymous_id, comma-separated',
    fallback: ['customer_id', 'loyalty_card', 'email_hash', 'phone_hash', 'device_id', 'anonymous_id'],
  }),
  identityMaxPeople: setting<Record<string, number>>({
    env: 'OMNISTITCH_IDENTITY_MAX_PEOPLE',
    defaultText: 'loyalty_card=1,device_id=1,anonymous_id=1',
    description:
      'How many people (customer ids, e-mails, phones) an identifier of a kind may be seen with before it is quarantined: kept, never merged. Order ids: 1 unless set.',
    schema: z
      .string()
      .transform((raw) => raw.split(',').map((pair) => pair.trim().split('=')))
      .pipe(
        z
          .array(
            z.tuple([
              z.enum(['loyalty_card', 'email_hash', 'phone_hash', 'device_id', 'anonymous_id', 'order_id']),
              z
                .string()
                .regex(/^\d{1,4}$/)
                .transform(Number)
                .pipe(z.number().int().min(1).max(1000)),
            ]),
          )
          .min(1),
      )
      .transform((pairs) => Object.fromEntries(pairs)),
    accepts:
      'kind=limit pairs such as "loyalty_card=1,device_id=2"; kinds: loyalty_card, email_hash, phone_hash, device_id, anonymous_id',
    fallback: { loyalty_card: 1, device_id: 1, anonymous_id: 1 },
  }),
  identityJunkValues: setting({
    env: 'OMNISTITCH_IDENTITY_JUNK_VALUES',
    defaultText: '0,null,undefined,anonymous,none,n/a,-,unknown,test',
    description:
      'Values that are never identifiers, of any kind (compared trimmed and case-insensitively); empty values and all-zero cards always are.',
    schema: z
      .string()
      .transform((raw) => raw.split(',').map((value) => value.trim()))
      .pipe(z.array(z.string().min(1)).min(1)),
    accepts: 'a comma-separated list of values',
    fallback: ['0', 'null', 'undefined', 'anonymous', 'none', 'n/a', '-', 'unknown', 'test'],
  }),
  identityIntervalSeconds: setting({
    env: 'OMNISTITCH_IDENTITY_INTERVAL_SECONDS',
    defaultText: '10',
    description:
      'How often the consumer re-resolves identities and refreshes journeys when new events arrived; 0 leaves it to `omnistitch identity resolve`.',
    schema: z.coerce.number().int().min(0).max(86_400),
    accepts: 'a whole number of seconds from 0 to 86400',
    fallback: 10,
  }),
  sessionTimeoutMinutes: setting({
    env: 'OMNISTITCH_SESSION_TIMEOUT_MINUTES',
    defaultText: '30',
    description: 'Inactivity that ends a web or app session.',
    ...positiveInt(1440),
    fallback: 30,
  }),
  journeyLookbackDays: setting({
    env: 'OMNISTITCH_JOURNEY_LOOKBACK_DAYS',
    defaultText: '30',
    description: 'Touches older than this before a conversion are not part of its journey.',
    ...positiveInt(3650),
    fallback: 30,
  }),
  conversionTypes: setting({
    env: 'OMNISTITCH_CONVERSION_TYPES',
    defaultText: 'order_created,pos_receipt',
    description: 'Event types that end a journey (a conversion).',
    schema: z
      .string()
      .transform((raw) => raw.split(',').map((value) => value.trim()))
      .pipe(z.array(z.string().regex(/^[a-z0-9_]{1,64}$/)).min(1)),
    accepts: 'a comma-separated list of event types such as "order_created,pos_receipt,lead_form"',
    fallback: ['order_created', 'pos_receipt'],
  }),
  metricsPort: setting({
    env: 'OMNISTITCH_METRICS_PORT',
    defaultText: '9464',
    description:
      "Port of `omnistitch consume`'s Prometheus endpoint (`/metrics`); `start` serves `/metrics` on the API.",
    ...port(),
    fallback: 9464,
  }),
  schemaRegistryUrl: setting<string | undefined>({
    env: 'SCHEMA_REGISTRY_URL',
    defaultText: '(unset: the embedded registry)',
    description: 'A Confluent-compatible Schema Registry (Confluent, Apicurio, Karapace) that assigns schema ids.',
    ...httpUrl,
    accepts: 'an http:// or https:// URL of a Schema Registry, such as "http://localhost:8081"',
    fallback: undefined,
  }),
  schemaRegistryUser: setting<string | undefined>({
    env: 'SCHEMA_REGISTRY_USER',
    defaultText: '(unset: no authentication)',
    description: 'User name for the Schema Registry (basic authentication).',
    schema: z.string().min(1),
    accepts: 'a user name',
    fallback: undefined,
  }),
  schemaRegistryPassword: setting({
    env: 'SCHEMA_REGISTRY_PASSWORD',
    defaultText: '(empty)',
    description: 'Password for the Schema Registry.',
    schema: z.string(),
    accepts: 'any text',
    fallback: '',
  }),
  apiHost: setting({
    env: 'OMNISTITCH_API_HOST',
    defaultText: '127.0.0.1',
    description: 'Address the API listens on. Use 0.0.0.0 to listen on every interface.',
    schema: z.string().min(1),
    accepts: 'a host name or IP address',
    fallback: '127.0.0.1',
  }),
  apiPort: setting({
    env: 'OMNISTITCH_API_PORT',
    defaultText: '8080',
    description: 'Port the API listens on; 0 picks a free port.',
    ...port(),
    fallback: 8080,
  }),
  apiKeys: setting<Record<string, 'reader' | 'admin'> | undefined>({
    env: 'OMNISTITCH_API_KEYS',
    defaultText: '(unset: one admin key, kept in the data directory)',
    description:
      'Keys of the metrics API as `scope=key` pairs; scope `reader` reads metrics, `admin` also runs admin routes.',
    schema: z
      .string()
      .transform((raw) => raw.split(',').map((pair) => pair.trim().split('=')))
      .pipe(z.array(z.tuple([z.enum(['reader', 'admin']), z.string().min(16)])).min(1))
      .transform((pairs) => Object.fromEntries(pairs.map(([scope, key]) => [key, scope]))),
    accepts: 'comma-separated scope=key pairs, scope reader or admin, each key at least 16 characters',
    fallback: undefined,
  }),
  apiRateLimit: setting({
    env: 'OMNISTITCH_API_RATE_LIMIT',
    defaultText: '600',
    description: 'Requests per minute the metrics API accepts from one key before answering 429.',
    ...positiveInt(1_000_000),
    fallback: 600,
  }),
  collectorPort: setting({
    env: 'OMNISTITCH_COLLECTOR_PORT',
    defaultText: '8081',
    description: 'Port of the HTTP collector (`POST /v1/collect`, webhooks); it listens on OMNISTITCH_API_HOST.',
    ...port(),
    fallback: 8081,
  }),
  writeKeys: setting<Record<string, string> | undefined>({
    env: 'OMNISTITCH_WRITE_KEYS',
    defaultText: '(unset: one key for source "default", kept in the data directory)',
    description: 'Write keys of the collector as `source=key` pairs; a request is recorded with the source of its key.',
    schema: z
      .string()
      .transform((raw) => raw.split(',').map((pair) => pair.trim().split('=')))
      .pipe(z.array(z.tuple([z.string().regex(/^[a-z0-9][a-z0-9_.-]{0,62}$/), z.string().min(16)])).min(1))
      .transform((pairs) => Object.fromEntries(pairs.map(([source, key]) => [key, source]))),
    accepts: 'comma-separated source=key pairs, each key at least 16 characters, such as "site=0123456789abcdef"',
    fallback: undefined,
  }),
  collectorRateLimit: setting({
    env: 'OMNISTITCH_COLLECTOR_RATE_LIMIT',
    defaultText: '600',
    description: 'Requests per minute the collector accepts from one write key before answering 429.',
    ...positiveInt(1_000_000),
    fallback: 600,
  }),
  collectorMaxBodyBytes: setting({
    env: 'OMNISTITCH_COLLECTOR_MAX_BODY_BYTES',
    defaultText: '1048576',
    description: 'Largest request body the collector reads; larger ones get 413.',
    schema: z.coerce
      .number()
      .int()
      .min(1024)
      .max(100 * 1024 * 1024),
    accepts: 'a whole number of bytes from 1024 to 104857600',
    fallback: 1_048_576,
  }),
  dashboardLocalSignIn: setting<'on' | 'off'>({
    env: 'OMNISTITCH_DASHBOARD_LOCAL_SIGN_IN',
    defaultText: 'on',
    description:
      'Whether the dashboard hands its reader key to a browser on this machine (only when the API listens on a loopback address, and never to a request that came through a proxy); `off` behind a proxy that adds no forwarding header.',
    schema: z.enum(['on', 'off']),
    accepts: 'on or off',
    fallback: 'on',
  }),
  demoRate: setting({
    env: 'OMNISTITCH_DEMO_RATE',
    defaultText: '20',
    description: 'Touchpoints per second the demo producer of `start` sends; 0 turns it off.',
    schema: z.coerce.number().int().min(0).max(100_000),
    accepts: 'a whole number from 0 to 100000',
    fallback: 20,
  }),
  hashSecret: setting<string | undefined>({
    env: 'OMNISTITCH_HASH_SECRET',
    defaultText: '(unset: a random secret kept in the data directory)',
    description: 'Secret for the keyed hash (HMAC-SHA256) of e-mails and phone numbers at the capture edge.',
    schema: z.string().min(16),
    accepts: 'a secret of at least 16 characters',
    fallback: undefined,
  }),
} as const

type Settings = typeof settings
/** The validated, frozen configuration that every component receives. */
export type Config = { readonly [K in keyof Settings]: Settings[K]['fallback'] }

/**
 * Reads the environment once, validates every variable and returns a frozen configuration. An empty variable counts
 * as unset. A bad value throws OMNI_ERR_CONFIG_INVALID naming every offending variable and what it accepts.
 */
export function loadConfig(env: Readonly<Record<string, string | undefined>> = process.env): Config {
  const values: Record<string, unknown> = {}
  const problems: string[] = []
  for (const [key, spec] of Object.entries(settings) as [string, Setting<unknown>][]) {
    const raw = env[spec.env]
    if (raw === undefined || raw.trim() === '') {
      values[key] = spec.fallback
      continue
    }
    const parsed = spec.schema.safeParse(raw.trim())
    if (parsed.success) values[key] = parsed.data
    else problems.push(`${spec.env}=${JSON.stringify(raw)} is invalid: expected ${spec.accepts}`)
  }
  if (problems.length > 0) {
    throw new OmnistitchError('OMNI_ERR_CONFIG_INVALID', `Invalid configuration:\n  ${problems.join('\n  ')}`)
  }
  values['dataDir'] = path.resolve(values['dataDir'] as string)
  values['cacheDir'] = path.resolve(values['cacheDir'] as string)
  return Object.freeze(values) as Config
}
