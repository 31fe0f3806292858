import fs from 'node:fs'
import path from 'node:path'
import { Readable } from 'node:stream'
import { createClient, type ClickHouseClient, type ClickHouseSettings } from '@clickhouse/client'
import { createChdbConnection } from 'chdb/connection'
import { OmnistitchError, describeError } from './errors.ts'

type ClientConnection = NonNullable<Parameters<typeof createClient>[0]>['connection']

export interface StoreOptions {
  /** ClickHouse server URL; undefined means embedded chDB. */
  readonly url: string | undefined
  readonly user: string
  readonly password: string
  /** Every table lives in this database; SQL names it through the `{database:Identifier}` parameter. */
  readonly database: string
  /** Cluster mode: the cluster migrations run ON (see CLICKHOUSE_CLUSTER). */
  readonly cluster?: string | undefined
  /** The data directory; chDB keeps its files under `<dataDir>/clickhouse`. */
  readonly dataDir: string
}

/** A ClickHouse client plus what callers need to know about where it points. */
export interface Store {
  readonly client: ClickHouseClient
  readonly database: string
  readonly mode: 'embedded' | 'server'
  readonly cluster: string | undefined
  /** Where chDB keeps its files (embedded mode only). */
  readonly embeddedPath: string | undefined
  close(): Promise<void>
}

/**
 * Opens the ClickHouse store. Embedded mode binds chDB to `<dataDir>/clickhouse`; chDB allows one process per data
 * directory, so a second process fails here with OMNI_ERR_STORE_LOCKED instead of at its first query.
 *
 * chDB ignores the client's `database` option, so SQL always names the database explicitly (bound as an identifier
 * parameter) and both modes run the same statements.
 */
export async function openStore(options: StoreOptions): Promise<Store> {
  if (options.url !== undefined) {
    const client = createClient({
      url: options.url,
      username: options.user,
      password: options.password,
      application: 'omnistitch',
    })
    return {
      client,
      database: options.database,
      mode: 'server',
      cluster: options.cluster,
      embeddedPath: undefined,
      close: () => client.close(),
    }
  }
  if (options.cluster !== undefined) {
    throw new OmnistitchError(
      'OMNI_ERR_CONFIG_INVALID',
      'CLICKHOUSE_CLUSTER needs CLICKHOUSE_URL: embedded chDB is one process, not a cluster',
    )
  }
  const embeddedPath = path.join(options.dataDir, 'clickhouse')
  fs.mkdirSync(embeddedPath, { recursive: true })
  let connection: ReturnType<typeof createChdbConnection>
  try {
    connection = createChdbConnection({ path: embeddedPath })
  } catch (error) {
    // chDB prints "Cannot lock file .../status" on stderr and throws a generic connection error.
    throw new OmnistitchError(
      'OMNI_ERR_STORE_LOCKED',
      `Could not open the embedded ClickHouse data directory ${embeddedPath}; most often another process holds it. ` +
        `In embedded mode run the components that touch the store in one process (\`omnistitch start\`), stop the ` +
        `other process, or set CLICKHOUSE_URL to use a ClickHouse server. (${describeError(error)})`,
      { cause: error },
    )
  }
  // chdb types its connection against @clickhouse/client-common, which @clickhouse/client 1.23.1 now bundles as its
  // own copy: the same interface, two declarations. The runtime contract is the documented one.
  const client = createClient({ connection: connection as unknown as ClientConnection })
  return {
    client,
    database: options.database,
    mode: 'embedded',
    cluster: undefined,
    embeddedPath,
    close: () => client.close(),
  }
}

/**
 * Runs a SELECT with the store's database bound as `{database:Identifier}` (plus any other bound parameters) and
 * returns its rows. 64-bit integers come back as JSON numbers: counts and sums here stay far below 2^53.
 */
export async function queryRows<T>(
  store: Store,
  query: string,
  params: Record<string, unknown> = {},
  settings: ClickHouseSettings = {},
): Promise<T[]> {
  const result = await store.client.query({
    query,
    query_params: { database: store.database, ...params },
    format: 'JSONEachRow',
    clickhouse_settings: { output_format_json_quote_64bit_integers: 0, ...settings },
  })
  return result.json<T>()
}

/** A value in ClickHouse's TabSeparated text: backslash, tab, newline and carriage return escaped. */
function tsvField(value: unknown): string {
  const text = typeof value === 'string' ? value : String(value)
  return /[\\\t\n\r]/.test(text)
    ? text.replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n').replace(/\r/g, '\\r')
    : text
}

/**
 * Inserts rows as TabSeparated text built here, the cheapest input format for the engine to parse and for us to
 * write (docs/ARCHITECTURE.md, D24: measured against JSONEachRow). `columns` names what each row holds, in order.
 */
export async function insertRows<Row extends object>(
  store: Store,
  table: string,
  columns: readonly (keyof Row & string)[],
  rows: readonly Row[],
  settings: ClickHouseSettings = {},
): Promise<void> {
  if (rows.length === 0) return
  const lines: string[] = new Array<string>(rows.length)
  for (let index = 0; index < rows.length; index++) {
    const row = rows[index] as Record<string, unknown>
    let line = ''
    for (let column = 0; column < columns.length; column++) {
      if (column > 0) line += '\t'
      line += tsvField(row[columns[column] as string])
    }
    lines[index] = line
  }
  await store.client.insert({
    table: `${store.database}.${table}`,
    values: Readable.from([`${lines.join('\n')}\n`], { objectMode: false }),
    format: 'TabSeparated',
    columns: [...columns] as unknown as [string, ...string[]],
    clickhouse_settings: settings,
  })
}
