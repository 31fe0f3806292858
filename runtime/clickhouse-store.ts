import fs from 'node:fs'
import path from 'node:path'
import { Readable } from 'node:stream'
import { randomUUID } from 'node:crypto'
import { createClient, parseError, type ClickHouseClient, type ClickHouseSettings } from '@clickhouse/client'
import {
  ChdbConnection,
  type ConnBaseQueryParams,
  type ConnCommandResult,
  type ConnExecParams,
  type ConnExecResult,
  type ConnInsertParams,
  type ConnInsertResult,
  type ConnQueryResult,
} from 'chdb/connection'
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

/** What the client sends for `insertRows`: `INSERT INTO db.table (a, b) FORMAT TabSeparated`. */
const tabSeparatedInsert = /^INSERT INTO ([\w.]+) \(([\w, ]+)\) FORMAT TabSeparated$/
/** Settings of the HTTP layer that the embedded engine does not know (chdb/connection drops them the same way). */
const httpOnlySettings = new Set(['wait_end_of_query', 'send_progress_in_http_headers', 'enable_http_compression'])

/** A value as a ClickHouse SQL literal: numbers and booleans as they are, anything else a quoted string. */
function sqlLiteral(value: string | number | boolean): string {
  if (typeof value === 'number' && Number.isFinite(value)) return String(value)
  if (typeof value === 'boolean') return value ? '1' : '0'
  return `'${String(value).replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`
}

/**
 * chDB's connection for @clickhouse/client, with one change: a TabSeparated insert is spooled to a file and loaded
 * with `INSERT ... SELECT * FROM file(...)`. The stock `insert` concatenates statement and body into one SQL string
 * (tens of MB for a Kafka batch) on the Node thread, and even chDB's raw insert, which takes the body as a Buffer,
 * hands it to the engine as data inline in the query, which the engine reads at about 15 µs a touchpoint row. Read
 * from a file, the same rows cost the engine 5-7 µs (docs/ARCHITECTURE.md, D24). The file is written off the Node
 * thread, read as text columns and cast to the table's types by the INSERT, and removed after the insert returns.
 * Everything else, and any other insert, is the stock connection's.
 */
class EmbeddedConnection extends ChdbConnection {
  constructor(
    params: ConstructorParameters<typeof ChdbConnection>[0],
    private readonly spoolDir: string,
  ) {
    super(params)
  }

  /**
   * The stock connection sends a query's settings as `SET` statements ahead of it, and SET lasts for the whole
   * embedded session: one API query's readonly = 2 or memory limit would then hold for the loader's inserts and the
   * resolver in the same process. Here they go into the query's own SETTINGS clause and hold for it alone.
   */
  override async query(params: ConnBaseQueryParams): Promise<ConnQueryResult<Readable>> {
    return this.inTurn(() => this.queryWithSettings(params))
  }

  override async command(params: ConnBaseQueryParams): Promise<ConnCommandResult> {
    return this.inTurn(() => super.command(params))
  }

  override async exec(params: ConnExecParams<Readable>): Promise<ConnExecResult<Readable>> {
    return this.inTurn(() => super.exec(params))
  }

  /**
   * chDB keeps the output a statement wrote before it failed (a query that throws after its first blocks, as one
   * stopped by a limit midway would) and hands it out in front of the next statement's result: that one then
   * fails to parse, or, in a format without framing, carries rows that are not its own. Seen with chdb 3.4 (docs/
   * ARCHITECTURE.md D29). So statements run one at a time here (the engine runs them one at a time anyway), and after
   * a failure a throwaway statement takes the leftover before the next one starts.
   */
  private inTurn<T>(run: () => Promise<T>): Promise<T> {
    const turn = this.lastTurn.then(async () => {
      try {
        return await run()
      } catch (error) {
        await this.chdb.queryAsync('SELECT 1 FORMAT TabSeparated').catch(() => undefined)
        throw error
      }
    })
    this.lastTurn = turn.catch(() => undefined)
    return turn
  }

  private lastTurn: Promise<unknown> = Promise.resolve()

  private async queryWithSettings(params: ConnBaseQueryParams): Promise<ConnQueryResult<Readable>> {
    const settings = Object.entries(params.clickhouse_settings ?? {}).filter(
      ([name, value]) => value !== undefined && !httpOnlySettings.has(name) && /^\w+$/.test(name),
    )
    const format = /\s+FORMAT\s+\w+\s*$/.exec(params.query)
    if (settings.length === 0 || format === null) return super.query(params)
    const clause = settings
      .map(
        ([name, value]) =>
          `${name} = ${sqlLiteral(typeof value === 'object' ? JSON.stringify(value) : (value as string))}`,
      )
      .join(', ')
    const query = `${params.query.slice(0, format.index)}\nSETTINGS ${clause}${params.query.slice(format.index)}`
    return super.query({ ...params, query, clickhouse_settings: {} })
  }

  override async insert(params: ConnInsertParams<Readable>): Promise<ConnInsertResult> {
    return this.inTurn(() => this.insertFromFile(params))
  }

  private async insertFromFile(params: ConnInsertParams<Readable>): Promise<ConnInsertResult> {
    const statement = tabSeparatedInsert.exec(params.query)
    const hasParams = params.query_params !== undefined && Object.keys(params.query_params).length > 0
    if (statement === null || hasParams || typeof params.values === 'string') return super.insert(params)
    const chunks: Buffer[] = []
    for await (const chunk of params.values as AsyncIterable<Buffer | Uint8Array | string>) {
      chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk))
    }
    const body = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks)
    const settings: string[] = []
    for (const [name, value] of Object.entries(params.clickhouse_settings ?? {})) {
      if (value === undefined || httpOnlySettings.has(name) || !/^\w+$/.test(name)) continue
      settings.push(`${name} = ${sqlLiteral(typeof value === 'object' ? JSON.stringify(value) : value)}`)
    }
    const query_id = params.query_id ?? randomUUID()
    const table = statement[1] as string
    const columns = (statement[2] as string).split(', ')
    let written = { rows: 0, bytes: body.length, elapsed: 0 }
    if (body.length > 0) {
      const file = path.join(this.spoolDir, `${query_id}.tsv`)
      await fs.promises.writeFile(file, body)
      try {
        const structure = columns.map((column) => `${column} String`).join(', ')
        const result = await this.chdb.queryAsync(
          `INSERT INTO ${table} (${columns.join(', ')})${settings.length > 0 ? ` SETTINGS ${settings.join(', ')}` : ''} ` +
            `SELECT * FROM file(${sqlLiteral(file)}, 'TabSeparated', ${sqlLiteral(structure)})`,
        )
        written = { rows: result.rowsRead, bytes: body.length, elapsed: result.elapsed }
      } catch (error) {
        // The same error shape as the stock path: a ClickHouseError with the engine's code and type.
        const mapped = parseError(error instanceof Error ? error.message : String(error))
        if (mapped !== error) Object.assign(mapped, { cause: error })
        throw mapped
      } finally {
        await fs.promises.rm(file, { force: true })
      }
    }
    return {
      query_id,
      response_headers: {},
      http_status_code: 200,
      summary: {
        read_rows: String(written.rows),
        read_bytes: String(written.bytes),
        written_rows: String(written.rows),
        written_bytes: String(written.bytes),
        result_rows: '0',
        result_bytes: '0',
        total_rows_to_read: '0',
        elapsed_ns: String(Math.max(0, Math.round(written.elapsed * 1e9))),
      },
    }
  }
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
  const spoolRoot = path.join(options.dataDir, 'insert-spool')
  const spoolDir = path.join(spoolRoot, randomUUID())
  let connection: EmbeddedConnection
  try {
    connection = new EmbeddedConnection({ path: embeddedPath }, spoolDir)
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
  // Insert bodies on their way into the engine, a directory per open store. Only now that this process holds the
  // data directory are the others cleared, except those of stores this process has open: whatever a crash left was
  // never acknowledged, so its batch comes again from Kafka.
  fs.mkdirSync(spoolDir, { recursive: true })
  openSpoolDirs.add(spoolDir)
  for (const entry of fs.readdirSync(spoolRoot)) {
    const leftover = path.join(spoolRoot, entry)
    if (!openSpoolDirs.has(leftover)) fs.rmSync(leftover, { recursive: true, force: true })
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
    async close() {
      await client.close()
      openSpoolDirs.delete(spoolDir)
      fs.rmSync(spoolDir, { recursive: true, force: true })
    },
  }
}

/** The spool directories of the stores this process has open (see `openStore`). */
const openSpoolDirs = new Set<string>()

/**
 * Runs a SELECT with the store's database bound as `{database:Identifier}` (plus any other bound parameters) and
 * returns its rows. 64-bit integers come back as JSON numbers: counts and sums here stay far below 2^53.
 *
 * The engine writes the result column by column (JSONColumnsWithMetadata: one JSON document, an array per column),
 * parsed at once and turned into rows here: for results of 10^5 rows this takes half the time of JSONEachRow, whose every line is a
 * JSON.parse of its own (docs/ARCHITECTURE.md, D28). The values are the same JSON either way.
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
    format: 'JSONColumnsWithMetadata',
    clickhouse_settings: { output_format_json_quote_64bit_integers: 0, ...settings },
  })
  const { data } = (await result.json()) as unknown as { data: Record<string, unknown[]> }
  const columns = Object.entries(data)
  const count = columns[0]?.[1].length ?? 0
  const rows = new Array<T>(count)
  for (let i = 0; i < count; i++) {
    const row: Record<string, unknown> = {}
    for (const [name, values] of columns) row[name] = values[i]
    rows[i] = row as T
  }
  return rows
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
  await insertTabSeparated(store, table, columns, lines, settings)
}

/**
 * Inserts lines of TabSeparated text already escaped (one row each, `columns` in order, no trailing newline): the
 * loader's hot path, which writes each line straight from the decoded event. The body goes over as one Buffer, which
 * embedded mode hands to the engine without another copy into a SQL string.
 */
export async function insertTabSeparated(
  store: Store,
  table: string,
  columns: readonly string[],
  lines: readonly string[],
  settings: ClickHouseSettings = {},
): Promise<void> {
  if (lines.length === 0) return
  const body = Buffer.from(`${lines.join('\n')}\n`)
  await store.client.insert({
    table: `${store.database}.${table}`,
    values: Readable.from([body], { objectMode: false }),
    format: 'TabSeparated',
    columns: [...columns] as unknown as [string, ...string[]],
    clickhouse_settings: settings,
  })
}
