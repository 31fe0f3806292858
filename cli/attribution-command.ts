import fs from 'node:fs'
import { stringify } from 'csv-stringify/sync'
import { OmnistitchError } from '../runtime/errors.ts'
import { attribute, attributionModels, type AttributionModel } from '../queries/models/attribution.ts'
import { parsePathFile } from '../queries/models/paths.ts'

export interface AttributionCommandOptions {
  readonly paths: string
  readonly model: string
  readonly order?: number
  readonly halfLife?: number
  readonly positionWeights?: string
  readonly collapseRepeats?: boolean
  readonly format: string
}

/**
 * `omnistitch attribution --paths FILE --model M`: one attribution model over a file of aggregated paths, printed as
 * `{"model", "channels": [{"channel", "conversions", "value"}]}` or as CSV with those columns.
 */
export function attributionCommand(
  options: AttributionCommandOptions,
  out: NodeJS.WritableStream = process.stdout,
): void {
  if (!attributionModels.includes(options.model as AttributionModel)) {
    throw new OmnistitchError(
      'OMNI_ERR_PATHS_INVALID',
      `--model: expected one of ${attributionModels.join(', ')} (got ${JSON.stringify(options.model)})`,
    )
  }
  if (options.format !== 'json' && options.format !== 'csv') {
    throw new OmnistitchError(
      'OMNI_ERR_PATHS_INVALID',
      `--format: expected json or csv (got ${JSON.stringify(options.format)})`,
    )
  }
  let text: string
  try {
    text = fs.readFileSync(options.paths, 'utf8')
  } catch (error) {
    throw new OmnistitchError(
      'OMNI_ERR_PATHS_INVALID',
      `--paths: cannot read ${options.paths}: ${(error as Error).message}`,
    )
  }
  let positionWeights: [number, number, number] | undefined
  if (options.positionWeights !== undefined) {
    const parts = options.positionWeights.split('/').map(Number)
    if (parts.length !== 3 || parts.some((part) => !Number.isFinite(part))) {
      throw new OmnistitchError(
        'OMNI_ERR_PATHS_INVALID',
        `--position-weights: expected three percentages like 40/20/40 (got ${JSON.stringify(options.positionWeights)})`,
      )
    }
    positionWeights = parts.map((part) => part / 100) as [number, number, number]
  }
  const result = attribute(parsePathFile(text), options.model as AttributionModel, {
    ...(options.order === undefined ? {} : { order: options.order }),
    ...(options.halfLife === undefined ? {} : { halfLife: options.halfLife }),
    ...(positionWeights === undefined ? {} : { positionWeights }),
    collapseRepeats: options.collapseRepeats ?? false,
  })
  const channels = result.channels.map(({ channel, conversions, value }) => ({ channel, conversions, value }))
  if (options.format === 'csv') {
    out.write(stringify(channels, { header: true, columns: ['channel', 'conversions', 'value'] }))
    return
  }
  out.write(`${JSON.stringify({ model: result.model, channels })}\n`)
}
