/** The filters of a view, kept in the address (`#/page?from=…&to=…&channel=…&conversion=…`) so a view can be shared. */
export interface Filters {
  /** First day, YYYY-MM-DD (UTC). */
  readonly from: string
  /** Last day, inclusive, YYYY-MM-DD (UTC). */
  readonly to: string
  readonly channel: string
  readonly conversion: string
}

export interface View {
  readonly page: string
  readonly filters: Filters
  /** Anything else in the address's query, such as the identifier a Customer 360 search asked for. */
  readonly extra: URLSearchParams
}

const day = 86_400_000
const isoDay = (time: number) => new Date(time).toISOString().slice(0, 10)

/**
 * Days shown when the address names no range: the last 30, but a year on the LTV page, whose cohorts need customers
 * who first bought at least 30 days ago (the shortest horizon), and whose predictive models need repeat buyers.
 */
export function defaultDays(page: string): number {
  return page === 'ltv' ? 365 : 30
}

const filterNames = ['from', 'to', 'channel', 'conversion'] as const

export function readView(hash: string): View {
  const [path = '', query = ''] = hash.replace(/^#\/?/, '').split('?')
  const page = path === '' ? 'overview' : path
  const params = new URLSearchParams(query)
  const to = params.get('to') ?? isoDay(Date.now())
  const from = params.get('from') ?? isoDay(Date.parse(to) - (defaultDays(page) - 1) * day)
  const extra = new URLSearchParams(params)
  for (const name of filterNames) extra.delete(name)
  return {
    page,
    filters: { from, to, channel: params.get('channel') ?? '', conversion: params.get('conversion') ?? '' },
    extra,
  }
}

/**
 * Another page with the filters the address sets: a filter left to its default stays so, and takes that page's
 * default (see defaultDays).
 */
export function navHash(page: string, hash: string): string {
  const given = new URLSearchParams(hash.split('?')[1] ?? '')
  const params = new URLSearchParams()
  for (const name of filterNames) {
    const value = given.get(name)
    if (value !== null && value !== '') params.set(name, value)
  }
  const query = params.toString()
  return query === '' ? `#/${page}` : `#/${page}?${query}`
}

export function viewHash(page: string, filters: Filters, extra: Record<string, string> = {}): string {
  const params = new URLSearchParams({ from: filters.from, to: filters.to })
  if (filters.channel !== '') params.set('channel', filters.channel)
  if (filters.conversion !== '') params.set('conversion', filters.conversion)
  for (const [name, value] of Object.entries(extra)) params.set(name, value)
  return `#/${page}?${params.toString()}`
}

/** The API's time range for the filters: from the start of the first day to the end of the last (UTC). */
export function apiRange(filters: Filters): { from: string; to: string } {
  return {
    from: `${filters.from}T00:00:00Z`,
    to: new Date(Date.parse(`${filters.to}T00:00:00Z`) + day).toISOString(),
  }
}
