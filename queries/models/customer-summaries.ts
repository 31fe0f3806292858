import { parse } from 'csv-parse/sync'
import { OmnistitchError } from '../../runtime/errors.ts'
import type { CustomerSummary } from './ltv.ts'

const required = ['frequency', 'recency', 'T'] as const

function invalid(message: string): OmnistitchError {
  return new OmnistitchError('OMNI_ERR_SUMMARY_INVALID', message)
}

/**
 * Reads a per-customer table in the layout of lifetimes' `summary_data_from_transaction_data`: a header with an id
 * column (any name; the first column that is none of the others), `frequency`, `recency`, `T` and optionally
 * `monetary_value`; `,` or `;` between fields. Throws OMNI_ERR_SUMMARY_INVALID naming the line and field of the
 * first value it cannot use.
 */
export function parseCustomerSummaries(text: string): (CustomerSummary & { id: string })[] {
  const firstLine = text.slice(0, text.indexOf('\n') === -1 ? undefined : text.indexOf('\n'))
  const delimiter = firstLine.includes(';') ? ';' : ','
  let records: string[][]
  try {
    records = parse(text, { delimiter, skip_empty_lines: true, trim: true, bom: true, relax_column_count: true })
  } catch (error) {
    throw invalid(`summary file: ${(error as Error).message}`)
  }
  const header = records[0] ?? []
  const column = (name: string) => header.indexOf(name)
  const missing = required.filter((name) => column(name) === -1)
  if (missing.length > 0) {
    throw invalid(
      `summary file, line 1: expected a header with frequency${delimiter}recency${delimiter}T ` +
        `(and optionally monetary_value); missing ${missing.join(', ')} in ${JSON.stringify(firstLine.slice(0, 120))}`,
    )
  }
  const known = new Set<string>([...required, 'monetary_value'])
  const idColumn = header.findIndex((name) => !known.has(name))
  return records.slice(1).map((record, index) => {
    const line = index + 2
    const number = (name: string, optional = false): number | undefined => {
      const raw = record[column(name)]
      if (optional && (raw === undefined || raw === '')) return undefined
      const value = Number(raw)
      if (raw === undefined || raw === '' || !Number.isFinite(value) || value < 0) {
        throw invalid(
          `summary file, line ${line}, ${name}: expected a number of 0 or more (got ${JSON.stringify(raw ?? '')})`,
        )
      }
      return value
    }
    const frequency = number('frequency') as number
    const recency = number('recency') as number
    const T = number('T') as number
    if (!Number.isInteger(frequency)) {
      throw invalid(
        `summary file, line ${line}, frequency: expected a whole number of repeat purchases (got ${frequency})`,
      )
    }
    if (recency > T) {
      throw invalid(`summary file, line ${line}, recency: expected no more than T (${recency} > ${T})`)
    }
    if (frequency === 0 && recency !== 0) {
      throw invalid(
        `summary file, line ${line}, recency: expected 0 for a customer without repeat purchases (got ${recency})`,
      )
    }
    return {
      id: idColumn === -1 ? String(line - 1) : (record[idColumn] ?? ''),
      frequency,
      recency,
      T,
      monetaryValue: column('monetary_value') === -1 ? undefined : number('monetary_value', true),
    }
  })
}
