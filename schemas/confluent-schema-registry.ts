import { COMPATIBILITY, SchemaRegistry as ConfluentClient, SchemaType } from '@kafkajs/confluent-schema-registry'
import type avro from 'avsc'
import { OmnistitchError, describeError } from '../runtime/errors.ts'
import { logicalTypes, loadSchemaCatalog, parseSchema, type SchemaCatalog } from './schema-catalog.ts'
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

/** The answer of a Confluent-compatible registry to `GET /schemas/ids/{id}`. */
interface SchemaById {
  readonly schema?: string
  readonly schemaType?: string
  readonly error_code?: number
  readonly message?: string
}

/** A registry's JSON answer; anything else (an HTML page, a bare string) reads as an answer with no fields. */
function parseBody(text: string): SchemaById {
  try {
    const parsed: unknown = JSON.parse(text)
    return typeof parsed === 'object' && parsed !== null ? parsed : {}
  } catch {
    return {}
  }
}

/**
 * A client for a Confluent-compatible Schema Registry (Confluent, Apicurio's ccompat API, Karapace), behind the same
 * interface as the embedded registry. The first write of a family registers its newest schema under the record-name
 * subject (setting the subject's compatibility to BACKWARD_TRANSITIVE on first registration) and caches the id; the
 * first read of an id fetches its writer schema and caches the reader. The registry decides the ids.
 */
export function createConfluentSchemaRegistry(options: ConfluentRegistryOptions): SchemaRegistry {
  const catalog = options.catalog ?? loadSchemaCatalog()
  const baseUrl = options.url.replace(/\/+$/, '')
  const retries = options.retries ?? 3
  const auth =
    options.username === undefined ? undefined : { username: options.username, password: options.password ?? '' }
  const client = new ConfluentClient(
    {
      host: baseUrl,
      auth,
      clientId: 'omnistitch',
      retry: { retries, initialRetryTimeInSecs: 0.2, maxRetryTimeInSecs: 2 },
    },
    { [SchemaType.AVRO]: { logicalTypes } },
  )
  const writers = new Map<string, Promise<WriterSchema>>()
  const readers = new Map<number, Promise<ReaderSchema>>()
  /** The readers looked up so far, for `cachedReader`. */
  const ready = new Map<number, ReaderSchema>()

  const unavailable = (what: string, error: unknown) => {
    // The package's errors read "omnistitch - <registry message>", and mappersmith reports a connection that failed
    // as "Error, status 400: connect ECONNREFUSED ...": no answer came, so no status is shown for it.
    const message = describeError(error).replace(/^omnistitch - /, '')
    const network = /^Error, status 400: (?=.*\bE[A-Z]{3,}\b)/.exec(message)
    const status = (error as { status?: unknown } | undefined)?.status
    const detail =
      network !== null
        ? message.slice(network[0].length)
        : typeof status === 'number'
          ? `HTTP ${status}: ${message}`
          : message
    return new OmnistitchError(
      'OMNI_ERR_SCHEMA_REGISTRY_UNAVAILABLE',
      `Schema Registry at ${options.url}: ${what} failed: ${detail}`,
      { cause: error },
    )
  }

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

  /**
   * `GET /schemas/ids/{id}`, retried on network errors and 5xx. Read here rather than through the package, whose
   * errors drop the registry's `error_code`: only 40403 means the id is unknown. Any other 404 (a URL that is not the
   * registry's base, a proxy) must not send every record to the dead-letter topic as "unknown id".
   */
  async function fetchSchemaById(id: number): Promise<SchemaById> {
    const address = `${baseUrl}/schemas/ids/${id}`
    const headers: Record<string, string> = { accept: 'application/vnd.schemaregistry.v1+json, application/json' }
    if (auth !== undefined) {
      headers['authorization'] = `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`
    }
    for (let attempt = 0; ; attempt++) {
      let failure: unknown
      try {
        const response = await fetch(address, { headers, signal: AbortSignal.timeout(10_000) })
        const text = await response.text()
        const body = parseBody(text)
        if (response.ok && typeof body.schema === 'string') return body
        if (response.status === 404 && body.error_code === 40403) return body
        const hint =
          response.status === 404 ? " (no registry error code 40403: is the URL the registry's base URL?)" : ''
        failure = Object.assign(new Error(`${body.message ?? (text.slice(0, 200) || response.statusText)}${hint}`), {
          status: response.status,
        })
        if (response.status < 500 && response.status !== 429) throw unavailable(`reading schema id ${id}`, failure)
      } catch (error) {
        if (error instanceof OmnistitchError) throw error
        // fetch says "fetch failed"; its cause says why (connect ECONNREFUSED ...).
        const cause = (error as { cause?: unknown }).cause
        failure = cause instanceof Error ? cause : error
      }
      if (attempt >= retries) throw unavailable(`reading schema id ${id}`, failure)
      await new Promise((resolve) => setTimeout(resolve, Math.min(2_000, 200 * 2 ** attempt)))
    }
  }

  return {
    kind: 'confluent',
    writerFor: (family) =>
      cached(writers, family, async () => {
        const entry = catalog.latest(family)
        if (entry === undefined) throw new Error(`no schema for family ${family}`)
        try {
          const { id } = await client.register(
            // exportAttrs: with defaults, docs and aliases. Without, the registry's compatibility check would refuse
            // a new field whose default is what makes it compatible, and other readers would not see the defaults.
            { type: SchemaType.AVRO, schema: JSON.stringify(entry.type.schema({ exportAttrs: true })) },
            // The contract schemas:check proves. A subject configured otherwise in the registry is refused with a
            // message that says so, rather than silently written under a weaker rule.
            { subject: entry.subject, compatibility: COMPATIBILITY.BACKWARD_TRANSITIVE },
          )
          return { id, type: entry.type }
        } catch (error) {
          throw unavailable(`registering ${entry.subject}`, error)
        }
      }),
    cachedReader: (id) => ready.get(id),
    readerFor: (id) =>
      cached(readers, id, async () => {
        const found = await fetchSchemaById(id)
        if (found.schema === undefined) {
          throw new OmnistitchError(
            'OMNI_ERR_SCHEMA_UNKNOWN_ID',
            `schema id ${id} is not known to the Schema Registry at ${options.url}`,
          )
        }
        let writer: avro.Type
        try {
          if ((found.schemaType ?? 'AVRO') !== 'AVRO') throw new Error(`a ${found.schemaType} schema`)
          writer = parseSchema(JSON.parse(found.schema) as avro.Schema)
        } catch (error) {
          throw new OmnistitchError(
            'OMNI_ERR_SCHEMA_UNKNOWN_ID',
            `schema id ${id} in the Schema Registry at ${options.url} is no Omnistitch Avro schema: ${describeError(error)}`,
            { cause: error },
          )
        }
        const reader = readerForWriter(catalog, id, writer)
        ready.set(id, reader)
        return reader
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
