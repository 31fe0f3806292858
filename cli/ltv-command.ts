import fs from 'node:fs'
import { OmnistitchError } from '../runtime/errors.ts'
import { parseCustomerSummaries } from '../queries/models/customer-summaries.ts'
import { fitBgNbd, fitGammaGamma } from '../queries/models/ltv.ts'

export interface LtvFitCommandOptions {
  readonly summary: string
  readonly format: string
}

const rounded = (value: number) => Number(value.toPrecision(8))

/**
 * `omnistitch ltv fit --summary FILE`: BG/NBD and Gamma-Gamma fitted by maximum likelihood to a per-customer table
 * (lifetimes layout). Prints `{"bgnbd": {"r", "alpha", "a", "b", "loglik"}, "gamma_gamma": {"p", "q", "v"}}` (Gamma-Gamma
 * null without a monetary_value column), plus standard errors and convergence under `diagnostics`.
 */
export function ltvFitCommand(options: LtvFitCommandOptions, out: NodeJS.WritableStream = process.stdout): void {
  if (options.format !== 'json') {
    throw new OmnistitchError(
      'OMNI_ERR_SUMMARY_INVALID',
      `--format: expected json (got ${JSON.stringify(options.format)})`,
    )
  }
  let text: string
  try {
    text = fs.readFileSync(options.summary, 'utf8')
  } catch (error) {
    throw new OmnistitchError(
      'OMNI_ERR_SUMMARY_INVALID',
      `--summary: cannot read ${options.summary}: ${(error as Error).message}`,
    )
  }
  const customers = parseCustomerSummaries(text)
  if (customers.length === 0)
    throw new OmnistitchError('OMNI_ERR_SUMMARY_INVALID', '--summary: the file has no customers')
  const bgnbd = fitBgNbd(customers)
  const withValues = customers.some((customer) => customer.frequency > 0 && (customer.monetaryValue ?? 0) > 0)
  const gammaGamma = withValues ? fitGammaGamma(customers) : undefined
  const map = (record: object) =>
    Object.fromEntries(Object.entries(record).map(([name, value]) => [name, rounded(value as number)]))
  out.write(
    `${JSON.stringify({
      bgnbd: { ...map(bgnbd.parameters), loglik: rounded(bgnbd.logLikelihood) },
      gamma_gamma: gammaGamma === undefined ? null : map(gammaGamma.parameters),
      diagnostics: {
        bgnbd: {
          customers: bgnbd.customers,
          standard_errors: map(bgnbd.standardErrors),
          iterations: bgnbd.iterations,
          converged: bgnbd.converged,
        },
        gamma_gamma:
          gammaGamma === undefined
            ? null
            : {
                customers: gammaGamma.customers,
                loglik: rounded(gammaGamma.logLikelihood),
                standard_errors: map(gammaGamma.standardErrors),
                iterations: gammaGamma.iterations,
                converged: gammaGamma.converged,
              },
      },
    })}\n`,
  )
}
