import { createIdentityLease } from '../consumers/identity-lease.ts'
import { recordSplit, requestRebuild, runIdentityResolution } from '../consumers/identity-resolver.ts'
import { readIdentityRules } from '../consumers/stored-settings.ts'
import { queryRows, type Store } from '../runtime/clickhouse-store.ts'
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
 * Runs `work` with the identity lease (consumers/identity-lease.ts), or, when a running consumer holds it, says so:
 * two resolvers writing one graph at once could corrupt it. In embedded mode no other process can hold the store, so
 * the lease is always free here.
 */
async function withIdentityLease(
  store: Store,
  work: () => Promise<unknown>,
  busy: () => Promise<unknown>,
): Promise<void> {
  const lease = createIdentityLease(store)
  if (!(await lease.acquire())) {
    await busy()
    return
  }
  try {
    await work()
  } finally {
    await lease.release()
  }
}

const leaderBusy = (out: NodeJS.WritableStream, what: string) => async () => {
  out.write(`${JSON.stringify({ resolved_by: 'the running consumer that holds the identity lease', note: what })}\n`)
}

/**
 * `omnistitch identity resolve`: one incremental cycle now (identities, then the refresh of orders, journeys and
 * persons), as the consumer runs every interval. The run uses the stored identity rules, not this process's
 * environment: every process resolves alike (`settings apply` changes them; the next run then rebuilds).
 */
export async function identityResolveCommand(
  { config, logger }: Context,
  out: NodeJS.WritableStream = process.stdout,
): Promise<void> {
  await withMigratedStore(config, logger, async (store) => {
    await withIdentityLease(
      store,
      async () => {
        const run = await runIdentityResolution(store, { rules: await readIdentityRules(store), logger })
        out.write(`${JSON.stringify(run)}\n`)
      },
      leaderBusy(out, 'a consumer is resolving every interval; nothing was run here'),
    )
  })
}

/**
 * `omnistitch identity rebuild`: resolves every combination stored from scratch and writes the graph anew: the repair
 * after a change of rules or a suspected fault, and the oracle the incremental runs are tested against. When a running
 * consumer holds the lease, the rebuild is requested from it instead (its next run rebuilds).
 */
export async function identityRebuildCommand(
  { config, logger }: Context,
  out: NodeJS.WritableStream = process.stdout,
): Promise<void> {
  await withMigratedStore(config, logger, async (store) => {
    await withIdentityLease(
      store,
      async () => {
        const rules = await readIdentityRules(store)
        const run = await runIdentityResolution(store, { rules, logger, rebuild: true })
        out.write(`${JSON.stringify(run)}\n`)
      },
      async () => {
        await requestRebuild(store)
        await leaderBusy(out, 'a rebuild was requested; the consumer runs it at its next interval')()
      },
    )
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
    await withIdentityLease(
      store,
      async () => {
        const run = await runIdentityResolution(store, { rules: await readIdentityRules(store), logger })
        const [after] = await queryRows<{ person_id: string }>(
          store,
          'SELECT argMax(person_id, version) AS person_id FROM {database:Identifier}.identity_map WHERE identifier = {key:String}',
          { key },
        )
        process.stdout.write(
          `${JSON.stringify({ identifier: key, split: !options.undo, person_before: before?.person_id ?? null, person_after: after?.person_id ?? null, run })}\n`,
        )
      },
      leaderBusy(process.stdout, 'the split is recorded; the consumer applies it at its next interval'),
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
