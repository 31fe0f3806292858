import { COMPATIBILITY, SchemaRegistry as ConfluentClient, SchemaType } from '@kafkajs/confluent-schema-registry'
import type avro from 'avsc'
import { OmnistitchError, describeError } from '../runtime/errors.ts'
import { logicalTypes, loadSchemaCatalog, type SchemaCatalog } from './schema-catalog.ts'
import {
  createEmbeddedSchemaRegistry,
  readerForWriter,
  type ReaderSchema,
  type SchemaRegistry,
  type WriterSchema,
} from './schema-registry.ts'

export interface ConfluentRegistryOptions {
  readonly url: string
  readonly username?: string
  readonly password?: string
  readonly catalog?: SchemaCatalog
  /** Retries of one HTTP call before it fails (the caller's batch is retried as a whole). */
  readonly retries?: number
}

/**
 * A client for a Confluent-compatible Schema Registry (Confluent, Apicurio's ccompat API, Karapace), behind the same
 * interface as the embedded registry. The first write of a family registers its newest schema under the record-name
 * subject (setting the subject's compatibility to BACKWARD_TRANSITIVE on first registration) and caches the id; the
 * first read of an id fetches its writer schema and caches the reader. The registry decides the ids.
 */
export function createConfluentSchemaRegistry(options: ConfluentRegistryOptions): SchemaRegistry {
  const catalog = options.catalog ?? loadSchemaCatalog()
  const client = new ConfluentClient(
    {
      host: options.url,
      auth:
        options.username === undefined ? undefined : { username: options.username, password: options.password ?? '' },
      clientId: 'omnistitch',
      retry: { retries: options.retries ?? 3, initialRetryTimeInSecs: 0.2, maxRetryTimeInSecs: 2 },
    },
    { [SchemaType.AVRO]: { logicalTypes } },
  )
  const writers = new Map<string, Promise<WriterSchema>>()
  const readers = new Map<number, Promise<ReaderSchema>>()

  const unavailable = (what: string, error: unknown) =>
    new OmnistitchError(
      'OMNI_ERR_SCHEMA_REGISTRY_UNAVAILABLE',
      `Schema Registry at ${options.url}: ${what} failed: ${describeError(error)}`,
      {
        cause: error,
      },
    )

  /** A failed lookup is not cached: the next call tries again. */
  function cached<K, V>(cache: Map<K, Promise<V>>, key: K, load: () => Promise<V>): Promise<V> {
    let entry = cache.get(key)
    if (entry === undefined) {
      entry = load()
      cache.set(key, entry)
      entry.catch(() => cache.delete(key))
    }
    return entry
  }

  return {
    kind: 'confluent',
    writerFor: (family) =>
      cached(writers, family, async () => {
        const entry = catalog.latest(family)
        if (entry === undefined) throw new Error(`no schema for family ${family}`)
        try {
          const { id } = await client.register(
            { type: SchemaType.AVRO, schema: JSON.stringify(entry.type.schema()) },
            // The contract schemas:check proves. A subject configured otherwise in the registry is refused with a
            // message that says so, rather than silently written under a weaker rule.
            { subject: entry.subject, compatibility: COMPATIBILITY.BACKWARD_TRANSITIVE },
          )
          return { id, type: entry.type }
        } catch (error) {
          throw unavailable(`registering ${entry.subject}`, error)
        }
      }),
    readerFor: (id) =>
      cached(readers, id, async () => {
        let writer: avro.Type
        try {
          writer = (await client.getSchema(id)) as unknown as avro.Type
        } catch (error) {
          if (/not found|40403/i.test(describeError(error))) {
            throw new OmnistitchError(
              'OMNI_ERR_SCHEMA_UNKNOWN_ID',
              `schema id ${id} is not known to the Schema Registry at ${options.url}`,
              {
                cause: error,
              },
            )
          }
          throw unavailable(`reading schema id ${id}`, error)
        }
        return readerForWriter(catalog, id, writer)
      }),
  }
}

/** The registry the configuration asks for: a Confluent-compatible one with SCHEMA_REGISTRY_URL, else the embedded one. */
export function createSchemaRegistry(config: {
  readonly schemaRegistryUrl: string | undefined
  readonly schemaRegistryUser: string | undefined
  readonly schemaRegistryPassword: string
}): SchemaRegistry {
  return config.schemaRegistryUrl === undefined
    ? createEmbeddedSchemaRegistry()
    : createConfluentSchemaRegistry({
        url: config.schemaRegistryUrl,
        username: config.schemaRegistryUser,
        password: config.schemaRegistryPassword,
      })
}
