import { getJson } from '../api.ts'
import { apiRange, type Filters } from '../filters.ts'
import { chart, el, empty, failure, format, panel, table } from '../ui.ts'

interface Overview {
  totals: {
    events: number
    persons: number
    orders: number
    revenue: number
    conversion_rate: number
    omnichannel_share: number
    journeys: number
    converted_journeys: number
  }
  series: { period: string; events: number; persons: number; orders: number; revenue: number }[]
}

interface ChannelStats {
  channels: { channel: string; events: number; persons: number }[]
}

const card = (label: string, value: string, name: string) =>
  el(
    'div',
    { class: 'card', 'data-card': name },
    el('div', { class: 'value' }, value),
    el('div', { class: 'label' }, label),
  )

/** Overview: the range's events, persons, orders, revenue, conversion rate and omnichannel share, and their trend. */
export async function overviewPage(root: HTMLElement, filters: Filters): Promise<void> {
  const range = apiRange(filters)
  const params = { ...range, channels: filters.channel }
  const [overview, stats] = await Promise.allSettled([
    getJson<Overview>('/v1/overview', params),
    getJson<ChannelStats>('/v1/stats/channels', range),
  ])
  root.replaceChildren()
  if (overview.status === 'rejected') {
    root.append(failure('the overview', overview.reason))
  } else if (overview.value.totals.events === 0) {
    root.append(
      empty(
        `No events between ${filters.from} and ${filters.to}. Widen the date range, or see Data health for ingest.`,
      ),
    )
  } else {
    const { totals, series } = overview.value
    root.append(
      el(
        'div',
        { class: 'cards' },
        card('Events', format.integer(totals.events), 'events'),
        card('Persons', format.integer(totals.persons), 'persons'),
        card('Orders', format.integer(totals.orders), 'orders'),
        card('Revenue (net)', format.money(totals.revenue), 'revenue'),
        card('Journeys converting', format.percent(totals.conversion_rate), 'conversion_rate'),
        card('Omnichannel customers', format.percent(totals.omnichannel_share), 'omnichannel_share'),
      ),
      panel(
        'Trend',
        chart(
          'overview-trend',
          {
            tooltip: { trigger: 'axis' },
            legend: {},
            grid: { left: 60, right: 70 },
            xAxis: { type: 'category', data: series.map((row) => row.period) },
            yAxis: [
              { type: 'value', name: 'events, orders' },
              { type: 'value', name: 'revenue ₽', position: 'right' },
            ],
            series: [
              { name: 'Events', type: 'line', data: series.map((row) => row.events) },
              { name: 'Orders', type: 'line', data: series.map((row) => row.orders) },
              { name: 'Revenue', type: 'bar', yAxisIndex: 1, data: series.map((row) => row.revenue) },
            ],
          },
          series.length * 3,
        ),
        table(
          'overview-series',
          [
            { label: 'Day', value: (row) => row.period },
            { label: 'Events', value: (row) => row.events },
            { label: 'Persons', value: (row) => row.persons },
            { label: 'Orders', value: (row) => row.orders },
            { label: 'Revenue', value: (row) => row.revenue },
          ],
          series,
          { path: '/v1/overview', params, filename: 'overview.csv' },
        ),
      ),
    )
  }
  if (stats.status === 'rejected') {
    root.append(failure('events per channel', stats.reason))
  } else if (stats.value.channels.length > 0) {
    const rows = stats.value.channels
    root.append(
      panel(
        'Events and persons per channel',
        chart(
          'overview-channels',
          {
            tooltip: { trigger: 'axis' },
            legend: {},
            xAxis: { type: 'category', data: rows.map((row) => row.channel) },
            yAxis: { type: 'value' },
            series: [
              { name: 'Events', type: 'bar', data: rows.map((row) => row.events) },
              { name: 'Persons', type: 'bar', data: rows.map((row) => row.persons) },
            ],
          },
          rows.length * 2,
        ),
        table(
          'overview-channels',
          [
            { label: 'Channel', value: (row) => row.channel },
            { label: 'Events', value: (row) => row.events },
            { label: 'Persons', value: (row) => row.persons },
          ],
          rows,
          { path: '/v1/stats/channels', params: range, filename: 'channels.csv' },
        ),
      ),
    )
  }
}
