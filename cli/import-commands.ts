import path from 'node:path'
import { SingleBar, Presets } from 'cli-progress'
import { formatOf, runImport, type ImportKind } from '../producers/batch-import.ts'
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

/** `omnistitch import receipts|costs FILE`: send a file to Kafka with a progress bar, rejects file and resume point. */
export async function importCommand(
  { config, logger }: { config: Config; logger: Logger },
  kind: ImportKind,
  file: string,
  options: ImportCommandOptions,
): Promise<void> {
  const format = formatOf(file, options.format)
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
  try {
    let started = false
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
      onProgress: (read, total) => {
        if (!started) bar?.start(total, 0)
        started = true
        bar?.update(read)
      },
    })
    bar?.stop()
    if (summary.skipped_by_checkpoint > 0) {
      process.stderr.write(
        `skipped ${summary.skipped_by_checkpoint} ${kind === 'receipts' ? 'receipts' : 'rows'} sent by an earlier run (checkpoint ${file}.import-state.json; --restart ignores it)\n`,
      )
    }
    if (summary.rejected > 0) {
      process.stderr.write(
        `${summary.rejected} rejected, with reasons, in ${options.rejects ?? `${file}.rejects.ndjson`}\n`,
      )
    }
    process.stdout.write(`${JSON.stringify(summary)}\n`)
  } finally {
    bar?.stop()
    await producer.disconnect()
  }
}
