import { recordSplit, runIdentityResolution } from '../consumers/identity-resolver.ts'
import { readIdentityRules } from '../consumers/stored-settings.ts'
import { queryRows } from '../runtime/clickhouse-store.ts'
import type { Config } from '../runtime/config.ts'
import { OmnistitchError } from '../runtime/errors.ts'
import type { Logger } from '../runtime/logger.ts'
import { identifierPriority } from '../schemas/capture-events.ts'
import { withMigratedStore } from './commands.ts'

interface Context {
  readonly config: Config
  readonly logger: Logger
}

const identifierKinds: readonly string[] = [...identifierPriority, 'order_id']

/** `kind:value`, checked: the form the identity map and the audit trail use. */
function parseIdentifier(text: string): string {
  const kind = text.slice(0, text.indexOf(':'))
  if (!identifierKinds.includes(kind) || text.length <= kind.length + 1) {
    throw new OmnistitchError(
      'OMNI_ERR_API_BAD_PARAMETER',
      `identifier "${text}": expected kind:value with a kind of ${identifierKinds.join(', ')}, such as loyalty_card:2770000000123`,
    )
  }
  return text
}

/**
 * `omnistitch identity resolve`: one resolver run now, and the refresh of orders, journeys and persons. The run uses
 * the stored identity rules, not this process's environment: every process resolves alike (`settings apply` changes
 * them).
 */
export async function identityResolveCommand(
  { config, logger }: Context,
  out: NodeJS.WritableStream = process.stdout,
): Promise<void> {
  await withMigratedStore(config, logger, async (store) => {
    const run = await runIdentityResolution(store, { rules: await readIdentityRules(store), logger })
    out.write(`${JSON.stringify(run)}\n`)
  })
}

/**
 * `omnistitch identity split|unsplit <identifier>`: take an identifier out of merging (or give it back), then
 * recompute. Every event of the person it linked goes back to the people its other identifiers make.
 */
export async function identitySplitCommand(
  { config, logger }: Context,
  identifier: string,
  options: { reason: string; undo: boolean },
): Promise<void> {
  const key = parseIdentifier(identifier)
  await withMigratedStore(config, logger, async (store) => {
    const [before] = await queryRows<{ person_id: string }>(
      store,
      'SELECT argMax(person_id, version) AS person_id FROM {database:Identifier}.identity_map WHERE identifier = {key:String}',
      { key },
    )
    await recordSplit(store, key, !options.undo, options.reason)
    const run = await runIdentityResolution(store, { rules: await readIdentityRules(store), logger })
    const [after] = await queryRows<{ person_id: string }>(
      store,
      'SELECT argMax(person_id, version) AS person_id FROM {database:Identifier}.identity_map WHERE identifier = {key:String}',
      { key },
    )
    process.stdout.write(
      `${JSON.stringify({ identifier: key, split: !options.undo, person_before: before?.person_id ?? null, person_after: after?.person_id ?? null, run })}\n`,
    )
  })
}

/** `omnistitch identity show <identifier>`: the person, its identifiers and the audit trail that made it. */
export async function identityShowCommand(
  { config, logger }: Context,
  identifier: string,
  out: NodeJS.WritableStream = process.stdout,
): Promise<void> {
  const key = parseIdentifier(identifier)
  await withMigratedStore(config, logger, async (store) => {
    const [entry] = await queryRows<{ person_id: string }>(
      store,
      'SELECT argMax(person_id, version) AS person_id FROM {database:Identifier}.identity_map WHERE identifier = {key:String}',
      { key },
    )
    if (entry === undefined || entry.person_id === '') {
      out.write(`${JSON.stringify({ identifier: key, person_id: null })}\n`)
      return
    }
    const identifiers = await queryRows<{ identifier: string; status: string; linked_by_event: string }>(
      store,
      `SELECT identifier, argMax(status, version) AS status, argMax(linked_by_event, version) AS linked_by_event
       FROM {database:Identifier}.identity_map GROUP BY identifier
       HAVING argMax(person_id, version) = {person:String} ORDER BY identifier`,
      { person: entry.person_id },
    )
    const audit = await queryRows<Record<string, unknown>>(
      store,
      `SELECT at, action, identifier, person_id, previous_person_id, event_id, detail
       FROM {database:Identifier}.identity_audit
       WHERE identifier IN {identifiers:Array(String)} ORDER BY version, identifier`,
      { identifiers: identifiers.map((row) => row.identifier) },
    )
    out.write(`${JSON.stringify({ identifier: key, person_id: entry.person_id, identifiers, audit }, null, 2)}\n`)
  })
}
