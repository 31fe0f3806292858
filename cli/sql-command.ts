import type { ClickHouseSettings } from '@clickhouse/client'
import { OmnistitchError, describeError } from '../runtime/errors.ts'
import type { Config } from '../runtime/config.ts'
import type { Logger } from '../runtime/logger.ts'
import { openMigratedStore } from './commands.ts'

/** The output formats of `omnistitch sql`, and the ClickHouse format each is. */
const formats = {
  table: 'PrettyCompactMonoBlock',
  csv: 'CSVWithNames',
  tsv: 'TabSeparatedWithNames',
  json: 'JSONEachRow',
  arrow: 'ArrowStream',
} as const
export type SqlOutputFormat = keyof typeof formats

/**
 * `omnistitch sql "<query>"`: read-only SQL against the store, printed as a table, CSV, TSV, JSON lines or an Arrow
 * stream (the engine's own output formats). `{database:Identifier}` names the store's database. The query runs with
 * `readonly = 2` (no writes, no DDL) and the metric queries' time and memory limits. Opening the store writes no
 * setting either: the journey settings and identity rules stay as the pipeline stored them.
 */
export async function sqlCommand(
  { config, logger }: { config: Config; logger: Logger },
  query: string,
  options: { format: string },
  out: NodeJS.WritableStream = process.stdout,
): Promise<void> {
  const format = formats[options.format as SqlOutputFormat]
  if (format === undefined) {
    throw new OmnistitchError(
      'OMNI_ERR_CONFIG_INVALID',
      `--format: expected one of ${Object.keys(formats).join(', ')} (got ${JSON.stringify(options.format)})`,
    )
  }
  const store = await openMigratedStore(config, logger)
  try {
    const settings: ClickHouseSettings = { readonly: '2', max_execution_time: 60, max_memory_usage: '4000000000' }
    // exec hands back the engine's bytes as they are, whatever the format (query() parses only row formats).
    const statement = `${query.trim().replace(/;+$/, '')}\nFORMAT ${format}`
    try {
      const { stream } = await store.client.exec({
        query: statement,
        query_params: { database: store.database },
        clickhouse_settings: settings,
      })
      for await (const chunk of stream as AsyncIterable<Buffer>) out.write(chunk)
    } catch (error) {
      // The engine's own message says what is wrong (a syntax error, an unknown table, a write refused).
      throw new OmnistitchError('OMNI_ERR_SQL_FAILED', `the query failed: ${describeError(error)}`, { cause: error })
    }
  } finally {
    await store.close()
  }
}
