import fs from 'node:fs'

/** Reads a query from `queries/sql/` once; analysts can run the same file with clickhouse-client. */
export function loadSql(name: string): string {
  return fs.readFileSync(new URL(`./sql/${name}.sql`, import.meta.url), 'utf8')
}

/**
 * A query read two ways: `NAME.sql` over the events, and `NAME-days.sql` over the daily aggregates the view refresh
 * keeps (schemas/clickhouse/0004_daily_aggregates.sql), which answers the same for ranges of whole UTC days (tested
 * equal) without reading every event. `for(range)` picks the one that can answer the range.
 */
export function loadRangeSql(name: string): { readonly for: (range: { readonly wholeDays: boolean }) => string } {
  const events = loadSql(name)
  const days = loadSql(`${name}-days`)
  return { for: (range) => (range.wholeDays ? days : events) }
}
