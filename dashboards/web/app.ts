import { adoptKeyFromAddress, adoptLocalSession, apiKey, callLog, forgetApiKey, getJson, setApiKey } from './api.ts'
import { apiRange, navHash, readView, viewHash, type Filters } from './filters.ts'
import { attributionPage } from './pages/attribution.ts'
import { customerPage } from './pages/customer.ts'
import { healthPage } from './pages/health.ts'
import { ltvPage } from './pages/ltv.ts'
import { overviewPage } from './pages/overview.ts'
import { switchingPage } from './pages/switching.ts'
import { disposeCharts, failure, loading } from './ui.ts'

type Page = (root: HTMLElement, filters: Filters, extra: URLSearchParams) => Promise<void>

const pages: Record<string, { title: string; render: Page }> = {
  overview: { title: 'overview', render: overviewPage },
  attribution: { title: 'attribution', render: attributionPage },
  switching: { title: 'channel switching', render: switchingPage },
  ltv: { title: 'customer value', render: ltvPage },
  customer: { title: 'the customer search', render: customerPage },
  health: { title: 'pipeline health', render: healthPage },
}

const root = document.getElementById('page') as HTMLElement
const filterForm = document.getElementById('filters') as HTMLFormElement
const signIn = document.getElementById('sign-in') as HTMLDialogElement
const field = (name: string) => filterForm.elements.namedItem(name) as HTMLInputElement | HTMLSelectElement

/** Which render is current: a slow answer for a page already left must not draw over the new one. */
let rendering = 0

async function render(): Promise<void> {
  const view = readView(window.location.hash)
  const page = pages[view.page] ?? pages['overview']!
  const ticket = ++rendering
  document.querySelectorAll<HTMLAnchorElement>('#nav a').forEach((link) => {
    link.classList.toggle('active', link.dataset['page'] === view.page)
    link.href = navHash(link.dataset['page'] ?? 'overview', window.location.hash)
  })
  field('from').value = view.filters.from
  field('to').value = view.filters.to
  const channelSelect = field('channel') as HTMLSelectElement
  if (view.filters.channel !== '' && ![...channelSelect.options].some((o) => o.value === view.filters.channel)) {
    channelSelect.append(new Option(view.filters.channel, view.filters.channel))
  }
  channelSelect.value = view.filters.channel
  field('conversion').value = view.filters.conversion
  disposeCharts()
  document.body.dataset['state'] = 'loading'
  root.replaceChildren(loading(page.title))
  if (apiKey() === null) {
    signIn.showModal()
    return
  }
  const target = document.createElement('div')
  try {
    await page.render(target, view.filters, view.extra)
  } catch (error) {
    target.replaceChildren(failure(page.title, error))
  }
  if (ticket !== rendering) return
  root.replaceChildren(target)
  document.body.dataset['state'] = 'ready'
  document.body.dataset['calls'] = String(callLog.length)
}

function rerender(): void {
  render().catch((error: unknown) => root.replaceChildren(failure('the page', error)))
}

filterForm.addEventListener('submit', (event) => {
  event.preventDefault()
  const view = readView(window.location.hash)
  const filters: Filters = {
    from: field('from').value,
    to: field('to').value,
    channel: field('channel').value,
    conversion: field('conversion').value,
  }
  const extra = Object.fromEntries(view.extra.entries())
  window.location.hash = viewHash(view.page, filters, extra)
})

;(document.getElementById('sign-in-form') as HTMLFormElement).addEventListener('submit', () => {
  const input = (document.getElementById('sign-in-form') as HTMLFormElement).elements.namedItem(
    'key',
  ) as HTMLInputElement
  setApiKey(input.value.trim())
  rerender()
  loadChannels()
})

document.addEventListener('omnistitch:unauthorized', (event) => {
  const stale = (event as CustomEvent<string | null>).detail
  // Only the first refusal of the key in use acts: others of the same key, or of one already replaced, do nothing.
  if (stale !== apiKey()) return
  forgetApiKey()
  // A key kept from an earlier data directory: the local server may hand out the current one.
  void adoptLocalSession(stale).then((adopted) => {
    if (adopted) {
      if (signIn.open) signIn.close()
      rerender()
      loadChannels()
    } else if (!signIn.open) signIn.showModal()
  })
})

/** The channel filter offers the channels with events in the last year. */
function loadChannels(): void {
  if (apiKey() === null) return
  const now = new Date().toISOString().slice(0, 10)
  const yearAgo = new Date(Date.now() - 365 * 86_400_000).toISOString().slice(0, 10)
  const select = field('channel') as HTMLSelectElement
  getJson<{ channels: { channel: string }[] }>(
    '/v1/stats/channels',
    apiRange({ from: yearAgo, to: now, channel: '', conversion: '' }),
  )
    .then(({ channels }) => {
      const current = select.value
      const known = new Set([...select.options].map((option) => option.value))
      for (const { channel } of channels) {
        if (!known.has(channel)) select.append(new Option(channel, channel))
      }
      select.value = current
    })
    .catch(() => undefined)
}

adoptKeyFromAddress()
window.addEventListener('hashchange', rerender)
void (apiKey() === null ? adoptLocalSession() : Promise.resolve(false)).then(() => {
  rerender()
  loadChannels()
})
