import { BarChart, HeatmapChart, LineChart, SankeyChart, ScatterChart } from 'echarts/charts'
import {
  DataZoomComponent,
  GridComponent,
  LegendComponent,
  TooltipComponent,
  VisualMapComponent,
} from 'echarts/components'
import * as echarts from 'echarts/core'
import { CanvasRenderer } from 'echarts/renderers'
import { stringify } from 'csv-stringify/browser/esm/sync'
import { ApiError, downloadCsv, saveFile, type Params } from './api.ts'

echarts.use([
  BarChart,
  HeatmapChart,
  LineChart,
  SankeyChart,
  ScatterChart,
  DataZoomComponent,
  GridComponent,
  LegendComponent,
  TooltipComponent,
  VisualMapComponent,
  CanvasRenderer,
])

export type ChartOption = echarts.EChartsCoreOption

/** An element with attributes and children; text children become text nodes. */
export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Record<string, string> = {},
  ...children: (Node | string | null)[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag)
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, value)
  for (const child of children) if (child !== null) element.append(child)
  return element
}

const integer = new Intl.NumberFormat('en-GB', { maximumFractionDigits: 0 })
const decimal = new Intl.NumberFormat('en-GB', { maximumFractionDigits: 2 })
const significant = new Intl.NumberFormat('en-GB', { maximumSignificantDigits: 3 })
const money = new Intl.NumberFormat('en-GB', { maximumFractionDigits: 0 })

export const format = {
  integer: (value: number) => integer.format(value),
  decimal: (value: number | null | undefined) => (value === null || value === undefined ? '—' : decimal.format(value)),
  money: (value: number) => `${money.format(value)} ₽`,
  percent: (value: number) => `${decimal.format(value * 100)}%`,
  /** Three significant digits: model parameters, which range from thousandths to thousands. */
  significant: (value: number) => significant.format(value),
}

/** A titled panel of a page. */
export function panel(title: string, ...children: (Node | string | null)[]): HTMLElement {
  return el('section', { class: 'panel' }, el('h2', {}, title), ...children)
}

export function loading(what: string): HTMLElement {
  return el('p', { class: 'state loading', role: 'status' }, `Loading ${what}…`)
}

export function empty(message: string): HTMLElement {
  return el('p', { class: 'state empty', role: 'status' }, message)
}

/** Says what went wrong with a call, in the API's own words. */
export function failure(what: string, error: unknown): HTMLElement {
  const detail =
    error instanceof ApiError
      ? `the API answered ${error.status} ${error.code}: ${error.message}`
      : `${(error as Error).message ?? String(error)}`
  return el('p', { class: 'state error', role: 'alert' }, `Could not load ${what}: ${detail}`)
}

const charts = new Set<echarts.ECharts>()
window.addEventListener('resize', () => charts.forEach((chart) => chart.resize()))

/** Disposes the charts of the page being left. */
export function disposeCharts(): void {
  charts.forEach((chart) => chart.dispose())
  charts.clear()
}

/**
 * A chart in a new container. `points` (how many data points it draws) goes on the container as `data-points`, with
 * `data-chart` naming it, so a test can tell a drawn chart from an empty one.
 */
export function chart(name: string, option: ChartOption, points: number, height = 340): HTMLElement {
  const container = el('div', { class: 'chart', 'data-chart': name, style: `height:${height}px` })
  // Drawn once the container is in the page and has a size.
  requestAnimationFrame(() => {
    const instance = echarts.init(container, undefined, { renderer: 'canvas' })
    instance.setOption({ animation: false, tooltip: { trigger: 'item' }, ...option })
    charts.add(instance)
    container.dataset['points'] = String(points)
    container.dataset['rendered'] = 'true'
  })
  return container
}

export interface Column<R> {
  readonly label: string
  readonly value: (row: R) => string | number | null
  readonly kind?: 'number' | 'text'
  /** Makes the cell a link to this address. */
  readonly link?: (row: R) => string
}

/**
 * A table of rows, with a button that downloads them as CSV: the rows of `csv`'s endpoint exactly as the API gives
 * them, or, for an answer the API has no CSV of, the table's own rows.
 */
export function table<R>(
  name: string,
  columns: readonly Column<R>[],
  rows: readonly R[],
  csv: { path: string; params: Params; filename: string } | { filename: string },
): HTMLElement {
  const button = el('button', { type: 'button', 'data-csv': name }, 'Download CSV')
  const status = el('span', { class: 'csv-status' })
  button.addEventListener('click', () => {
    status.textContent = ''
    if (!('path' in csv)) {
      const text = stringify(
        rows.map((row) => columns.map((column) => column.value(row) ?? '')),
        { header: true, columns: columns.map((column) => column.label) },
      )
      saveFile(new Blob([text], { type: 'text/csv' }), csv.filename)
      return
    }
    downloadCsv(csv.path, csv.params, csv.filename).catch((error: unknown) => {
      status.textContent = ` ${(error as Error).message}`
    })
  })
  const head = el('tr', {}, ...columns.map((column) => el('th', {}, column.label)))
  const body = rows.map((row) =>
    el(
      'tr',
      {},
      ...columns.map((column) => {
        const value = column.value(row)
        const text = value === null ? '—' : typeof value === 'number' ? format.decimal(value) : value
        const cell = column.link === undefined ? text : el('a', { href: column.link(row) }, text)
        return el('td', column.kind === 'number' || typeof value === 'number' ? { class: 'number' } : {}, cell)
      }),
    ),
  )
  return el(
    'div',
    { 'data-table': name, 'data-rows': String(rows.length) },
    el('div', { class: 'table-tools' }, button, status),
    el('table', {}, el('thead', {}, head), el('tbody', {}, ...body)),
  )
}
