import fs from 'node:fs'
import path from 'node:path'
import { SingleBar, Presets } from 'cli-progress'
import { ImportError, formatOf, rejectsFileOf, runImport, type ImportKind } from '../producers/batch-import.ts'
import { createIdentifierHasher, resolveHashSecret } from '../producers/identifier-hashing.ts'
import type { Config } from '../runtime/config.ts'
import type { Logger } from '../runtime/logger.ts'
import { connectPipelineProducer } from './services.ts'

export interface ImportCommandOptions {
  readonly format?: string
  readonly rejects?: string
  readonly restart?: boolean
  readonly quiet?: boolean
}

/**
 * `omnistitch import receipts|costs FILE`: send a file to Kafka with a progress bar, rejects file and resume point.
 * Prints one JSON summary line on stdout; what the user should know (checkpoint used, rejects) goes to stderr.
 */
export async function importCommand(
  { config, logger }: { config: Config; logger: Logger },
  kind: ImportKind,
  file: string,
  options: ImportCommandOptions,
): Promise<void> {
  let format
  try {
    format = formatOf(file, options.format)
    if (!fs.statSync(file).isFile()) throw new ImportError(`cannot read ${file}: not a file`)
  } catch (error) {
    fail(error instanceof ImportError ? error.message : `cannot read ${file}: ${(error as Error).message}`)
    return
  }
  const { producer, registry } = await connectPipelineProducer(config, logger)
  const bar =
    options.quiet === true || !process.stderr.isTTY
      ? undefined
      : new SingleBar(
          {
            format: `${kind} {bar} {percentage}% | {value}/{total} bytes | {eta_formatted} left`,
            stream: process.stderr,
          },
          Presets.shades_classic,
        )
  let barRunning = false
  // Lines written while the bar is drawn would tear it: they wait until it is gone.
  const pending: string[] = []
  const notice = (message: string) => {
    if (barRunning) pending.push(message)
    else process.stderr.write(`${message}\n`)
  }
  const stopBar = () => {
    if (barRunning) bar?.stop()
    barRunning = false
    for (const message of pending.splice(0)) process.stderr.write(`${message}\n`)
  }
  try {
    const summary = await runImport({
      file,
      kind,
      format,
      rejectsFile: options.rejects,
      restart: options.restart,
      producer,
      registry,
      hasher: createIdentifierHasher(resolveHashSecret(config.hashSecret, config.dataDir)),
      source: `import:${path.basename(file)}`,
      onNotice: notice,
      onProgress: (read, total) => {
        if (bar === undefined) return
        if (!barRunning) bar.start(total, 0)
        barRunning = true
        bar.update(read)
      },
    })
    stopBar()
    if (summary.rejected > 0) {
      notice(`${summary.rejected} rejected, with reasons, in ${rejectsFileOf(file, options.rejects)}`)
    }
    process.stdout.write(`${JSON.stringify(summary)}\n`)
  } catch (error) {
    stopBar()
    if (!(error instanceof ImportError)) throw error
    fail(error.message)
  } finally {
    stopBar()
    await producer.disconnect()
  }
}

function fail(message: string): void {
  process.stderr.write(`omnistitch: ${message}\n`)
  process.exitCode = 1
}
