import type { Store } from '../runtime/clickhouse-store.ts'
import { describeError } from '../runtime/errors.ts'
import type { Logger } from '../runtime/logger.ts'
import type { PipelineMetrics } from '../runtime/metrics.ts'
import { runIdentityResolution, type ResolutionRun } from './identity-resolver.ts'
import { readIdentityRules } from './stored-settings.ts'

export interface IdentityScheduler {
  /** Tells the scheduler that rows were loaded; the next tick resolves them. */
  notify(loaded: number): void
  /** Runs the resolver now (after any run in progress) and returns its result. */
  runNow(): Promise<ResolutionRun>
  /** Stops the timer and waits for a run in progress. */
  stop(): Promise<void>
}

/**
 * Runs the identity resolver (and the refresh of orders, journeys and persons after it) every `intervalSeconds`
 * when rows were loaded since the last run; one run at a time. A failed run is logged and retried at the next tick:
 * the loaded events are safe in `touchpoints`, only their people wait. Each run reads the stored identity rules
 * (consumers/stored-settings.ts), so it resolves as every other process does, and a change made by
 * `omnistitch settings apply` holds from the next run.
 */
export function createIdentityScheduler(options: {
  store: Store
  logger: Logger
  intervalSeconds: number
  metrics?: PipelineMetrics | undefined
}): IdentityScheduler {
  const logger = options.logger.child({ component: 'identity-resolver' })
  let pending = 0
  let running: Promise<ResolutionRun> | undefined

  const run = (): Promise<ResolutionRun> => {
    const previous = running ?? Promise.resolve(undefined)
    const next = previous
      .catch(() => undefined)
      .then(async () => {
        pending = 0
        const stop = options.metrics?.identitySeconds.startTimer()
        const rules = await readIdentityRules(options.store)
        const result = await runIdentityResolution(options.store, { rules, logger })
        stop?.()
        options.metrics?.identityRuns.inc()
        options.metrics?.persons.set(result.persons)
        options.metrics?.quarantined.set(result.quarantined)
        return result
      })
    running = next
    void next.finally(() => {
      if (running === next) running = undefined
    })
    return next
  }

  const timer =
    options.intervalSeconds > 0
      ? setInterval(() => {
          if (pending === 0 || running !== undefined) return
          run().catch((error: unknown) =>
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
    async stop() {
      if (timer !== undefined) clearInterval(timer)
      await running?.catch(() => undefined)
    },
  }
}
