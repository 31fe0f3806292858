import type { Store } from '../runtime/clickhouse-store.ts'
import { describeError } from '../runtime/errors.ts'
import type { Logger } from '../runtime/logger.ts'
import type { PipelineMetrics } from '../runtime/metrics.ts'
import { createIdentityLease, type IdentityLease } from './identity-lease.ts'
import { runIdentityResolution, type ResolutionRun } from './identity-resolver.ts'
import { readIdentityRules } from './stored-settings.ts'

export interface IdentityScheduler {
  /** Tells the scheduler that rows were loaded; the next tick resolves them. */
  notify(loaded: number): void
  /** Runs the resolver now (after any run in progress), lease or not, and returns its result. */
  runNow(): Promise<ResolutionRun>
  /** What the timer does: a run if this process leads or can take the lead. */
  tick(): Promise<void>
  /** Stops the timer and waits for a run in progress. */
  stop(): Promise<void>
}

/**
 * Runs the identity resolver (and the refresh of orders, journeys and persons after it) every `intervalSeconds`; one
 * run at a time. With several processes on one store, only the holder of the identity lease runs it
 * (consumers/identity-lease.ts): each run reads what every process loaded (the inbox), so the others wait, and one of
 * them takes over when the leader stops or dies. The leader runs at every tick (a run with nothing new reads two small
 * ranges and writes nothing); another process asks for the lease only when it loaded rows since its last try. A failed
 * run is logged and retried at the next tick: the loaded events are safe in `touchpoints`, only their people wait.
 * Each run reads the stored identity rules (consumers/stored-settings.ts), so it resolves as every other process does,
 * and a change made by `omnistitch settings apply` holds from the next run (a rebuild: the rules changed).
 */
/** How often a leader renews its claim during a run: well inside the lease's 60 s. */
const leaseRenewMs = 15_000

export function createIdentityScheduler(options: {
  store: Store
  logger: Logger
  intervalSeconds: number
  metrics?: PipelineMetrics | undefined
  lease?: IdentityLease | undefined
}): IdentityScheduler {
  const logger = options.logger.child({ component: 'identity-resolver' })
  const lease = options.lease ?? createIdentityLease(options.store)
  let pending = 0
  let leading = false
  let running: Promise<ResolutionRun> | undefined

  const resolveOnce = async (): Promise<ResolutionRun> => {
    pending = 0
    const stop = options.metrics?.identitySeconds.startTimer()
    const rules = await readIdentityRules(options.store)
    const result = await runIdentityResolution(options.store, { rules, logger })
    stop?.()
    options.metrics?.identityRuns.inc()
    options.metrics?.persons.set(result.persons)
    options.metrics?.quarantined.set(result.quarantined)
    return result
  }

  const run = (): Promise<ResolutionRun> => {
    const previous = running ?? Promise.resolve(undefined)
    const next = previous.catch(() => undefined).then(resolveOnce)
    running = next
    void next.finally(() => {
      if (running === next) running = undefined
    })
    return next
  }

  /** A tick: runs when this process leads (claiming the lease if it has loaded rows and nobody else leads). */
  const tick = async () => {
    if (running !== undefined || (!leading && pending === 0)) return
    const wasLeading = leading
    leading = await lease.acquire()
    if (leading !== wasLeading) logger.info({ holder: lease.holder, leading }, 'identity lease changed hands')
    if (!leading) {
      pending = 0 // the leader resolves what this process loaded
      return
    }
    // The claim is renewed while the run lasts, so that a long one (a rebuild) keeps the lead.
    const renew = setInterval(() => void lease.acquire().catch(() => undefined), leaseRenewMs)
    try {
      await run()
    } finally {
      clearInterval(renew)
    }
  }

  const timer =
    options.intervalSeconds > 0
      ? setInterval(() => {
          tick().catch((error: unknown) =>
            logger.error({ err: describeError(error) }, 'identity run failed; it will run again'),
          )
        }, options.intervalSeconds * 1000)
      : undefined
  timer?.unref()

  return {
    notify(loaded) {
      pending += loaded
    },
    runNow: run,
    tick,
    async stop() {
      if (timer !== undefined) clearInterval(timer)
      await running?.catch(() => undefined)
      await lease.release().catch(() => undefined)
    },
  }
}

/**
 * One resolver cycle now, under the identity lease: undefined, having run nothing, when another process leads (it runs
 * at its own next interval). For a process without a scheduler of its own (`serve`'s admin refresh).
 */
export async function resolveUnderLease(store: Store, logger: Logger): Promise<ResolutionRun | undefined> {
  const lease = createIdentityLease(store)
  if (!(await lease.acquire())) return undefined
  try {
    return await runIdentityResolution(store, { rules: await readIdentityRules(store), logger })
  } finally {
    await lease.release()
  }
}
