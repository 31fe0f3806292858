import { getJson } from '../api.ts'
import { apiRange, type Filters } from '../filters.ts'
import { chart, el, empty, failure, format, panel, table } from '../ui.ts'

interface ChannelSwitch {
  transitions: { from_channel: string; to_channel: string; transitions: number; probability: number }[]
  switches: { total: number; online_to_offline: number; offline_to_online: number; median_hours_between: number | null }
  multichannel: { journeys: number; journey_share: number; customers: number; customer_share: number }
  segments: {
    segment: string
    customers: number
    conversion_rate: number
    average_order_value: number | null
    revenue_per_customer: number
  }[]
  top_paths: { path: string[]; journeys: number; conversions: number; revenue: number }[]
  flows: { source: string; target: string; value: number }[]
}

/** Channel switching: a Sankey of flows, the transition matrix as a heat map, switchers against single-channel. */
export async function switchingPage(root: HTMLElement, filters: Filters): Promise<void> {
  const params = apiRange(filters)
  let answer: ChannelSwitch
  try {
    answer = await getJson<ChannelSwitch>('/v1/channel-switch', params)
  } catch (error) {
    root.replaceChildren(failure('channel switching', error))
    return
  }
  root.replaceChildren()
  if (answer.transitions.length === 0) {
    root.append(empty(`No journeys with two or more touches between ${filters.from} and ${filters.to}.`))
    return
  }
  const { switches, multichannel } = answer
  root.append(
    el(
      'p',
      { 'data-summary': 'switching' },
      `${format.percent(multichannel.customer_share)} of customers and ${format.percent(multichannel.journey_share)} ` +
        `of journeys use more than one channel. ${format.integer(switches.online_to_offline)} switches online to ` +
        `offline, ${format.integer(switches.offline_to_online)} offline to online; median time between switches ` +
        `${format.decimal(switches.median_hours_between)} h.`,
    ),
  )
  const flows = answer.flows.slice(0, 60)
  const nodes = [...new Set(flows.flatMap((flow) => [flow.source, flow.target]))].map((name) => ({ name }))
  root.append(
    panel(
      'Flows between channels, step by step',
      chart(
        'switching-sankey',
        { series: [{ type: 'sankey', data: nodes, links: flows, emphasis: { focus: 'adjacency' } }] },
        flows.length,
        460,
      ),
    ),
  )
  const channels = [...new Set(answer.transitions.flatMap((row) => [row.from_channel, row.to_channel]))].sort()
  const cells = answer.transitions.map((row) => [
    channels.indexOf(row.to_channel),
    channels.indexOf(row.from_channel),
    Math.round(row.probability * 1000) / 1000,
  ])
  root.append(
    el(
      'div',
      { class: 'two' },
      panel(
        'Transition matrix: the next touch’s channel (probability)',
        chart(
          'switching-heatmap',
          {
            tooltip: { position: 'top' },
            grid: { left: 90, bottom: 70 },
            xAxis: { type: 'category', data: channels, name: 'to', axisLabel: { rotate: 45 } },
            yAxis: { type: 'category', data: channels, name: 'from' },
            visualMap: { min: 0, max: 1, calculable: true, orient: 'horizontal', left: 'center', bottom: 0 },
            series: [{ type: 'heatmap', data: cells, label: { show: channels.length <= 8 } }],
          },
          cells.length,
          420,
        ),
      ),
      panel(
        'Switchers against single-channel customers',
        chart(
          'switching-segments',
          {
            // Two grids, so that a rate and roubles each get their own axis.
            tooltip: { trigger: 'axis' },
            legend: {},
            grid: [
              { left: 50, width: '30%', bottom: 40 },
              { left: '50%', right: 20, bottom: 40 },
            ],
            xAxis: [
              { gridIndex: 0, type: 'category', data: ['conversion rate'] },
              { gridIndex: 1, type: 'category', data: ['order value', 'revenue per customer'] },
            ],
            yAxis: [
              { gridIndex: 0, type: 'value', name: '%' },
              { gridIndex: 1, type: 'value', name: '₽' },
            ],
            series: answer.segments.flatMap((segment) => [
              {
                name: segment.segment,
                type: 'bar' as const,
                xAxisIndex: 0,
                yAxisIndex: 0,
                data: [Math.round(segment.conversion_rate * 1000) / 10],
              },
              {
                name: segment.segment,
                type: 'bar' as const,
                xAxisIndex: 1,
                yAxisIndex: 1,
                data: [Math.round(segment.average_order_value ?? 0), Math.round(segment.revenue_per_customer)],
              },
            ]),
          },
          answer.segments.length * 3,
          420,
        ),
      ),
    ),
    panel(
      'Transitions',
      table(
        'switching-transitions',
        [
          { label: 'From', value: (row: ChannelSwitch['transitions'][number]) => row.from_channel },
          { label: 'To', value: (row) => row.to_channel },
          { label: 'Transitions', value: (row) => row.transitions },
          { label: 'Probability', value: (row) => format.percent(row.probability), kind: 'number' },
        ],
        answer.transitions,
        { path: '/v1/channel-switch', params, filename: 'channel-transitions.csv' },
      ),
    ),
    panel(
      'Top cross-channel paths',
      table(
        'switching-paths',
        [
          { label: 'Path', value: (row: ChannelSwitch['top_paths'][number]) => row.path.join(' → ') },
          { label: 'Journeys', value: (row) => row.journeys },
          { label: 'Conversions', value: (row) => row.conversions },
          { label: 'Revenue', value: (row) => row.revenue },
        ],
        answer.top_paths,
        { path: '/v1/paths/top', params, filename: 'top-paths.csv' },
      ),
    ),
  )
}
