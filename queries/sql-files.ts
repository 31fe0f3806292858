import fs from 'node:fs'

/** Reads a query from `queries/sql/` once; analysts can run the same file with clickhouse-client. */
export function loadSql(name: string): string {
  return fs.readFileSync(new URL(`./sql/${name}.sql`, import.meta.url), 'utf8')
}
