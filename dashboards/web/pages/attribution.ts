import { getJson } from '../api.ts'
import { apiRange, type Filters } from '../filters.ts'
import { chart, el, empty, failure, format, panel, table } from '../ui.ts'

interface Credit {
  channel: string
  conversions: number
  value: number
  share: number
  spend: number
  cpa: number | null
  roas: number | null
  romi: number | null
}

interface Attribution {
  journeys: number
  conversions: number
  value: number
  spend: number
  conversion_types: string[]
  lookback_days: number
  models: { model: string; channels: Credit[] }[]
}

/** What each model means, in a sentence a marketer can act on. */
export const modelNotes: Record<string, string> = {
  first_touch: 'All the credit to the channel that started the journey: which channels bring new people in.',
  last_touch: 'All the credit to the last channel before the purchase: what most ad platforms report.',
  last_non_direct: 'Like last touch, but a direct visit at the end passes the credit to the channel before it.',
  linear: 'Every touch of the journey gets an equal share.',
  time_decay: 'Touches nearer the purchase get more: a touch 7 days older counts half as much.',
  position_based: 'First and last touch get 40% each, the touches between share the remaining 20%.',
  markov:
    'Data-driven: how many conversions would be lost if the channel were taken out of every journey (removal effect).',
  shapley:
    'Data-driven: each channel’s fair share of the conversions that the channels achieve together (game theory).',
}

const models = Object.keys(modelNotes)

/** Attribution: the models side by side per channel, a table of credit and cost ratios, and what each model means. */
export async function attributionPage(root: HTMLElement, filters: Filters, extra: URLSearchParams): Promise<void> {
  const params = {
    ...apiRange(filters),
    models: models.join(','),
    channels: filters.channel,
    conversion_types: filters.conversion,
  }
  let answer: Attribution
  try {
    answer = await getJson<Attribution>('/v1/attribution', params)
  } catch (error) {
    root.replaceChildren(failure('attribution', error))
    return
  }
  root.replaceChildren()
  if (answer.conversions === 0) {
    root.append(
      empty(
        `No converting journeys ended between ${filters.from} and ${filters.to}` +
          `${filters.channel === '' ? '' : ` with ${filters.channel} touches`}. Widen the range or clear the filters.`,
      ),
    )
    return
  }
  const channels = [...new Set(answer.models.flatMap((entry) => entry.channels.map((credit) => credit.channel)))].sort()
  const creditOf = (model: string, channel: string) =>
    answer.models.find((entry) => entry.model === model)?.channels.find((credit) => credit.channel === channel)
  root.append(
    el(
      'p',
      { 'data-summary': 'attribution' },
      `${format.integer(answer.journeys)} journeys, ${format.integer(answer.conversions)} conversions ` +
        `(${answer.conversion_types.join(', ')}; ${answer.lookback_days}-day lookback), ` +
        `${format.money(answer.value)} revenue, ${format.money(answer.spend)} ad spend.`,
    ),
    panel(
      'Credited conversions per channel, by model',
      chart(
        'attribution-models',
        {
          tooltip: { trigger: 'axis' },
          legend: {},
          xAxis: { type: 'category', data: channels, axisLabel: { interval: 0, rotate: channels.length > 8 ? 30 : 0 } },
          yAxis: { type: 'value', name: 'conversions' },
          series: answer.models.map((entry) => ({
            name: entry.model,
            type: 'bar',
            data: channels.map((channel) => creditOf(entry.model, channel)?.conversions ?? 0),
          })),
        },
        channels.length * answer.models.length,
        380,
      ),
    ),
  )
  const selected = extra.get('model') ?? 'markov'
  const picker = el(
    'select',
    { 'data-model-picker': '' },
    ...answer.models.map((entry) =>
      el(
        'option',
        entry.model === selected ? { value: entry.model, selected: '' } : { value: entry.model },
        entry.model,
      ),
    ),
  )
  const holder = el('div')
  const showTable = (model: string) => {
    const rows = answer.models.find((entry) => entry.model === model)?.channels ?? []
    holder.replaceChildren(
      table(
        'attribution-credit',
        [
          { label: 'Channel', value: (row: Credit) => row.channel },
          { label: 'Conversions', value: (row) => row.conversions },
          { label: 'Revenue', value: (row) => row.value },
          { label: 'Share', value: (row) => format.percent(row.share), kind: 'number' },
          { label: 'Spend', value: (row) => row.spend },
          { label: 'CPA', value: (row) => row.cpa },
          { label: 'ROAS', value: (row) => row.roas },
          { label: 'ROMI', value: (row) => (row.romi === null ? null : format.percent(row.romi)), kind: 'number' },
        ],
        rows,
        { path: '/v1/attribution', params, filename: 'attribution.csv' },
      ),
    )
  }
  picker.addEventListener('change', () => showTable(picker.value))
  showTable(selected)
  root.append(
    panel('Credit, spend and return by channel', el('label', {}, 'Model ', picker), holder),
    panel(
      'What the models mean',
      el(
        'dl',
        { class: 'notes' },
        ...models.flatMap((model) => [el('dt', {}, model), el('dd', {}, modelNotes[model] ?? '')]),
      ),
    ),
  )
}
