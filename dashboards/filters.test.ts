import { describe, expect, it } from 'vitest'
import { defaultDays, navHash, readView, viewHash } from './web/filters.ts'

describe('the dashboard filters in the address', () => {
  it('read a shared view back as it was written', () => {
    const filters = { from: '2026-03-01', to: '2026-04-29', channel: 'email', conversion: 'pos_receipt' }
    const view = readView(viewHash('attribution', filters, { id: 'customer:C7' }))
    expect(view).toMatchObject({ page: 'attribution', filters })
    expect(view.extra.get('id')).toBe('customer:C7')
  })

  it('default to the last 30 days, and to a year on the LTV page, ending today', () => {
    const today = new Date().toISOString().slice(0, 10)
    for (const page of ['overview', 'ltv']) {
      const { filters } = readView(`#/${page}`)
      expect(filters.to).toBe(today)
      const days = (Date.parse(filters.to) - Date.parse(filters.from)) / 86_400_000 + 1
      expect(days).toBe(defaultDays(page))
    }
    expect(defaultDays('ltv')).toBe(365)
    expect(readView('').page).toBe('overview')
  })

  it('carry to another page only the filters the address sets, so the others take that page’s default', () => {
    expect(navHash('ltv', '#/overview')).toBe('#/ltv')
    expect(navHash('ltv', '#/overview?channel=email')).toBe('#/ltv?channel=email')
    expect(navHash('health', '#/customer?from=2026-03-01&to=2026-03-31&id=customer%3AC7')).toBe(
      '#/health?from=2026-03-01&to=2026-03-31',
    )
  })
})
