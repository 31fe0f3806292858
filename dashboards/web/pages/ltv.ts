import { getJson } from '../api.ts'
import { apiRange, viewHash, type Filters } from '../filters.ts'
import { chart, el, empty, failure, format, panel, table } from '../ui.ts'

interface Historical {
  segments: {
    dimension: string
    segment: string
    horizon_days: number
    customers: number
    matured: number
    ltv_gross: number
    ltv_net: number
  }[]
}

interface Predictive {
  fit: { bgnbd: Record<string, number | boolean>; gamma_gamma: Record<string, number | boolean> }
  segments: { dimension: string; segment: string; customers: number; clv_mean: number; clv_median: number }[]
  customers: { clv: number }[]
}

const horizons = [30, 90, 180, 365]

/** Counts of values in equal-width bins: the distribution of predicted CLV. */
function histogram(values: readonly number[], bins = 20): { labels: string[]; counts: number[] } {
  const high = Math.max(...values, 1)
  const width = high / bins
  const counts = new Array<number>(bins).fill(0)
  for (const value of values) counts[Math.min(bins - 1, Math.floor(value / width))]! += 1
  return { labels: counts.map((_, i) => `${format.integer(i * width)}–${format.integer((i + 1) * width)}`), counts }
}

/** Says why no curve can be drawn for a range of recent first purchases, with a link to a range that has some. */
function unmatured(filters: Filters): HTMLElement {
  const yearBefore = new Date(Date.parse(`${filters.to}T00:00:00Z`) - 364 * 86_400_000).toISOString().slice(0, 10)
  return el(
    'p',
    { class: 'state empty', role: 'status' },
    `No customer who first bought between ${filters.from} and ${filters.to} has lived ${horizons[0]} days since, ` +
      'the shortest horizon. ',
    el('a', { href: viewHash('ltv', { ...filters, from: yearBefore }) }, `Show the year to ${filters.to}`),
  )
}

/** LTV: cohort curves, by acquisition channel, single-channel against omnichannel, and predicted CLV. */
export async function ltvPage(root: HTMLElement, filters: Filters): Promise<void> {
  const params = apiRange(filters)
  const [historical, predictive] = await Promise.allSettled([
    getJson<Historical>('/v1/ltv', params),
    getJson<Predictive>('/v1/ltv/predictive', { ...params, level: 'customer', limit: 20_000 }),
  ])
  root.replaceChildren()
  if (historical.status === 'rejected') {
    root.append(failure('historical LTV', historical.reason))
  } else if (historical.value.segments.length === 0) {
    root.append(empty(`No customer made a first purchase between ${filters.from} and ${filters.to}.`))
  } else {
    const rows = historical.value.segments
    const of = (dimension: string) => rows.filter((row) => row.dimension === dimension)
    const cohorts = [...new Set(of('cohort').map((row) => row.segment))]
    // A horizon no customer of the segment has lived through yet is left out (null): its figure would be so far, not
    // at that horizon.
    const byHorizon = (dimension: string, segment: string): (number | null)[] =>
      horizons.map((days) => {
        const row = of(dimension).find((item) => item.segment === segment && item.horizon_days === days)
        return row === undefined || row.matured === 0 ? null : row.ltv_net
      })
    const drawn = (series: (number | null)[][]) => series.flat().filter((value) => value !== null).length
    const channels = [...new Set(of('acquisition_channel').map((row) => row.segment))]
    // By acquisition channel: the longest horizon at least half of those customers have lived through.
    const acquisition = of('acquisition_channel')
    const acquisitionHorizon =
      horizons.findLast((days) => {
        const at = acquisition.filter((row) => row.horizon_days === days)
        const matured = at.reduce((sum, row) => sum + row.matured, 0)
        return matured > 0 && 2 * matured >= at.reduce((sum, row) => sum + row.customers, 0)
      }) ?? horizons[0]!
    const atAcquisitionHorizon = (channel: string) =>
      acquisition.find((row) => row.segment === channel && row.horizon_days === acquisitionHorizon)?.ltv_net ?? null
    const cohortSeries = cohorts.map((cohort) => byHorizon('cohort', cohort))
    const channelsUsedSeries = ['single_channel', 'multichannel'].map((segment) => byHorizon('channels_used', segment))
    root.append(
      el(
        'p',
        { class: 'note' },
        'Each figure is per customer, net of returns, at a horizon after the first purchase. A horizon none of a ' +
          'group has lived through yet is left out of the charts; the table says how many have (Matured).',
      ),
      drawn(cohortSeries) > 0 ? '' : unmatured(filters),
      el(
        'div',
        { class: 'two' },
        panel(
          'Net LTV by first-purchase cohort',
          chart(
            'ltv-cohorts',
            {
              tooltip: { trigger: 'axis' },
              legend: {},
              xAxis: { type: 'category', data: horizons.map((days) => `${days} d`) },
              yAxis: { type: 'value', name: '₽ per customer' },
              series: cohorts.map((cohort, i) => ({ name: cohort, type: 'line', data: cohortSeries[i] })),
            },
            drawn(cohortSeries),
          ),
        ),
        panel(
          'Single-channel against omnichannel customers',
          chart(
            'ltv-channels-used',
            {
              tooltip: { trigger: 'axis' },
              legend: {},
              xAxis: { type: 'category', data: horizons.map((days) => `${days} d`) },
              yAxis: { type: 'value', name: '₽ per customer' },
              series: ['single_channel', 'multichannel'].map((segment, i) => ({
                name: segment,
                type: 'bar',
                data: channelsUsedSeries[i],
              })),
            },
            drawn(channelsUsedSeries),
          ),
        ),
      ),
      panel(
        `Net LTV at ${acquisitionHorizon} days by acquisition channel`,
        chart(
          'ltv-acquisition',
          {
            tooltip: { trigger: 'axis' },
            xAxis: { type: 'category', data: channels },
            yAxis: { type: 'value', name: '₽ per customer' },
            series: [{ type: 'bar', data: channels.map(atAcquisitionHorizon) }],
          },
          channels.filter((channel) => atAcquisitionHorizon(channel) !== null).length,
        ),
        table(
          'ltv-segments',
          [
            { label: 'Grouping', value: (row: Historical['segments'][number]) => row.dimension },
            { label: 'Segment', value: (row) => row.segment },
            { label: 'Horizon, days', value: (row) => row.horizon_days },
            { label: 'Customers', value: (row) => row.customers },
            { label: 'Matured', value: (row) => row.matured },
            { label: 'LTV gross', value: (row) => row.ltv_gross },
            { label: 'LTV net', value: (row) => row.ltv_net },
          ],
          rows,
          { path: '/v1/ltv', params, filename: 'ltv.csv' },
        ),
      ),
    )
  }
  if (predictive.status === 'rejected') {
    root.append(panel('Predicted CLV (BG/NBD and Gamma-Gamma)', failure('predicted CLV', predictive.reason)))
    return
  }
  const { customers, segments, fit } = predictive.value
  const { labels, counts } = histogram(customers.map((customer) => customer.clv))
  root.append(
    panel(
      'Predicted CLV over the next 365 days (BG/NBD and Gamma-Gamma, 10% a year discount)',
      el(
        'p',
        {},
        `BG/NBD r ${format.significant(fit.bgnbd['r'] as number)}, α ${format.significant(fit.bgnbd['alpha'] as number)}, ` +
          `a ${format.significant(fit.bgnbd['a'] as number)}, b ${format.significant(fit.bgnbd['b'] as number)}; ` +
          `Gamma-Gamma p ${format.significant(fit.gamma_gamma['p'] as number)}, q ${format.significant(fit.gamma_gamma['q'] as number)}, ` +
          `v ${format.significant(fit.gamma_gamma['v'] as number)}. Customers by predicted CLV (₽):`,
      ),
      chart(
        'ltv-clv-distribution',
        {
          tooltip: { trigger: 'axis' },
          xAxis: { type: 'category', data: labels, axisLabel: { rotate: 45 } },
          yAxis: { type: 'value', name: 'customers' },
          grid: { bottom: 90 },
          series: [{ type: 'bar', data: counts }],
        },
        counts.filter((count) => count > 0).length,
      ),
      table(
        'ltv-predicted-segments',
        [
          { label: 'Grouping', value: (row: Predictive['segments'][number]) => row.dimension },
          { label: 'Segment', value: (row) => row.segment },
          { label: 'Customers', value: (row) => row.customers },
          { label: 'CLV mean', value: (row) => row.clv_mean },
          { label: 'CLV median', value: (row) => row.clv_median },
        ],
        segments,
        { path: '/v1/ltv/predictive', params, filename: 'ltv-predicted.csv' },
      ),
    ),
  )
}
