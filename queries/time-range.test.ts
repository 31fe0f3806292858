import { describe, expect, it } from 'vitest'
import { timeRangeOf } from './time-range.ts'

describe('timeRangeOf', () => {
  const now = Date.parse('2026-12-03T10:47:12.345Z')

  it('defaults to the 30 whole days up to the end of today, UTC', () => {
    const range = timeRangeOf({}, now)
    expect(range).toMatchObject({ from: '2026-11-04T00:00:00.000Z', to: '2026-12-04T00:00:00.000Z', wholeDays: true })
    expect(range.params).toEqual({ from: '2026-11-04 00:00:00.000', to: '2026-12-04 00:00:00.000' })
  })

  it('is whole days only when both ends are UTC midnights', () => {
    expect(timeRangeOf({ from: '2026-11-01T00:00:00Z', to: '2026-11-08T00:00:00Z' }).wholeDays).toBe(true)
    expect(timeRangeOf({ from: '2026-11-01T00:00:00Z', to: '2026-11-08T10:00:00Z' }).wholeDays).toBe(false)
    expect(timeRangeOf({ from: '2026-11-01T00:00:00+03:00', to: '2026-11-08T00:00:00Z' }).wholeDays).toBe(false)
    expect(timeRangeOf({ to: '2026-11-08T00:00:00.001Z' }).wholeDays).toBe(false)
  })

  it('refuses a range that ends before it starts, naming from', () => {
    expect(() => timeRangeOf({ from: '2026-11-08T00:00:00Z', to: '2026-11-01T00:00:00Z' })).toThrow(/"from"/)
  })
})
