import { parse } from 'csv-parse/sync'
import { OmnistitchError } from '../../runtime/errors.ts'

/**
 * Journeys that share one sequence of channels, aggregated: how many converted, their total value, and how many ended
 * without converting. This is the layout attribution tools exchange (ChannelAttribution's `path`,
 * `total_conversions`, `total_conversion_value`, `total_null`).
 */
export interface PathCount {
  /** Channels in time order, repeats kept. */
  readonly channels: readonly string[]
  readonly conversions: number
  readonly value: number
  readonly nulls: number
  /**
   * For time decay: how long before the conversion (or the journey's end) each touch happened, in days, one per
   * channel. Absent in path files; then each touch counts as one step before the next.
   */
  readonly ages?: readonly number[]
}

/** The separator between channels in a path, as ChannelAttribution and most exports write it. */
export const pathSeparator = ' > '

type HeaderField = 'path' | 'total_conversions' | 'total_conversion_value' | 'total_null'

function invalid(message: string): OmnistitchError {
  return new OmnistitchError('OMNI_ERR_PATHS_INVALID', message)
}

/**
 * Reads a path file: a header `path;total_conversions;total_conversion_value;total_null` (`;` or `,` between fields;
 * `total_conversion_value` and `total_null` may be left out), then a line per path with its channels joined by ` > `.
 * Throws OMNI_ERR_PATHS_INVALID naming the line and field of the first thing it cannot read.
 */
export function parsePathFile(text: string): PathCount[] {
  const firstLine = text.slice(0, text.indexOf('\n') === -1 ? undefined : text.indexOf('\n'))
  const delimiter = firstLine.includes(';') ? ';' : ','
  let records: string[][]
  try {
    records = parse(text, { delimiter, skip_empty_lines: true, trim: true, relax_column_count: true, bom: true })
  } catch (error) {
    throw invalid(`path file: ${(error as Error).message}`)
  }
  const names = (records[0] ?? []).map((name) => name.toLowerCase())
  const column = (name: HeaderField) => names.indexOf(name)
  if (column('path') === -1 || column('total_conversions') === -1) {
    throw invalid(
      `path file, line 1: expected a header with at least path${delimiter}total_conversions ` +
        `(optionally ${delimiter}total_conversion_value${delimiter}total_null); got ${JSON.stringify(firstLine.slice(0, 120))}`,
    )
  }
  const paths: PathCount[] = []
  records.slice(1).forEach((record, index) => {
    const line = index + 2
    const number = (name: HeaderField, fallback: number) => {
      const at = column(name)
      const raw = at === -1 ? undefined : record[at]
      if (raw === undefined || raw === '') return fallback
      const value = Number(raw)
      if (!Number.isFinite(value) || value < 0) {
        throw invalid(`path file, line ${line}, ${name}: expected a number of 0 or more (got ${JSON.stringify(raw)})`)
      }
      return value
    }
    const channels = (record[column('path')] ?? '')
      .split(/\s*>\s*/)
      .map((channel) => channel.trim())
      .filter((channel) => channel !== '')
    if (channels.length === 0) throw invalid(`path file, line ${line}, path: expected channels joined by " > "`)
    paths.push({
      channels,
      conversions: number('total_conversions', 0),
      value: number('total_conversion_value', 0),
      nulls: number('total_null', 0),
    })
  })
  return paths
}
