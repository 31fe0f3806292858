import { formatDateTime64 } from '../runtime/clickhouse-values.ts'
import { OmnistitchError } from '../runtime/errors.ts'

const dayMs = 24 * 60 * 60 * 1000

/** The `from` and `to` querystring parameters every metric route takes, as JSON schema properties. */
export const timeRangeProperties = {
  from: {
    type: 'string',
    format: 'date-time',
    description: 'Start of the range, inclusive (default: 30 days before `to`).',
  },
  to: {
    type: 'string',
    format: 'date-time',
    description: 'End of the range, exclusive (default: the end of today, UTC: the next midnight).',
  },
} as const

export interface TimeRange {
  /** ISO 8601, for the response. */
  readonly from: string
  readonly to: string
  /** As bound SQL parameters (DateTime64(3), UTC). */
  readonly params: { readonly from: string; readonly to: string }
  /**
   * Both ends are UTC midnights: the range is whole days, and the daily aggregates kept by the view refresh can answer
   * it (`queries/sql/*-days.sql`) instead of the events.
   */
  readonly wholeDays: boolean
}

/**
 * The range a request asks for: the 30 days before `to` unless `from` says otherwise. `to` defaults to the end of
 * today (UTC), so that the default range is whole days, which the daily aggregates answer (`wholeDays`).
 */
export function timeRangeOf(
  query: { readonly from?: string; readonly to?: string },
  now: number = Date.now(),
): TimeRange {
  const to = query.to === undefined ? Math.floor(now / dayMs) * dayMs + dayMs : Date.parse(query.to)
  const from = query.from === undefined ? to - 30 * dayMs : Date.parse(query.from)
  if (from >= to) {
    throw new OmnistitchError('OMNI_ERR_API_BAD_PARAMETER', 'querystring parameter "from" must be before "to"')
  }
  return {
    from: new Date(from).toISOString(),
    to: new Date(to).toISOString(),
    params: { from: formatDateTime64(from), to: formatDateTime64(to) },
    wholeDays: from % dayMs === 0 && to % dayMs === 0,
  }
}
