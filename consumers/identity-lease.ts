import { randomUUID } from 'node:crypto'
import { queryRows, type Store } from '../runtime/clickhouse-store.ts'
import { writeSettings } from './identity-state.ts'

/**
 * Who runs the identity resolver when several processes share one ClickHouse store (docs/ARCHITECTURE.md D21): the
 * holder of the earliest claim in `identity_lease` that has not expired (a claim is as live as its newest row says). A process claims (a row with `since` and
 * `expires_at` from the server's clock), waits `settleMs` so that a rival's claim inserted at the same moment is
 * visible, and reads the claims: it leads if its own is the earliest live one. The leader renews its claim, keeping its
 * `since`, while it works; a leader that dies stops renewing and its claim expires after `ttlSeconds`, so another
 * process takes over within that time. ClickHouse has no compare-and-set: the guarantee is that of inserts that become
 * visible within `settleMs` of the server stamping them, which holds for one server (inserts are visible when they are
 * acknowledged) and for a cluster read with `select_sequential_consistency`.
 */
export interface IdentityLease {
  readonly holder: string
  /** Claims or renews; true when this process leads now. */
  acquire(): Promise<boolean>
  /** Gives up the lead: the claim expires at once, so another process can take over at its next tick. */
  release(): Promise<void>
}

export function createIdentityLease(
  store: Store,
  options: { ttlSeconds?: number; settleMs?: number; holder?: string } = {},
): IdentityLease {
  const holder = options.holder ?? randomUUID()
  const ttl = options.ttlSeconds ?? 60
  const settleMs = options.settleMs ?? 1000
  /** When this process's current claim began; undefined when it does not lead. */
  let since: number | undefined

  const claim = async (at: number | undefined) => {
    await store.client.command({
      query: `INSERT INTO {database:Identifier}.identity_lease (holder, since, expires_at)
              SELECT {holder:String}, ${at === undefined ? 'now64(3)' : 'fromUnixTimestamp64Milli({since:Int64})'},
                     now64(3) + toIntervalSecond({ttl:UInt32})`,
      query_params: { database: store.database, holder, ttl, ...(at === undefined ? {} : { since: at }) },
      clickhouse_settings: writeSettings(store),
    })
  }
  const leader = async () =>
    (
      await queryRows<{ holder: string; since_ms: number }>(
        store,
        `SELECT holder, toUnixTimestamp64Milli(since) AS since_ms FROM {database:Identifier}.identity_lease
         WHERE since > now64(3) - toIntervalDay(1)
         GROUP BY holder, since HAVING argMax(expires_at, written_at) > now64(3)
         ORDER BY since_ms, holder LIMIT 1`,
      )
    )[0]

  return {
    holder,
    async acquire() {
      if (since !== undefined) {
        const current = await leader()
        if (current?.holder === holder) {
          await claim(since)
          return true
        }
        since = undefined
      }
      await claim(undefined)
      if (settleMs > 0) await new Promise((resolve) => setTimeout(resolve, settleMs))
      const current = await leader()
      if (current?.holder !== holder) return false
      since = Number(current.since_ms)
      return true
    },
    async release() {
      if (since === undefined) return
      const ended = since
      since = undefined
      // The claim's newest row says it has expired: a claim is as live as its newest row says.
      await store.client.command({
        query: `INSERT INTO {database:Identifier}.identity_lease (holder, since, expires_at)
                SELECT {holder:String}, fromUnixTimestamp64Milli({since:Int64}), now64(3) - toIntervalSecond(1)`,
        query_params: { database: store.database, holder, since: ended },
        clickhouse_settings: writeSettings(store),
      })
    },
  }
}
