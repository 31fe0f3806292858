// Freshness of the live pipeline on a large store: how long after an event is produced a reader of the API sees it,
// how long each refresh cycle (identity run and derived tables) takes, how fast the API answers meanwhile, and memory:
// the process's, and the Node heap a cycle adds (the resolver's working set). For issue 19 (incremental identities and
// journeys). The last line printed is one JSON object.
//   npm run bench:freshness -- [--events 1000000] [--days 180] [--rate 2000] [--minutes 10] [--data-dir DIR]
//                              [--probe-seconds 10] [--drain-seconds 300]
// A store of --events simulated events is loaded as bench:api loads one (bench/loaded-store.ts; --data-dir keeps it
// for the next run, which then also holds this run's live events), its history ending today. Then, in this one
// process (embedded chDB binds a data directory to one process), the pipeline runs as `omnistitch start` wires it:
// a local Kafka broker, the touchpoint loader, the identity scheduler (a resolver cycle, identities then the derived
// tables, every OMNISTITCH_IDENTITY_INTERVAL_SECONDS while rows arrive) and the API server.
// Live traffic (bench/live-traffic.ts) is produced through the broker at --rate events/s for --minutes: new and
// returning customers, a share of them late. About every --probe-seconds a probe (bench/freshness-probes.ts) is sent
// and polled every second until it is visible in GET /v1/persons/{id} and in the day's GET /v1/attribution; after
// --minutes no new probe is sent, and the traffic goes on until every probe is seen or --drain-seconds have passed.
// Meanwhile the endpoints bench:api times are called one after another, a second apart.
import os from 'node:os'
import { parseArgs } from 'node:util'
import { createConsumer } from '../cli/commands.ts'
import { createIdentifierHasher } from '../producers/identifier-hashing.ts'
import { queryRows } from '../runtime/clickhouse-store.ts'
import { loadConfig } from '../runtime/config.ts'
import { describeError } from '../runtime/errors.ts'
import { createLogger } from '../runtime/logger.ts'
import { createPipelineMetrics } from '../runtime/metrics.ts'
import { createEmbeddedSchemaRegistry } from '../schemas/schema-registry.ts'
import { benchEndpointUrls, openBenchApi, percentile, someCustomerIdentifier } from './bench-api-server.ts'
import { openBenchKafka, openBenchTopics } from './bench-kafka.ts'
import { pollProbes, probeEvents, type Probe } from './freshness-probes.ts'
import { createLiveTraffic } from './live-traffic.ts'
import { benchLog as log, openLoadedStore } from './loaded-store.ts'

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '1000000' },
    days: { type: 'string', default: '180' },
    rate: { type: 'string', default: '2000' },
    minutes: { type: 'string', default: '10' },
    'data-dir': { type: 'string' },
    'probe-seconds': { type: 'string', default: '10' },
    'drain-seconds': { type: 'string', default: '300' },
  },
})
const numberOf = (name: keyof typeof values): number => {
  const value = Number(values[name])
  if (!Number.isFinite(value) || value <= 0)
    throw new Error(`--${name}: expected a positive number (got ${values[name]})`)
  return value
}
const rate = numberOf('rate')
const minutes = numberOf('minutes')
const probeSeconds = numberOf('probe-seconds')
const drainSeconds = numberOf('drain-seconds')
const pollSeconds = 1
const apiPauseSeconds = 1
const dayMs = 86_400_000
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const config = loadConfig()
const logger = createLogger({ level: 'warn', name: 'bench' })
const hasher = createIdentifierHasher('bench-secret-0123456789')
const days = numberOf('days')

const loaded = await openLoadedStore({
  targetEvents: numberOf('events'),
  days,
  dataDir: values['data-dir'],
  database: 'bench_freshness',
  markerName: 'bench-freshness.json',
  start: (Math.floor(Date.now() / dayMs) - days) * dayMs,
  hasher,
  logger,
})
const { store } = loaded
const countEvents = async () =>
  Number(
    (await queryRows<{ events: number }>(store, 'SELECT count() AS events FROM {database:Identifier}.touchpoints'))[0]
      ?.events ?? 0,
  )

const bench = await openBenchKafka(config, logger)
const { kafka } = bench
const registry = createEmbeddedSchemaRegistry()
const { topics, producer } = await openBenchTopics(kafka, {
  name: 'freshness',
  partitions: config.topicPartitions,
  registry,
  logger,
})

// The consumer as cli/commands.ts createConsumer wires it. Each refresh cycle is timed by the metric the scheduler
// already keeps (omnistitch_identity_run_seconds: resolver run and view refresh); its timer is wrapped here to keep
// each cycle's duration rather than the histogram's buckets.
const metrics = createPipelineMetrics({ defaultMetrics: false })
const cycles: { began: number; seconds: number; heapGrowth: number }[] = []
/** The cycle under way: the Node heap when it began and the most seen since (sampled below). */
let cycleHeap: { atStart: number; peak: number } | undefined
const startTimer = metrics.identitySeconds.startTimer.bind(metrics.identitySeconds)
metrics.identitySeconds.startTimer = (labels) => {
  const began = performance.now()
  const heap = process.memoryUsage().heapUsed
  cycleHeap = { atStart: heap, peak: heap }
  const stop = startTimer(labels)
  return (more) => {
    const heapGrowth = Math.max(0, (cycleHeap?.peak ?? heap) - heap)
    cycleHeap = undefined
    cycles.push({ began, seconds: (performance.now() - began) / 1000, heapGrowth })
    return stop(more)
  }
}
const { loader, identities } = createConsumer(
  {
    config: {
      ...config,
      touchpointTopic: topics.topic,
      adCostTopic: topics.adCostTopic,
      deadLetterTopic: topics.deadLetterTopic,
      consumerGroup: `bench-freshness-${Date.now()}`,
    },
    logger,
  },
  kafka,
  store,
  registry,
  metrics,
)
// The loaded store's views were paused while it was built; a running pipeline has them on their own schedule too.
await store.client.command({ query: 'SYSTEM START VIEWS' })
await loader.start()
await loader.joined
const api = await openBenchApi(store, hasher, logger)
const today = Math.floor(Date.now() / dayMs) * dayMs
const query = `from=${new Date(loaded.start).toISOString()}&to=${new Date(today + dayMs).toISOString()}`
const endpoints = Object.entries(benchEndpointUrls(query, await someCustomerIdentifier(store)))
const eventsStored = await countEvents()
log(`live run: ${eventsStored} events stored, ${rate} events/s for ${minutes} min, a probe every ${probeSeconds} s`)

// --- the live run ---------------------------------------------------------------------------------------------
const seed = 1000 + (Date.now() % 1_000_000)
const tag = Date.now().toString(36)
const traffic = createLiveTraffic({
  hasher,
  seed,
  storedCustomers: loaded.customers,
  // Past the stored customers and, with a different offset each run, past an earlier run's new customers.
  newCustomersFrom: loaded.customers + (Date.now() % 20_000) * 100_000,
})
const liveStart = performance.now()
const liveEnd = liveStart + minutes * 60_000
const drainEnd = liveEnd + drainSeconds * 1000
// Whatever happens, the run ends: the watchdog leaves room for the last cycle and shutting down.
const watchdog = setTimeout(
  () => {
    log('the run went past its time bound; exiting')
    process.exit(2)
  },
  drainEnd - liveStart + 600_000,
)
watchdog.unref()

let produced = 0
let sendFailures = 0
let sending: Promise<void> | undefined
// Each tick sends what the rate says is due since the start, so a stalled event loop is made up for, not lost.
const trafficTimer = setInterval(() => {
  if (sending !== undefined) return
  const due = Math.min(Math.floor((rate * (performance.now() - liveStart)) / 1000) - produced, rate * 5)
  if (due <= 0) return
  const batch = traffic.next(due, Date.now())
  sending = producer.send(batch).then(
    () => {
      produced += batch.length
      sending = undefined
    },
    (error: unknown) => {
      sendFailures += 1
      sending = undefined
      log(`traffic batch not sent: ${describeError(error)}`)
    },
  )
}, 250)

const probes: Probe[] = []
const sendProbe = async () => {
  const { events, probe } = probeEvents(tag, probes.length, Date.now())
  const sent: Probe = { ...probe, sentAt: performance.now() }
  probes.push(sent)
  await producer.send(events)
}
// Probes come at random intervals (0.5 to 1.5 times --probe-seconds): at a fixed one, a multiple of the scheduler's
// interval, each probe would arrive at the same point of the scheduler's cycle and the times would all be alike.
let probeTimer: NodeJS.Timeout | undefined
const scheduleProbe = () => {
  probeTimer = setTimeout(
    () => {
      if (performance.now() >= liveEnd) return
      sendProbe().catch((error: unknown) => log(`probe not sent: ${String(error)}`))
      scheduleProbe()
    },
    probeSeconds * 1000 * (0.5 + Math.random()),
  )
}
scheduleProbe()
const unseen = () =>
  probes.filter((probe) => probe.personsSeconds === undefined || probe.attributionSeconds === undefined)
const finished = () =>
  performance.now() >= drainEnd || (performance.now() >= liveEnd && probes.length > 0 && unseen().length === 0)

const polling = (async () => {
  while (!finished()) {
    await pollProbes(api, unseen())
    await sleep(pollSeconds * 1000)
  }
})()

const apiTimes = new Map<string, { times: number[]; failures: number }>(
  endpoints.map(([name]) => [name, { times: [], failures: 0 }]),
)
const calling = (async () => {
  while (!finished()) {
    for (const [name, url] of endpoints) {
      if (finished()) break
      const started = performance.now()
      const response = await api.get(url)
      const timed = apiTimes.get(name)
      if (timed === undefined) continue
      if (response.statusCode === 200) timed.times.push(performance.now() - started)
      else timed.failures += 1
      await sleep(apiPauseSeconds * 1000)
    }
  }
})()

// The resolver runs in this process, beside the loader, the API and the engine: the process's memory is sampled, and
// what the Node heap grows by while a cycle runs (the resolver's working set, plus whatever the loader holds meanwhile).
let peakRss = 0
let peakHeap = 0
const sampler = setInterval(() => {
  const memory = process.memoryUsage()
  peakRss = Math.max(peakRss, memory.rss)
  peakHeap = Math.max(peakHeap, memory.heapUsed)
  if (cycleHeap !== undefined) cycleHeap.peak = Math.max(cycleHeap.peak, memory.heapUsed)
}, 100)
const progress = setInterval(() => {
  const seen = probes.length - unseen().length
  log(
    `${((performance.now() - liveStart) / 1000).toFixed(0)} s: produced ${produced}, ` +
      `loaded ${loader.stats.received}, ` +
      `${cycles.length} refresh cycles (last ${cycles.at(-1)?.seconds.toFixed(1) ?? '-'} s), ` +
      `probes seen ${seen} of ${probes.length}, rss ${Math.round(process.memoryUsage().rss / 2 ** 20)} MB`,
  )
}, 30_000)

while (!finished()) await sleep(500)
const trafficStoppedAt = performance.now()
clearInterval(trafficTimer)
clearTimeout(probeTimer)
clearInterval(progress)
clearInterval(sampler)
await sending
await Promise.all([polling, calling])
const liveSeconds = (trafficStoppedAt - liveStart) / 1000
log(`traffic stopped after ${liveSeconds.toFixed(0)} s; stopping the pipeline`)

const resolverRuns = await queryRows<{ seconds: number }>(
  store,
  `SELECT (toUnixTimestamp64Milli(finished_at) - toUnixTimestamp64Milli(started_at)) / 1000 AS seconds
   FROM {database:Identifier}.identity_runs
   WHERE finished = 1 AND started_at >= fromUnixTimestamp64Milli({from:Int64})`,
  { from: Math.round(performance.timeOrigin + liveStart) },
)
await loader.stop()
await identities.stop()
await api.close()
await producer.disconnect()
const eventsStoredEnd = await countEvents()
loaded.note({ last_live_run: { at: new Date().toISOString(), events_produced: produced + probes.length * 2 } })
await loaded.close()
await bench.close()
clearTimeout(watchdog)

// --- the figures ------------------------------------------------------------------------------------------------
/** The p-quantile in seconds of per-probe times, an unseen probe counting as never: null when the quantile is one. */
const quantile = (times: readonly (number | undefined)[], p: number): number | null => {
  const value = percentile(
    times.map((time) => time ?? Infinity).sort((a, b) => a - b),
    p,
  )
  return Number.isFinite(value) ? Number(value.toFixed(1)) : null
}
const visible = (of: (probe: Probe) => number | undefined) => ({
  p50_s: quantile(probes.map(of), 0.5),
  p95_s: quantile(probes.map(of), 0.95),
  seen: probes.filter((probe) => of(probe) !== undefined).length,
})
const both = (probe: Probe) =>
  probe.personsSeconds === undefined || probe.attributionSeconds === undefined
    ? undefined
    : Math.max(probe.personsSeconds, probe.attributionSeconds)
const cycleSeconds = cycles
  .filter((cycle) => cycle.began < trafficStoppedAt)
  .map((cycle) => cycle.seconds)
  .sort((a, b) => a - b)
const resolverSeconds = resolverRuns.map((run) => Number(run.seconds)).sort((a, b) => a - b)
const round1 = (seconds: number) => Number(seconds.toFixed(1))
const mb = (bytes: number) => Math.round(bytes / 2 ** 20)
const apiFigures = Object.fromEntries(
  [...apiTimes].map(([name, { times, failures }]) => {
    const sorted = [...times].sort((a, b) => a - b)
    return [
      name,
      {
        p50_ms: Math.round(percentile(sorted, 0.5)),
        p95_ms: Math.round(percentile(sorted, 0.95)),
        calls: sorted.length,
        failures,
      },
    ]
  }),
)

process.stdout.write(
  `${JSON.stringify({
    bench: 'freshness',
    events_stored: eventsStored,
    events_stored_end: eventsStoredEnd,
    freshness_p50_s: quantile(probes.map(both), 0.5),
    freshness_p95_s: quantile(probes.map(both), 0.95),
    freshness: {
      probes: probes.length,
      persons: visible((probe) => probe.personsSeconds),
      attribution: visible((probe) => probe.attributionSeconds),
    },
    refresh_p50_s: cycleSeconds.length === 0 ? null : round1(percentile(cycleSeconds, 0.5)),
    refresh_p95_s: cycleSeconds.length === 0 ? null : round1(percentile(cycleSeconds, 0.95)),
    refresh_cycles: cycleSeconds.length,
    resolver_p50_s: resolverSeconds.length === 0 ? null : round1(percentile(resolverSeconds, 0.5)),
    resolver_p95_s: resolverSeconds.length === 0 ? null : round1(percentile(resolverSeconds, 0.95)),
    api_p95_ms: Object.fromEntries(Object.entries(apiFigures).map(([name, figures]) => [name, figures.p95_ms])),
    api: apiFigures,
    // The resolver runs in this process beside the loader, the API and the embedded engine: these are the process's.
    resolver_peak_rss_mb: mb(peakRss),
    resolver_peak_rss_scope: 'whole process (resolver, loader, API, embedded ClickHouse), sampled every 0.1 s live',
    // What a cycle adds to the Node heap, from its start to its highest sample: the resolver's own memory.
    resolver_heap_growth_p95_mb:
      cycles.length === 0
        ? null
        : mb(
            percentile(
              cycles.map((c) => c.heapGrowth).sort((x, y) => x - y),
              0.95,
            ),
          ),
    resolver_heap_growth_max_mb: cycles.length === 0 ? null : mb(Math.max(...cycles.map((c) => c.heapGrowth))),
    node_heap_peak_mb: mb(peakHeap),
    process_max_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024),
    traffic: {
      rate,
      achieved_rate: Math.round(produced / liveSeconds),
      produced,
      seconds: Math.round(liveSeconds),
      send_failures: sendFailures,
      late: traffic.counts.late,
      new_customers: traffic.counts.newCustomers,
      returning_customers: traffic.counts.returningCustomers,
    },
    loader: { ...loader.stats, behind_at_stop: produced + probes.length * 2 - loader.stats.received },
    store: {
      reused: loaded.reused,
      loaded_events: loaded.events,
      customers: loaded.customers,
      days: loaded.days,
      history_from: new Date(loaded.start).toISOString().slice(0, 10),
      load_seconds: round1(loaded.loadSeconds),
      identities_and_views_seconds: round1(loaded.resolveSeconds),
    },
    settings: {
      minutes,
      probe_seconds: probeSeconds,
      poll_seconds: pollSeconds,
      drain_seconds: drainSeconds,
      api_pause_seconds: apiPauseSeconds,
      identity_interval_seconds: config.identityIntervalSeconds,
      partitions: config.topicPartitions,
      kafka: bench.local ? 'local broker' : 'KAFKA_BROKERS',
    },
    machine: { cpus: os.cpus().length, memory_gib: Math.round(os.totalmem() / 2 ** 30), node: process.version },
  })}\n`,
)
