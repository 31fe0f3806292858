import { OmnistitchError, describeError } from '../runtime/errors.ts'

/** What a step made of a record: a value for the next step, a dead letter with its reason, or nothing to keep. */
export type StepOutcome<T> =
  | { readonly kind: 'ok'; readonly value: T }
  | { readonly kind: 'dead-letter'; readonly code: string; readonly reason: string; readonly schemaId?: number }
  | { readonly kind: 'drop'; readonly reason: string }

export const ok = <T>(value: T): StepOutcome<T> => ({ kind: 'ok', value })
export const deadLetter = (code: string, reason: string, schemaId?: number): StepOutcome<never> =>
  schemaId === undefined ? { kind: 'dead-letter', code, reason } : { kind: 'dead-letter', code, reason, schemaId }
export const drop = (reason: string): StepOutcome<never> => ({ kind: 'drop', reason })

/** A named step of the consumer pipeline. A step returns its outcome as a value; it throws only to be retried. */
export interface Step<I, O> {
  readonly name: string
  run(input: I): StepOutcome<O> | Promise<StepOutcome<O>>
}

export interface RetryPolicy {
  readonly retries: number
  readonly initialDelayMs: number
  readonly maxDelayMs: number
  /** Called before each retry, with the attempt that failed (1-based). */
  readonly onRetry?: (step: string, attempt: number, error: unknown) => void
}

export const defaultRetryPolicy: RetryPolicy = { retries: 5, initialDelayMs: 100, maxDelayMs: 5_000 }

/**
 * Runs `action`, retrying a retriable failure (an OmnistitchError marked retriable, or any error that is not an
 * OmnistitchError: a network failure) with exponential backoff. A non-retriable OmnistitchError is thrown at once.
 */
export async function withRetry<T>(step: string, action: () => Promise<T>, policy: RetryPolicy): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await action()
    } catch (error) {
      const retriable = !(error instanceof OmnistitchError) || error.retriable
      if (!retriable || attempt > policy.retries) throw error
      policy.onRetry?.(step, attempt, error)
      const delay = Math.min(policy.maxDelayMs, policy.initialDelayMs * 2 ** (attempt - 1))
      await new Promise((resolve) => setTimeout(resolve, delay))
    }
  }
}

/** A step whose retriable failures are retried by `policy`; what is left after the retries is the caller's. */
export function retrying<I, O>(step: Step<I, O>, policy: RetryPolicy): Step<I, O> {
  return { name: step.name, run: (input) => withRetry(step.name, async () => step.run(input), policy) }
}

/** Why a step failed, for a dead letter's reason header. */
export function reasonOf(error: unknown): { code: string; reason: string } {
  return error instanceof OmnistitchError
    ? { code: error.code, reason: error.message }
    : { code: 'OMNI_ERR_INTERNAL', reason: describeError(error) }
}
