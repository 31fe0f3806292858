import fs from 'node:fs'
import path from 'node:path'
import type { AddressInfo } from 'node:net'
import type { FastifyInstance } from 'fastify'
import { Partitioners, type Kafka } from 'kafkajs'
import { chromium, type Browser, type Page } from 'playwright-core'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { defaultIdentityRules } from '../consumers/identity-graph.ts'
import { runIdentityResolution } from '../consumers/identity-resolver.ts'
import { createTouchpointLoader, type TouchpointLoader } from '../consumers/touchpoint-loader.ts'
import { createIdentifierHasher } from '../producers/identifier-hashing.ts'
import { simulate, type IdentityTruth } from '../producers/simulator/simulate.ts'
import { createTouchpointProducer } from '../producers/touchpoint-producer.ts'
import { migrate } from '../runtime/clickhouse-migrations.ts'
import { queryRows, type Store } from '../runtime/clickhouse-store.ts'
import { ensureTopics } from '../runtime/kafka-client.ts'
import { createPipelineMetrics } from '../runtime/metrics.ts'
import { identifiersOf, type CapturedEvent } from '../schemas/capture-events.ts'
import { createEmbeddedSchemaRegistry } from '../schemas/schema-registry.ts'
import { testApiServer } from '../test/api-fixture.ts'
import { openTestStore, testKafka, testLogger, testReaderKey, uniqueName, waitFor } from '../test/helpers.ts'

/** Debian's Chromium (scripts/ensure-chromium.sh installs it), or the one OMNISTITCH_CHROMIUM names. */
const chromiumPath = process.env['OMNISTITCH_CHROMIUM'] ?? '/usr/bin/chromium'
const artefacts = path.resolve('test-artifacts', 'dashboard')

/** 250 simulated customers over 60 days from 2026-03-01: the range every page is opened on. */
const simulation = { customers: 250, days: 60, seed: 17, start: Date.parse('2026-03-01T00:00:00Z') }
const filters = 'from=2026-03-01&to=2026-04-29'
const pages = ['overview', 'attribution', 'switching', 'ltv', 'health'] as const

describe('the web dashboard in headless Chromium, on simulated traffic through Kafka and ClickHouse', () => {
  let kafka: Kafka
  let store: Store
  let loader: TouchpointLoader
  let app: FastifyInstance
  let browser: Browser
  let base: string
  const events: CapturedEvent[] = []
  const identities: IdentityTruth[] = []
  /** Uncaught errors in any page's script: none may happen. */
  const pageErrors: string[] = []

  beforeAll(async () => {
    simulate(
      { ...simulation, hasher: createIdentifierHasher('dashboard-test-secret-0123') },
      { event: (event) => events.push(event), identity: (truth) => identities.push(truth) },
    )
    kafka = testKafka()
    const topic = uniqueName('touchpoints')
    const adCostTopic = `${topic}.costs`
    const deadLetterTopic = `${topic}.dlq`
    await ensureTopics(kafka, [
      { topic, partitions: 2 },
      { topic: adCostTopic, partitions: 1 },
      { topic: deadLetterTopic, partitions: 1 },
    ])
    store = await openTestStore()
    await migrate(store, { logger: testLogger })
    const registry = createEmbeddedSchemaRegistry()
    const producer = createTouchpointProducer({ kafka, topic, adCostTopic, registry, logger: testLogger })
    await producer.connect()
    for (let at = 0; at < events.length; at += 5_000) await producer.send(events.slice(at, at + 5_000))
    await producer.disconnect()
    // Two records no schema reads: the health page shows them as dead letters with their reason.
    const raw = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner })
    await raw.connect()
    await raw.send({ topic, messages: [{ value: Buffer.from('{"not":"avro"}') }, { value: Buffer.from('x') }] })
    await raw.disconnect()

    const metrics = createPipelineMetrics({ defaultMetrics: false })
    loader = createTouchpointLoader({
      kafka,
      topic,
      adCostTopic,
      deadLetterTopic,
      groupId: uniqueName('loader'),
      registry,
      store,
      logger: testLogger,
      metrics,
    })
    await loader.start()
    const touchpoints = events.filter((event) => event.family !== 'ad-cost').length
    await waitFor(
      async () =>
        (await queryRows<{ n: number }>(store, 'SELECT count() AS n FROM {database:Identifier}.touchpoints FINAL'))[0]
          ?.n ?? 0,
      (n) => n === touchpoints && loader.stats.deadLettered === 2,
      { what: 'every simulated event in ClickHouse', timeoutMs: 120_000 },
    )
    await runIdentityResolution(store, { rules: defaultIdentityRules, logger: testLogger })
    app = await testApiServer(store, { dashboard: true, metrics: metrics.registry })
    await app.listen({ host: '127.0.0.1', port: 0 })
    base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
    browser = await chromium.launch({
      executablePath: chromiumPath,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    })
    fs.mkdirSync(artefacts, { recursive: true })
  }, 240_000)

  afterEach(() => {
    // Emptied each time, so that one test's page error fails that test alone.
    expect(pageErrors.splice(0)).toEqual([])
  })

  afterAll(async () => {
    await browser?.close()
    await app?.close()
    await loader?.stop()
    await store?.close()
  })

  /** A signed-in page: the key handed over in the address, as `npm start` prints it. */
  async function signedIn(): Promise<Page> {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 }, acceptDownloads: true })
    page.on('pageerror', (error) => pageErrors.push(`${page.url()}: ${error.message}`))
    await page.goto(`${base}/#key=${testReaderKey}`)
    await page.waitForSelector('body[data-state="ready"]')
    return page
  }

  // The scripts below run in the page; they are strings because this project's types have no DOM.

  /**
   * Waits until an expression is true in the page, asking from here: page.waitForFunction polls inside the page with
   * eval, which the dashboard's Content-Security-Policy (script-src 'self') refuses once the first check is false.
   */
  const until = (page: Page, expression: string, what: string) =>
    waitFor(
      () => page.evaluate<boolean>(expression),
      (done) => done,
      { what, timeoutMs: 60_000, intervalMs: 50 },
    )

  /** Marks the page as leaving its view: `ready` again means the next view has rendered. */
  const leaving = (page: Page) => page.evaluate("document.body.dataset.state = 'navigating'")

  async function open(page: Page, hash: string): Promise<void> {
    await leaving(page)
    await page.evaluate(`window.location.hash = ${JSON.stringify(hash)}`)
    await page.waitForSelector('body[data-state="ready"]', { timeout: 60_000 })
  }

  /** Every chart on the page, by name, with the data points it drew; waits until all have drawn. */
  async function charts(page: Page): Promise<Record<string, number>> {
    await until(
      page,
      "[...document.querySelectorAll('[data-chart]')].every((chart) => chart.dataset.rendered === 'true')",
      'every chart drawn',
    )
    return page.evaluate<Record<string, number>>(
      "Object.fromEntries([...document.querySelectorAll('[data-chart]')].map((c) => [c.dataset.chart, Number(c.dataset.points)]))",
    )
  }

  it('renders every page with charts that draw data, and keeps a screenshot of each', async () => {
    const page = await signedIn()
    const expected: Record<(typeof pages)[number], string[]> = {
      overview: ['overview-trend', 'overview-channels'],
      attribution: ['attribution-models'],
      switching: ['switching-sankey', 'switching-heatmap', 'switching-segments'],
      ltv: ['ltv-cohorts', 'ltv-channels-used', 'ltv-acquisition', 'ltv-clv-distribution'],
      health: ['health-ingest', 'health-lag', 'health-dead-letters'],
    }
    for (const name of pages) {
      await open(page, `#/${name}?${filters}`)
      expect(await page.$$('.state.error'), `${name}: ${await page.textContent('main')}`).toHaveLength(0)
      const drawn = await charts(page)
      for (const chart of expected[name]) expect(drawn[chart], `${name}: ${chart}`).toBeGreaterThan(0)
      await page.screenshot({ path: path.join(artefacts, `${name}.png`), fullPage: true })
    }
    // The ledger accounts for every record sent, the two unreadable ones as dead letters.
    expect(Number(await page.getAttribute('[data-table="health-ledger"]', 'data-rows'))).toBeGreaterThan(0)
    const ledger = (await page.textContent('[data-table="health-ledger"]')) ?? ''
    expect(ledger).toContain(
      new Intl.NumberFormat('en-GB').format(events.filter((e) => e.family !== 'ad-cost').length + 2),
    )
    await page.close()
  })

  it('calls the API again when a filter changes, keeps the filter in the address, and the figures change', async () => {
    const page = await signedIn()
    await open(page, `#/attribution?${filters}`)
    const before = await page.textContent('[data-summary="attribution"]')
    const calls: string[] = []
    page.on('request', (request) => {
      if (request.url().includes('/v1/attribution')) calls.push(request.url())
    })
    await page.selectOption('select[name="channel"]', 'email')
    await leaving(page)
    await page.click('#filters button[type="submit"]')
    await page.waitForSelector('body[data-state="ready"]')
    expect(calls).toHaveLength(1)
    expect(new URL(calls[0] as string).searchParams.get('channels')).toBe('email')
    expect(page.url()).toContain('channel=email')
    expect(await page.textContent('[data-summary="attribution"]')).not.toBe(before)
    expect((await charts(page))['attribution-models']).toBeGreaterThan(0)
    await page.close()
  })

  it('finds a customer of the simulator’s truth by their customer id, with the channels of their events', async () => {
    // A registered customer with the most events that carry their customer id.
    const counts = new Map<string, number>()
    for (const event of events) {
      const id = identifiersOf(event)?.customer_id
      if (id) counts.set(id, (counts.get(id) ?? 0) + 1)
    }
    const [customerId] = [...counts.entries()].sort((x, y) => y[1] - x[1])[0] as [string, number]
    const truth = identities.find((item) => item.kind === 'customer_id' && item.value === customerId)
    expect(truth?.note).toBe('own')
    // Every identifier the simulator gave that person alone, and the channels of the events that carry one.
    const own = new Set(
      identities
        .filter(
          (item) => item.note === 'own' && item.person_ids.length === 1 && item.person_ids[0] === truth?.person_ids[0],
        )
        .map((item) => `${item.kind}:${item.value}`),
    )
    const truthChannels = new Set<string>()
    for (const event of events) {
      if (event.family === 'ad-cost') continue
      const ids = identifiersOf(event) ?? {}
      if (Object.entries(ids).some(([kind, value]) => own.has(`${kind}:${String(value)}`)))
        truthChannels.add(event.value.channel)
    }

    const page = await signedIn()
    await open(page, `#/customer?${filters}`)
    await page.fill('form[data-search] input[name="id"]', `customer:${customerId}`)
    await leaving(page)
    await page.click('form[data-search] button[type="submit"]')
    await page.waitForSelector('body[data-state="ready"]')
    const shown = ((await page.textContent('[data-field="channels"]')) ?? '').split(', ')
    expect(shown.length).toBeGreaterThan(0)
    for (const channel of shown) expect(truthChannels).toContain(channel)
    expect((await charts(page))['customer-timeline']).toBeGreaterThan(0)
    await page.screenshot({ path: path.join(artefacts, 'customer.png'), fullPage: true })
    await page.close()
  })

  it('lists the top customers of the range without a search, and opens one from the list', async () => {
    const page = await signedIn()
    await open(page, `#/customer?${filters}`)
    expect(Number(await page.getAttribute('[data-table="customer-list"]', 'data-rows'))).toBeGreaterThan(10)
    const first = page.locator('[data-table="customer-list"] tbody tr:first-child a')
    const personId = (await first.textContent()) ?? ''
    expect(personId).toMatch(/^pers_[0-9a-f]{16}$/)
    await leaving(page)
    await first.click()
    await page.waitForSelector('body[data-state="ready"]')
    expect(await page.getAttribute('[data-person]', 'data-person')).toBe(personId)
    expect((await charts(page))['customer-timeline']).toBeGreaterThan(0)
    await page.close()
  })

  it('downloads a table as the CSV the API gives', async () => {
    const page = await signedIn()
    await open(page, `#/overview?${filters}`)
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('[data-csv="overview-channels"]')])
    const text = fs.readFileSync(await download.path(), 'utf8')
    expect(text.split('\n')[0]).toBe('channel,events,persons')
    expect(text.split('\n').filter((line) => line !== '').length).toBeGreaterThan(3)
    await page.close()
  })

  it('signs a browser on this machine in by itself, as after `npm start`, and replaces a key that is refused', async () => {
    const local = await testApiServer(store, { dashboard: { localReaderKey: testReaderKey } })
    try {
      await local.listen({ host: '127.0.0.1', port: 0 })
      const localBase = `http://127.0.0.1:${(local.server.address() as AddressInfo).port}`
      const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } })
      page.on('pageerror', (error) => pageErrors.push(`${page.url()}: ${error.message}`))
      // No key in the address: the range only, since the simulated traffic lies before the default one.
      await page.goto(`${localBase}/#/overview?${filters}`)
      await page.waitForSelector('body[data-state="ready"]', { timeout: 60_000 })
      expect(await page.isVisible('#sign-in')).toBe(false)
      expect((await charts(page))['overview-trend']).toBeGreaterThan(0)
      expect(await page.evaluate("localStorage.getItem('omnistitch.apiKey')")).toBe(testReaderKey)
      // A key kept from an earlier data directory is refused once, then the current one is taken.
      await page.evaluate("localStorage.setItem('omnistitch.apiKey', 'key-of-an-earlier-start')")
      await page.reload()
      await until(
        page,
        `localStorage.getItem('omnistitch.apiKey') === ${JSON.stringify(testReaderKey)}`,
        'the current key taken',
      )
      await page.waitForSelector('body[data-state="ready"]', { timeout: 60_000 })
      expect(await page.$$('.state.error')).toHaveLength(0)
      expect((await charts(page))['overview-trend']).toBeGreaterThan(0)
      expect(await page.isVisible('#sign-in')).toBe(false)
      await page.close()
    } finally {
      await local.close()
    }
  })

  it('says when a range holds nothing, and asks for a key when the one it has is refused', async () => {
    const page = await signedIn()
    await open(page, '#/attribution?from=2020-01-01&to=2020-01-31')
    expect(await page.textContent('.state.empty')).toContain(
      'No converting journeys ended between 2020-01-01 and 2020-01-31',
    )
    await page.evaluate("localStorage.setItem('omnistitch.apiKey', 'not-a-key')")
    await open(page, `#/overview?${filters}`)
    expect(await page.textContent('.state.error')).toContain('401')
    expect(await page.isVisible('#sign-in')).toBe(true)
    await page.close()
  })
})
