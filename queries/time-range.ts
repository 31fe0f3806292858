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
 * The instants a range may name, [1970-01-01, 2300-01-01]. A DateTime64(3) holds 1900 on, but the engine's Date (the
 * days the overview fills) starts at 1970, and no event is stored from before 2000 (schemas/event-checks.ts).
 */
const earliest = Date.UTC(1970, 0, 1)
const latest = Date.UTC(2300, 0, 1)

/**
 * The instant a `from` or `to` names. The schema's date-time format lets through times JavaScript cannot read (a leap
 * second, 23:59:60) and years the engine cannot store: both are refused here, naming the parameter.
 */
function instantOf(name: 'from' | 'to', text: string): number {
  const instant = Date.parse(text)
  if (Number.isNaN(instant)) {
    throw new OmnistitchError(
      'OMNI_ERR_API_BAD_PARAMETER',
      `querystring parameter "${name}": expected an ISO 8601 date-time such as 2026-05-01T00:00:00Z (got "${text.slice(0, 64)}")`,
    )
  }
  return instant
}

function checkStorable(name: 'from' | 'to', instant: number): void {
  if (instant < earliest || instant > latest) {
    throw new OmnistitchError(
      'OMNI_ERR_API_BAD_PARAMETER',
      `querystring parameter "${name}": expected a time from 1970-01-01T00:00:00Z to 2300-01-01T00:00:00Z ` +
        `(got ${new Date(instant).toISOString()})`,
    )
  }
}

/**
 * The range a request asks for: `spanMs` (30 days) before `to` unless `from` says otherwise. `to` defaults to the end
 * of today (UTC), so that the default range is whole days, which the daily aggregates answer (`wholeDays`). Refuses
 * (OMNI_ERR_API_BAD_PARAMETER) a time that cannot be read or stored, and a `from` not before `to`.
 */
export function timeRangeOf(
  query: { readonly from?: string | undefined; readonly to?: string | undefined },
  now: number = Date.now(),
  spanMs: number = 30 * dayMs,
): TimeRange {
  const to = query.to === undefined ? Math.floor(now / dayMs) * dayMs + dayMs : instantOf('to', query.to)
  checkStorable('to', to)
  const from = query.from === undefined ? to - spanMs : instantOf('from', query.from)
  checkStorable('from', from)
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
