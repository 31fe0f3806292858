import fs from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { defaultIdentityRules } from '../consumers/identity-graph.ts'
import { runIdentityResolution } from '../consumers/identity-resolver.ts'
import { toAdCostRow } from '../consumers/touchpoint-row.ts'
import { migrate } from '../runtime/clickhouse-migrations.ts'
import type { Store } from '../runtime/clickhouse-store.ts'
import { createPipelineMetrics } from '../runtime/metrics.ts'
import type { AdCost } from '../schemas/capture-events.ts'
import { storeEvents } from '../test/api-fixture.ts'
import { eventAt, webOrder } from '../test/fixtures/events.ts'
import { openTestStore, testLogger } from '../test/helpers.ts'

/**
 * The Grafana dashboards under dashboards/grafana/: valid dashboard models, every ClickHouse panel's SQL run on the
 * real engine against a freshly migrated database, every Prometheus expression naming only metrics our code registers.
 */

const clickhousePlugin = 'grafana-clickhouse-datasource'
const prometheusPlugin = 'prometheus'
const panelTypes = ['timeseries', 'barchart', 'table', 'stat', 'piechart', 'bargauge', 'gauge', 'text'] as const

const datasourceRef = z.object({ type: z.string(), uid: z.string() })
const gridPos = z
  .object({
    x: z.number().int().min(0),
    y: z.number().int().min(0),
    w: z.number().int().min(1).max(24),
    h: z.number().int().min(1),
  })
  .refine((pos) => pos.x + pos.w <= 24, 'a panel must fit in the 24 columns of the grid (x + w <= 24)')
const panelSchema = z.looseObject({
  id: z.number().int().positive(),
  type: z.enum(panelTypes),
  title: z.string().min(1),
  description: z.string().min(1),
  gridPos,
  datasource: datasourceRef,
  targets: z.array(z.looseObject({ refId: z.string().min(1), datasource: datasourceRef })).min(1),
})
const variableSchema = z.looseObject({ name: z.string().min(1), type: z.string().min(1) })
const dashboardSchema = z.looseObject({
  // Grafana's limit on a uid: 40 characters from this set.
  uid: z.string().regex(/^[A-Za-z0-9_-]{1,40}$/),
  title: z.string().min(1),
  schemaVersion: z.number().int().min(36),
  time: z.object({ from: z.string().min(1), to: z.string().min(1) }),
  templating: z.object({ list: z.array(variableSchema) }),
  panels: z.array(panelSchema).min(1),
})
/** A query of the ClickHouse plugin's SQL editor as the plugin (v4) saves it: format 1 for a table, 0 for series. */
const clickhouseTarget = z.looseObject({
  editorType: z.literal('sql'),
  queryType: z.enum(['table', 'timeseries']),
  format: z.number().int(),
  pluginVersion: z.string().regex(/^4\.\d+\.\d+$/),
  rawSql: z.string().min(1),
})
const prometheusTarget = z.looseObject({ expr: z.string().min(1) })

type Dashboard = z.infer<typeof dashboardSchema>
type Panel = z.infer<typeof panelSchema>

function loadDashboard(file: string): Dashboard {
  const text = fs.readFileSync(new URL(`grafana/${file}`, import.meta.url), 'utf8')
  const parsed = dashboardSchema.safeParse(JSON.parse(text))
  if (!parsed.success) throw new Error(`${file} is not a valid dashboard:\n${z.prettifyError(parsed.error)}`)
  return parsed.data
}

const dashboards = [
  { file: 'omnistitch-channels.json', plugin: clickhousePlugin },
  { file: 'omnistitch-pipeline.json', plugin: prometheusPlugin },
].map((entry) => ({ ...entry, dashboard: loadDashboard(entry.file) }))

function dashboardOf(plugin: string): Dashboard {
  const entry = dashboards.find((item) => item.plugin === plugin)
  if (entry === undefined) throw new Error(`no dashboard for ${plugin}`)
  return entry.dashboard
}

const overlaps = (a: Panel['gridPos'], b: Panel['gridPos']) =>
  a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h

describe.each(dashboards)('the Grafana dashboard $file', ({ dashboard, plugin }) => {
  const variableRef = { type: plugin, uid: '${datasource}' }

  it('picks its data source through a datasource variable of its plugin, on every panel and query', () => {
    const variable = dashboard.templating.list.find((item) => item.name === 'datasource')
    expect(variable).toMatchObject({ type: 'datasource', query: plugin })
    for (const panel of dashboard.panels) {
      expect(panel.datasource, panel.title).toEqual(variableRef)
      for (const target of panel.targets) expect(target.datasource, panel.title).toEqual(variableRef)
    }
    for (const item of dashboard.templating.list.filter((entry) => entry.type === 'query')) {
      expect(item['datasource'], `variable ${item.name}`).toEqual(variableRef)
    }
  })

  it('has panels with unique ids and refIds, laid out without overlapping', () => {
    const ids = dashboard.panels.map((panel) => panel.id)
    expect(new Set(ids).size).toBe(ids.length)
    for (const panel of dashboard.panels) {
      const refIds = panel.targets.map((target) => target.refId)
      expect(new Set(refIds).size, panel.title).toBe(refIds.length)
    }
    for (const [index, a] of dashboard.panels.entries()) {
      for (const b of dashboard.panels.slice(index + 1)) {
        expect(overlaps(a.gridPos, b.gridPos), `"${a.title}" overlaps "${b.title}"`).toBe(false)
      }
    }
  })
})

it('gives every dashboard its own uid', () => {
  const uids = dashboards.map((entry) => entry.dashboard.uid)
  expect(new Set(uids).size).toBe(uids.length)
})

/** The time range the test renders panels for: all of 2026, UTC. The fixture's events fall in it. */
const range = { from: Date.parse('2026-01-01T00:00:00Z'), to: Date.parse('2027-01-01T00:00:00Z') }
/** The panel interval the test renders `$__timeInterval` and `$__interval_s` with. */
const intervalSeconds = 3600

/**
 * A panel's SQL as ClickHouse receives it: Grafana replaces `${database}`, then the plugin expands its macros as its
 * backend does (pkg/macros/macros.go of grafana-clickhouse-datasource 4.20: seconds as `toDateTime(<unix>)`, dates as
 * `toDate('YYYY-MM-DD')`, both ends inclusive). Any other macro or variable is left in place, and then fails the test.
 */
function expandClickHouseSql(sql: string, database: string): string {
  const seconds = (ms: number) => Math.floor(ms / 1000)
  const day = (ms: number) => new Date(ms).toISOString().slice(0, 10)
  const from = `toDateTime(${seconds(range.from)})`
  const to = `toDateTime(${seconds(range.to)})`
  const argument = String.raw`\(\s*([^()]+?)\s*\)`
  return sql
    .replace(/\$\{database\}|\$database\b/g, database)
    .replace(
      new RegExp(String.raw`\$__timeFilter${argument}`, 'g'),
      (_m, c: string) => `${c} >= ${from} AND ${c} <= ${to}`,
    )
    .replace(
      new RegExp(String.raw`\$__dateFilter${argument}`, 'g'),
      (_m, c: string) => `${c} >= toDate('${day(range.from)}') AND ${c} <= toDate('${day(range.to)}')`,
    )
    .replace(
      new RegExp(String.raw`\$__timeInterval${argument}`, 'g'),
      (_m, c: string) => `toStartOfInterval(toDateTime(${c}), INTERVAL ${intervalSeconds} second)`,
    )
    .replace(/\$__fromTime\b/g, from)
    .replace(/\$__toTime\b/g, to)
    .replace(/\$__interval_s\b/g, String(intervalSeconds))
}

/** The tables and views docs/DATA_MODEL.md documents: the first column of its tables. */
function documentedTables(): Set<string> {
  const text = fs.readFileSync(new URL('../docs/DATA_MODEL.md', import.meta.url), 'utf8')
  return new Set([...text.matchAll(/^\| `(\w+)`\s+\|/gm)].map((match) => match[1] ?? ''))
}

/**
 * What a query reads FROM or JOINs that is not a subquery: `${database}.<table>` or a name the query's WITH defines.
 * Returns the sources that are neither, or whose table the data model does not document.
 */
function undocumentedSources(sql: string, documented: Set<string>): string[] {
  const ctes = new Set([...sql.matchAll(/(\w+)\s+AS\s*\(/gi)].map((match) => match[1]))
  const sources = [...sql.matchAll(/\b(?:FROM|JOIN)\s+([^\s(]+)/gi)].map((match) => match[1] ?? '')
  return sources.filter((source) => {
    const table = /^\$\{database\}\.(\w+)$/.exec(source)?.[1]
    return table === undefined ? !ctes.has(source) : !documented.has(table)
  })
}

const clickhouseQueries = dashboardOf(clickhousePlugin).panels.flatMap((panel) =>
  panel.targets.map((target) => ({ panel, target: clickhouseTarget.parse(target) })),
)

describe('the ClickHouse dashboard on the real engine', () => {
  let store: Store
  const hour = 3_600_000
  const day = 24 * hour
  const t0 = Date.parse('2026-05-01T10:00:00Z')

  beforeAll(async () => {
    store = await openTestStore()
    await migrate(store, { logger: testLogger })
    // Anna: e-mail > web > web order (1,000.00, paid). Boris: SMS > store receipt (500.00). Vera: e-mail > web, no order.
    const order = (at: number, type: string, identifiers: Record<string, string>) =>
      eventAt('order', at, { ...webOrder, event_type: type, amount_minor: 100_000, identifiers })
    await storeEvents(store, [
      eventAt('messaging', t0, {
        channel: 'email',
        event_type: 'clicked',
        source: 'esp',
        identifiers: { email_hash: 'e-anna' },
      }),
      eventAt('digital', t0 + hour, { identifiers: { anonymous_id: 'ck-anna', email_hash: 'e-anna' } }),
      order(t0 + 2 * hour, 'order_created', { email_hash: 'e-anna', order_id: 'O-1' }),
      order(t0 + 2 * hour + 60_000, 'order_paid', { email_hash: 'e-anna', order_id: 'O-1' }),
      eventAt('messaging', t0, {
        channel: 'sms',
        event_type: 'delivered',
        source: 'sms-gateway',
        identifiers: { phone_hash: 'p-boris' },
      }),
      eventAt('receipt', t0 + day, {
        channel: 'store',
        event_type: 'pos_receipt',
        source: 'pos',
        store_id: 'S-1',
        receipt_number: 'R-1',
        total_minor: 50_000,
        currency: 'RUB',
        items: [],
        payment_method: 'card',
        identifiers: { phone_hash: 'p-boris' },
      }),
      eventAt('messaging', t0 + 2 * day, {
        channel: 'email',
        event_type: 'clicked',
        source: 'esp',
        identifiers: { email_hash: 'e-vera' },
      }),
      eventAt('digital', t0 + 2 * day + hour, { identifiers: { anonymous_id: 'ck-vera', email_hash: 'e-vera' } }),
    ])
    const cost = (date: string, channel: AdCost['channel'], spendMinor: number) =>
      toAdCostRow(
        {
          cost_id: `${channel}:${date}`,
          date: Date.parse(date) / day,
          channel,
          source: channel,
          medium: null,
          campaign: 'spring',
          campaign_id: null,
          spend_minor: spendMinor,
          currency: 'RUB',
          impressions: 0,
          clicks: 0,
          received_at: Date.parse(date),
        },
        { topic: 't', partition: 0, offset: '0', schemaId: 1 },
      )
    await store.client.insert({
      table: `${store.database}.ad_costs`,
      values: [cost('2026-05-01', 'email', 30_000), cost('2026-05-02', 'ads', 10_000)],
      format: 'JSONEachRow',
    })
    await store.client.insert({
      table: `${store.database}.stage_ledger`,
      values: [
        {
          consumer_group: 'omnistitch-loader',
          topic: 't',
          partition: 0,
          first_offset: 0,
          last_offset: 7,
          received: 8,
          dead_lettered: 0,
          dropped: 0,
          loaded: 8,
          recorded_at: '2026-05-03 12:00:00.000',
        },
      ],
      format: 'JSONEachRow',
    })
    await runIdentityResolution(store, { rules: defaultIdentityRules, logger: testLogger })
  })

  afterAll(async () => {
    await store?.close()
  })

  /** Runs a panel's query read-only, as the plugin's read-only user would, and returns its columns and rows. */
  async function runPanelQuery(rawSql: string) {
    const result = await store.client.query({
      query: expandClickHouseSql(rawSql, store.database),
      format: 'JSON',
      clickhouse_settings: { readonly: '2', output_format_json_quote_64bit_integers: 0 },
    })
    return result.json<Record<string, unknown>>()
  }

  it('reads only the documented tables and views, through ${database}', () => {
    const documented = documentedTables()
    expect(documented).toContain('journeys')
    for (const { panel, target } of clickhouseQueries) {
      expect(undocumentedSources(target.rawSql, documented), panel.title).toEqual([])
      expect(target.rawSql, panel.title).toMatch(/\$\{database\}\.\w+/)
    }
  })

  it('saves every query as the plugin expects: the format number of its query type', () => {
    for (const { panel, target } of clickhouseQueries) {
      expect(target.format, panel.title).toBe(target.queryType === 'table' ? 1 : 0)
    }
  })

  it.each(clickhouseQueries.map(({ panel, target }) => ({ title: panel.title, target })))(
    'runs "$title" without error and answers rows',
    async ({ target }) => {
      const sql = expandClickHouseSql(target.rawSql, 'db')
      expect(sql, 'a macro or variable the test does not expand').not.toContain('$')
      const result = await runPanelQuery(target.rawSql)
      expect(result.data.length).toBeGreaterThan(0)
      if (target.queryType === 'timeseries') {
        // The plugin makes series of a frame whose first column is a time, in time order.
        expect(result.meta?.[0]).toMatchObject({
          name: 'time',
          type: expect.stringMatching(/^(DateTime|Date)/) as unknown,
        })
        const times = result.data.map((row) => String(row['time']))
        expect(times).toEqual([...times].sort())
      }
    },
  )

  it('computes ROAS per channel as its description says: first- and last-touch revenue over the channel spend', async () => {
    const panel = dashboardOf(clickhousePlugin).panels.find((item) => item.title.startsWith('ROAS per channel'))
    expect(panel).toBeDefined()
    const result = await runPanelQuery(clickhouseTarget.parse(panel?.targets[0]).rawSql)
    const row = (channel: string) => result.data.find((item) => item['channel'] === channel)
    // E-mail spent 300.00 and was the first touch of Anna's 1,000.00 order; the order was placed on the web.
    expect(row('email')).toMatchObject({ ad_spend: 300, last_touch_revenue: 0, first_touch_revenue: 1000 })
    expect(row('email')?.['last_touch_roas']).toBe(0)
    expect(row('email')?.['first_touch_roas']).toBeCloseTo(1000 / 300, 9)
    expect(row('ads')).toMatchObject({ ad_spend: 100, last_touch_roas: 0, first_touch_roas: 0 })
    expect(row('web')).toMatchObject({ ad_spend: 0, last_touch_conversions: 1, last_touch_revenue: 1000 })
    expect(row('web')?.['last_touch_roas']).toBeNull()
    expect(row('store')).toMatchObject({ last_touch_conversions: 1, last_touch_revenue: 500 })
    expect(row('sms')).toMatchObject({ first_touch_conversions: 1, first_touch_revenue: 500 })
  })
})

describe('the Prometheus dashboard', () => {
  const dashboard = dashboardOf(prometheusPlugin)
  const expressions = dashboard.panels.flatMap((panel) =>
    panel.targets.map((target) => ({ title: panel.title, expr: prometheusTarget.parse(target).expr, panel: true })),
  )
  for (const variable of dashboard.templating.list.filter((item) => item.type === 'query')) {
    expressions.push({ title: `variable ${variable.name}`, expr: String(variable['definition']), panel: false })
  }
  const metricName = /\bomnistitch_[a-z0-9_]+/g

  /** Every metric our processes serve, with its type: the pipeline's and prom-client's default ones (prefixed). */
  async function registeredMetrics(options: { defaultMetrics: boolean }): Promise<Map<string, string>> {
    const metrics = createPipelineMetrics(options)
    const json = await metrics.registry.getMetricsAsJSON()
    return new Map(json.map((metric) => [metric.name, String(metric.type)]))
  }

  it('uses only metrics our code registers, counters and histogram series inside rate() or increase()', async () => {
    const registered = await registeredMetrics({ defaultMetrics: true })
    expect(registered.get('omnistitch_process_cpu_seconds_total')).toBe('counter')
    const problems: string[] = []
    for (const { title, expr, panel } of expressions) {
      for (const match of expr.matchAll(metricName)) {
        const name = match[0]
        const suffix = /_(bucket|sum|count)$/.exec(name)
        const base = registered.has(name) || suffix === null ? name : name.slice(0, -suffix[0].length)
        const type = registered.get(base)
        const cumulative = type === 'counter' || base !== name
        const wrapped = /\b(rate|irate|increase)\(\s*$/.test(expr.slice(0, match.index))
        if (type === undefined) problems.push(`${title}: ${name} is not a metric our code registers`)
        else if (base !== name && type !== 'histogram' && type !== 'summary')
          problems.push(`${title}: ${name}: ${base} is a ${type}, not a histogram`)
        else if (type === 'histogram' && base === name)
          problems.push(`${title}: ${name} is a histogram: use its _bucket, _sum or _count series`)
        else if (cumulative && !wrapped && panel)
          problems.push(`${title}: ${name} only grows: take its rate() or increase()`)
      }
    }
    expect(problems).toEqual([])
  })

  it('shows every metric of the pipeline', async () => {
    const pipeline = [...(await registeredMetrics({ defaultMetrics: false })).keys()]
    const used = new Set(expressions.flatMap(({ expr }) => [...expr.matchAll(metricName)].map((match) => match[0])))
    const shown = (name: string) => [name, `${name}_bucket`, `${name}_sum`, `${name}_count`].some((n) => used.has(n))
    expect(pipeline.length).toBeGreaterThan(5)
    expect(pipeline.filter((name) => !shown(name))).toEqual([])
  })

  it('refers only to its own variables and Grafana built-ins, in balanced expressions', () => {
    const variables = new Set(dashboard.templating.list.map((item) => item.name))
    const builtIns = new Set(['__rate_interval', '__range', '__interval'])
    for (const { title, expr } of expressions) {
      for (const match of expr.matchAll(/\$\{?(\w+)/g)) {
        const name = match[1] ?? ''
        expect(variables.has(name) || builtIns.has(name), `${title}: $${name}`).toBe(true)
      }
      let depth = 0
      for (const char of expr.replace(/"[^"]*"/g, '""')) {
        depth += '({['.includes(char) ? 1 : ')}]'.includes(char) ? -1 : 0
        expect(depth, `${title}: ${expr}`).toBeGreaterThanOrEqual(0)
      }
      expect(depth, `${title}: ${expr}`).toBe(0)
    }
  })
})
