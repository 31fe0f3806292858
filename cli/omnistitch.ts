import {
  identityRebuildCommand,
  identityResolveCommand,
  identityShowCommand,
  identitySplitCommand,
} from './identity-commands.ts'
import { Command, InvalidArgumentError } from 'commander'
import { loadConfig, type Config } from '../runtime/config.ts'
import { OmnistitchError } from '../runtime/errors.ts'
import { createLogger } from '../runtime/logger.ts'
import {
  consumeCommand,
  kafkaFetchCommand,
  kafkaStartCommand,
  kafkaStopCommand,
  migrateCommand,
  produceCommand,
  serveCommand,
  settingsApplyCommand,
  settingsShowCommand,
  startCommand,
} from './commands.ts'
import { attributionCommand, type AttributionCommandOptions } from './attribution-command.ts'
import { attributionModels } from '../queries/models/attribution.ts'
import { importCommand, type ImportCommandOptions } from './import-commands.ts'
import { ltvFitCommand, type LtvFitCommandOptions } from './ltv-command.ts'
import { sqlCommand } from './sql-command.ts'
import { simulateCommand, type SimulateCommandOptions } from './simulate-command.ts'
import { schemasCheckCommand, schemasRegisterCommand, schemasTypesCommand } from './schema-commands.ts'

const configHelp = '\nConfiguration comes from environment variables; see the README for the full table.'

function context() {
  const config: Config = loadConfig()
  return { config, logger: createLogger({ level: config.logLevel }) }
}

function wholeNumber(raw: string): number {
  const value = Number(raw)
  if (!Number.isInteger(value) || value < 0) throw new InvalidArgumentError('expected a whole number of 0 or more')
  return value
}

const program = new Command()
  .name('omnistitch')
  .description('Cross-channel analytics: capture touchpoints, stitch customers across channels, serve metrics.')
  .showHelpAfterError()
  .addHelpText('after', configHelp)

program
  .command('start')
  .description(
    'Run the whole pipeline in one process: local Kafka (unless KAFKA_BROKERS is set), migrations, the loader, the API and demo traffic.',
  )
  .option('--no-demo', 'do not send demo touchpoints')
  .addHelpText('after', configHelp)
  .action(async (options: { demo: boolean }) => startCommand(context(), options))

program
  .command('produce')
  .description('Send touchpoints to Kafka: from an NDJSON file, or made-up demo touchpoints.')
  .option('-f, --file <path>', 'NDJSON file, one touchpoint a line; invalid lines go to the rejects file')
  .option('-n, --count <n>', 'without --file: how many demo touchpoints to send', wholeNumber, 100)
  .option('--rejects <path>', 'where invalid lines go, with the reason (default: <file>.rejects.ndjson)')
  .addHelpText('after', configHelp)
  .action(async (options: { file?: string; count: number; rejects?: string }) => produceCommand(context(), options))

program
  .command('consume')
  .description(
    'Run the consumer: load touchpoints from Kafka into ClickHouse, resolve identities and refresh journeys, until stopped.',
  )
  .addHelpText('after', configHelp)
  .action(async () => consumeCommand(context()))

program
  .command('serve')
  .description('Run the HTTP API alone.')
  .addHelpText('after', configHelp)
  .action(async () => serveCommand(context()))

program
  .command('migrate')
  .description('Apply pending ClickHouse migrations from schemas/clickhouse/ and print what was applied.')
  .addHelpText('after', configHelp)
  .action(async () => migrateCommand(context()))

const kafkaCommand = program.command('kafka').description('Manage the local single-node Kafka broker.')
kafkaCommand
  .command('start')
  .description('Start a local broker in the background; it runs until `omnistitch kafka stop`.')
  .action(async () => kafkaStartCommand(context()))
kafkaCommand
  .command('stop')
  .description('Stop the broker started by `omnistitch kafka start`.')
  .action(async () => kafkaStopCommand(context()))
kafkaCommand
  .command('fetch')
  .description('Fetch the Apache Kafka jars from Maven Central into the cache, and nothing else.')
  .action(() => kafkaFetchCommand(context()))

const importGroup = program
  .command('import')
  .description('Send a file of store receipts or ad costs to Kafka, resuming where an earlier run stopped.')
for (const kind of ['receipts', 'costs'] as const) {
  importGroup
    .command(`${kind} <file>`)
    .description(
      kind === 'receipts'
        ? 'Import POS receipts: CSV with one row per line item, or NDJSON with one receipt per line (docs/IMPORT.md).'
        : 'Import daily ad costs: CSV or NDJSON with one campaign-day per row (docs/IMPORT.md).',
    )
    .option('--format <format>', 'csv or ndjson (default: from the file name)')
    .option('--rejects <path>', 'where rejected lines go, with the reason (default: <file>.rejects.ndjson)')
    .option('--restart', 'ignore the checkpoint of an earlier run and send everything again')
    .option('--quiet', 'no progress bar')
    .addHelpText('after', configHelp)
    .action(async (file: string, options: ImportCommandOptions) => importCommand(context(), kind, file, options))
}

program
  .command('simulate')
  .description('Simulate an omnichannel retailer: to files with the ground truth beside them (--out), or to Kafka.')
  .option('--customers <n>', 'customers to simulate', wholeNumber, 1000)
  .option('--days <n>', 'days to simulate', wholeNumber, 90)
  .option('--seed <n>', 'random seed: the same seed and settings give the same bytes', wholeNumber, 1)
  .option('--out <dir>', 'write files here (events plus truth/) instead of sending to Kafka')
  .option('--format <format>', 'with --out: ndjson or avro (object container files, one per family)', 'ndjson')
  .option('--no-counterfactual', "with --out: skip the re-runs that measure each channel's incremental effect")
  .option('--rate <n>', 'without --out: events per second sent to Kafka', wholeNumber, 2000)
  .addHelpText('after', configHelp)
  .action(async (options: SimulateCommandOptions) => simulateCommand(context(), options))

const identityCommand = program
  .command('identity')
  .description(
    'Inspect and correct identity resolution (embedded mode: stop `start`/`consume` first, one process owns the store).',
  )
identityCommand
  .command('resolve')
  .description(
    'Resolve what arrived since the last run now (incremental, as the consumer does) and refresh orders, journeys and persons.',
  )
  .action(async () => identityResolveCommand(context()))
identityCommand
  .command('rebuild')
  .description(
    'Resolve every stored event from scratch and write the identity graph anew: the repair after a rule change or a fault.',
  )
  .action(async () => identityRebuildCommand(context()))
identityCommand
  .command('show <identifier>')
  .description('The person of an identifier (kind:value), its identifiers and the audit trail of its merges.')
  .action(async (identifier: string) => identityShowCommand(context(), identifier))
identityCommand
  .command('split <identifier>')
  .description('Take an identifier (kind:value) out of merging and recompute: undoes the merges it made.')
  .option('--reason <text>', 'why, for the audit trail', 'split by an operator')
  .action(async (identifier: string, options: { reason: string }) =>
    identitySplitCommand(context(), identifier, { reason: options.reason, undo: false }),
  )
identityCommand
  .command('unsplit <identifier>')
  .description('Let a split identifier merge again and recompute.')
  .option('--reason <text>', 'why, for the audit trail', 'unsplit by an operator')
  .action(async (identifier: string, options: { reason: string }) =>
    identitySplitCommand(context(), identifier, { reason: options.reason, undo: true }),
  )

const settingsCommand = program
  .command('settings')
  .description(
    'Show or change the stored journey settings and identity rules, which every process uses (start and consume write their own when they start).',
  )
settingsCommand
  .command('show')
  .description('Print the journey settings and identity rules in force, as stored.')
  .action(async () => settingsShowCommand(context()))
settingsCommand
  .command('apply')
  .description(
    "Store this environment's journey settings, identity rules and retention (OMNISTITCH_CONVERSION_TYPES, OMNISTITCH_IDENTITY_*, ...) where they differ.",
  )
  .addHelpText('after', configHelp)
  .action(async () => settingsApplyCommand(context()))

program
  .command('attribution')
  .description(
    'Attribute conversions to channels over a file of paths (ChannelAttribution layout: path;total_conversions;total_conversion_value;total_null, channels joined by " > ").',
  )
  .requiredOption('--paths <file>', 'the path file; ; or , between fields')
  .requiredOption('--model <model>', attributionModels.join(', '))
  .option('--order <k>', 'markov: states remember the last k channels, 1 to 3', wholeNumber)
  .option('--half-life <n>', 'time_decay: the half-life, in touches before the conversion (default 7)', Number)
  .option('--position-weights <first/middle/last>', 'position_based: percentages (default 40/20/40)')
  .option('--collapse-repeats', 'count repeated touches of one channel in a row once')
  .option('--format <format>', 'json or csv', 'json')
  .action((options: AttributionCommandOptions) => attributionCommand(options))

program
  .command('ltv')
  .description('Customer lifetime value models.')
  .command('fit')
  .description(
    'Fit BG/NBD and Gamma-Gamma by maximum likelihood to a per-customer table in the lifetimes layout (id, frequency, recency, T, optional monetary_value).',
  )
  .requiredOption('--summary <file>', 'the per-customer table; , or ; between fields')
  .option('--format <format>', 'json', 'json')
  .action((options: LtvFitCommandOptions) => ltvFitCommand(options))

program
  .command('sql <query>')
  .description(
    "Run read-only SQL against the store and print the result; {database:Identifier} names the store's database (docs/DATA_MODEL.md has the tables and views).",
  )
  .option('--format <format>', 'table, csv, tsv, json (one object a line) or arrow (an Arrow IPC stream)', 'table')
  .addHelpText('after', configHelp)
  .action(async (query: string, options: { format: string }) => sqlCommand(context(), query, options))

const schemasCommand = program
  .command('schemas')
  .description('Develop the Avro schemas: ids, evolution checks, generated TypeScript types.')
schemasCommand
  .command('check')
  .description('Prove every version reads all earlier ones, golden fixtures decode, ids and types are current.')
  .action(async () => schemasCheckCommand())
schemasCommand
  .command('register')
  .description('Give new schema files (schemas/avro/<family>/v<N>.avsc) their ids, golden fixtures and types.')
  .action(async () => schemasRegisterCommand())
schemasCommand
  .command('types')
  .description('Regenerate schemas/generated/capture-types.ts from the newest schema versions.')
  .action(async () => schemasTypesCommand())

try {
  await program.parseAsync(process.argv)
} catch (error) {
  if (error instanceof OmnistitchError) {
    process.stderr.write(`omnistitch: ${error.message}\n`)
    process.exit(error.code === 'OMNI_ERR_CONFIG_INVALID' ? 78 : 1)
  }
  throw error
}
