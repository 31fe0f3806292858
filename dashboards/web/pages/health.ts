import { getJson } from '../api.ts'
import { chart, el, empty, failure, format, panel, table } from '../ui.ts'

interface PipelineHealth {
  topics: {
    topic: string
    batches: number
    received: number
    loaded: number
    dead_lettered: number
    dropped: number
    last_recorded_at: string
  }[]
  ingest: { minute: string; loaded: number }[]
  lag: { topic: string; partition: number; records: number }[] | null
  dead_letters: { code: string; step: string; records: number }[] | null
  note?: string
}

/**
 * Data health: ingest rate, consumer lag, dead letters by reason and the stage ledger. It looks at the pipeline's own
 * last 24 hours, so the date filter (which selects events by when they happened) does not apply here.
 */
export async function healthPage(root: HTMLElement): Promise<void> {
  const params = {}
  let answer: PipelineHealth
  try {
    answer = await getJson<PipelineHealth>('/v1/health/pipeline', params)
  } catch (error) {
    root.replaceChildren(failure('pipeline health', error))
    return
  }
  root.replaceChildren(
    el(
      'p',
      { class: 'note' },
      'The last 24 hours of the pipeline, by when batches were loaded; the date filter selects events and does not apply here.',
    ),
  )
  if (answer.note !== undefined) root.append(el('p', { class: 'state empty' }, answer.note))
  const { ingest, topics } = answer
  root.append(
    panel(
      'Ingest: records loaded per minute',
      ingest.length === 0
        ? empty('No batches were loaded in the last 24 hours.')
        : chart(
            'health-ingest',
            {
              tooltip: { trigger: 'axis' },
              xAxis: { type: 'time' },
              yAxis: { type: 'value', name: 'records / min' },
              series: [
                {
                  type: 'line',
                  // A few minutes of batches would not show as a line alone.
                  showSymbol: ingest.length < 120,
                  data: ingest.map((row) => [row.minute, row.loaded]),
                },
              ],
            },
            ingest.length,
          ),
    ),
  )
  const lag = answer.lag ?? []
  const deadLetters = answer.dead_letters ?? []
  root.append(
    el(
      'div',
      { class: 'two' },
      panel(
        'Consumer lag (records behind, per partition)',
        lag.length === 0
          ? empty(answer.lag === null ? 'No consumer runs in this process.' : 'No lag reported yet.')
          : chart(
              'health-lag',
              {
                tooltip: { trigger: 'axis' },
                xAxis: {
                  type: 'category',
                  data: lag.map((row) => `${row.topic}/${row.partition}`),
                  axisLabel: { interval: 0, rotate: 20 },
                },
                yAxis: { type: 'value' },
                series: [{ type: 'bar', label: { show: true, position: 'top' }, data: lag.map((row) => row.records) }],
              },
              lag.length,
              260,
            ),
      ),
      panel(
        'Dead letters by reason (since the consumer started)',
        deadLetters.length === 0
          ? empty(answer.dead_letters === null ? 'No consumer runs in this process.' : 'No dead letters.')
          : chart(
              'health-dead-letters',
              {
                tooltip: { trigger: 'axis' },
                grid: { left: 220 },
                xAxis: { type: 'value' },
                yAxis: { type: 'category', data: deadLetters.map((row) => `${row.code} (${row.step})`) },
                series: [{ type: 'bar', data: deadLetters.map((row) => row.records) }],
              },
              deadLetters.length,
              260,
            ),
      ),
    ),
    panel(
      'Stage ledger: what the consumer did with every batch',
      table(
        'health-ledger',
        [
          { label: 'Topic', value: (row: PipelineHealth['topics'][number]) => row.topic },
          { label: 'Batches', value: (row) => row.batches },
          { label: 'Received', value: (row) => row.received },
          { label: 'Loaded', value: (row) => row.loaded },
          { label: 'Dead-lettered', value: (row) => row.dead_lettered },
          { label: 'Dropped (duplicates)', value: (row) => row.dropped },
          { label: 'Last batch', value: (row) => row.last_recorded_at },
        ],
        topics,
        { path: '/v1/health/pipeline', params, filename: 'stage-ledger.csv' },
      ),
      el(
        'p',
        {},
        `Received ${format.integer(topics.reduce((sum, row) => sum + row.received, 0))} records; every one is loaded, ` +
          'dead-lettered with its reason, or dropped as a duplicate.',
      ),
    ),
  )
}
