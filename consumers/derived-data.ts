import crypto from 'node:crypto'
import { insertRows, queryRows, type Store } from '../runtime/clickhouse-store.ts'
import { quoteIdentifier } from '../runtime/cluster-ddl.ts'
import { writeSettings } from './identity-state.ts'
import type { JourneySettings } from './stored-settings.ts'

/**
 * Orders, journeys, persons and the daily aggregates, kept by the resolver's cycle (docs/ARCHITECTURE.md D23). A cycle
 * recomputes the rows of a set of persons: their events are read by identity combination (`events_by_combo`, ordered
 * by it), their previous rows deleted and the new ones inserted, table by table, each with the SQL the refreshable view
 * it replaced had, run over the persons in scope instead of everything. Orders are recomputed from all their events
 * (`order_events`), whoever they belong to, and the persons whose journeys end in a recomputed order join the scope.
 * Every table is sorted by person first (migration 0011), so that a delete reads the granules of the scope's persons,
 * and the tables computed from orders, touchpoints and journeys read the cycle's working copies of them. A rebuild is
 * the same with every person in scope and the tables emptied first.
 */

/** The tables kept here, in the order a cycle writes them (journeys read orders and journey_touchpoints). */
export const derivedTables = [
  'orders',
  'journey_touchpoints',
  'journeys',
  'persons',
  'channel_daily',
  'person_channel_days',
  'touch_channel_days',
  'conversion_days',
  'channel_transition_days',
  'journey_path_days',
  'conversion_touch_ages',
  'person_channels',
  'funnel_events',
  'customer_values',
] as const

type DerivedTable = (typeof derivedTables)[number]

/**
 * The layout of the derived tables (migrations 0011 and 0012 recreated them empty): part of the fingerprint, so that the
 * first cycle on a store whose tables were laid out anew rebuilds them.
 */
const derivedLayout = 3

/** A fingerprint of the journey settings and the tables' layout: a cycle whose fingerprint differs rebuilds. */
export function journeyFingerprint(settings: JourneySettings): string {
  const text = JSON.stringify([
    settings.sessionTimeoutMinutes,
    settings.lookbackDays,
    [...settings.conversionTypes],
    derivedLayout,
  ])
  return crypto.createHash('sha256').update(text).digest('hex').slice(0, 16)
}

const inScope = 'IN (SELECT person_id FROM {database:Identifier}.derived_scope_persons WHERE run = {run:UInt64})'
const keyInScope =
  'IN (SELECT sipHash64(person_id) FROM {database:Identifier}.derived_scope_persons WHERE run = {run:UInt64})'
const ordersInScope = 'IN (SELECT order_key FROM {database:Identifier}.derived_scope_orders WHERE run = {run:UInt64})'
const conversionTypes = '(SELECT argMax(conversion_types, updated_at) FROM {database:Identifier}.journey_settings)'
/**
 * The rows of a ReplacingMergeTree of events (`events_by_combo`, `order_events`) that match `where`, one per sorting key:
 * what FINAL gives, since an event sent again is the same event, at a third of FINAL's cost for a few thousand keys
 * (FINAL stays for reading a whole table: it merges the sorted parts as it streams, where LIMIT BY keeps every key).
 */
const eventsOf = (table: string, key: string, where: string) =>
  `(SELECT * FROM {database:Identifier}.${table} WHERE ${where} LIMIT 1 BY ${key}, channel, toDate(event_time), event_id)`
const orderEventsInScope = eventsOf('order_events', 'order_key', `order_key ${ordersInScope}`)

/** The newest person of each combination among those given by `combos` (a subquery). */
const personsOfCombos = (combos: string) => `(SELECT combo, argMax(person_id, version) AS person_id
    FROM {database:Identifier}.identity_combos WHERE combo IN (${combos}) GROUP BY combo)`

/** How each table's rows of the persons in scope are deleted. */
const deleteWhere: Record<DerivedTable, string> = {
  orders: `order_key ${ordersInScope}`,
  journey_touchpoints: `person_id ${inScope}`,
  journeys: `person_id ${inScope}`,
  persons: `person_id ${inScope}`,
  channel_daily: `person_key ${keyInScope}`,
  person_channel_days: `person_key ${keyInScope}`,
  touch_channel_days: `person_key ${keyInScope}`,
  conversion_days: `person_key ${keyInScope}`,
  channel_transition_days: `person_key ${keyInScope}`,
  journey_path_days: `person_key ${keyInScope}`,
  conversion_touch_ages: `person_key ${keyInScope}`,
  person_channels: `person_id ${inScope}`,
  funnel_events: `person_key ${keyInScope}`,
  customer_values: `person_id ${inScope}`,
}

/**
 * The tables a cycle computes into a working table first (partitioned by the cycle, like derived_events): the tables
 * after them read their rows there, a few thousand persons' worth, instead of picking them out of the large tables.
 */
const workingTables: Partial<Record<DerivedTable, string>> = {
  orders: 'derived_orders',
  journey_touchpoints: 'derived_touchpoints',
  journeys: 'derived_journeys',
}

/** The scope's events, with their persons: what the person tables are computed from. */
const scopeEvents = `(SELECT * FROM {database:Identifier}.derived_events WHERE run = {run:UInt64})`

/** The rows of each table for the persons in scope (the SQL of the views of migrations 0003-0007, scoped). */
const insertSelect: Record<DerivedTable, string> = {
  // Orders: every event that names the order, whoever it belongs to; its person is that of its earliest event.
  orders: `
SELECT
    o.order_key AS order_key,
    argMin(if(c.person_id = '', concat('event:', toString(o.event_id)), c.person_id), (o.event_time, o.event_id))
        AS person_id,
    min(o.event_time) AS placed_at,
    argMinIf(o.placed_channel, (o.event_time, o.event_id), o.placed_channel != '') AS placed_channel,
    argMinIf(o.fulfilled_channel, (o.event_time, o.event_id), o.fulfilled_channel != '') AS fulfilled_channel,
    countIf(o.event_type = 'returned_in_store') > 0 AS returned_in_store,
    countIf(o.event_type = 'partial_refusal') > 0 AS partially_refused,
    sum(o.revenue) AS revenue,
    sumIf(o.revenue, o.revenue > 0) AS gross_revenue,
    -sumIf(o.revenue, o.revenue < 0) AS refunded,
    argMinIf(o.currency, (o.event_time, o.event_id), o.currency != '') AS currency,
    count() AS events
FROM ${orderEventsInScope} AS o
LEFT JOIN ${personsOfCombos(`SELECT identity_combo FROM {database:Identifier}.order_events WHERE order_key ${ordersInScope}`)} AS c
    ON c.combo = o.identity_combo
GROUP BY o.order_key`,

  journey_touchpoints: `
SELECT
    person_id, event_time, event_id, channel, event_type, family, source, utm_source, utm_medium, utm_campaign,
    order_key, is_conversion, journey_seq,
    concat(person_id, '#', toString(journey_seq)) AS journey_id,
    session_id, converted,
    toUInt8(event_time >= ifNull(conversion_time, last_time) - toIntervalDay((SELECT argMax(lookback_days, updated_at) FROM {database:Identifier}.journey_settings))) AS in_lookback,
    revenue
FROM
(
    SELECT
        *,
        toUInt8(max(is_conversion) OVER (PARTITION BY person_id, journey_seq)) AS converted,
        max(if(is_conversion = 1, toNullable(event_time), NULL)) OVER (PARTITION BY person_id, journey_seq)
            AS conversion_time,
        max(event_time) OVER (PARTITION BY person_id, journey_seq) AS last_time
    FROM
    (
        SELECT
            *,
            toUInt32(sum(is_conversion) OVER (PARTITION BY person_id ORDER BY event_time, event_id
                ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)) AS journey_seq,
            concat(person_id, if(is_digital = 1, '/d', '/e'), toString(sum(starts_session) OVER (
                PARTITION BY person_id, is_digital ORDER BY event_time, event_id
                ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW))) AS session_id
        FROM
        (
            SELECT
                *,
                toUInt8(is_digital = 0 OR previous_time IS NULL
                    OR dateDiff('second', previous_time, event_time) > (SELECT argMax(session_timeout_minutes, updated_at) FROM {database:Identifier}.journey_settings) * 60) AS starts_session
            FROM
            (
                SELECT
                    person_id, event_time, event_id, channel, event_type, family, source, utm_source, utm_medium,
                    utm_campaign, order_key, revenue,
                    toUInt8(has(${conversionTypes}, event_type)) AS is_conversion,
                    toUInt8(channel IN ('web', 'app')) AS is_digital,
                    lagInFrame(toNullable(event_time)) OVER (PARTITION BY person_id, is_digital
                        ORDER BY event_time, event_id ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) AS previous_time
                FROM ${scopeEvents}
                WHERE order_key = '' OR has(${conversionTypes}, event_type)
            )
        )
    )
)`,

  journeys: `
SELECT
    j.journey_id AS journey_id,
    j.person_id AS person_id,
    j.started_at AS started_at,
    j.ended_at AS ended_at,
    j.converted AS converted,
    j.order_key AS order_key,
    j.conversion_channel AS conversion_channel,
    j.path AS path,
    j.touches AS touches,
    j.sessions AS sessions,
    if(j.converted = 1, o.revenue, toDecimal64(0, 2)) AS revenue,
    o.placed_channel AS placed_channel,
    o.fulfilled_channel AS fulfilled_channel
FROM
(
    SELECT
        journey_id,
        any(person_id) AS person_id,
        min(event_time) AS started_at,
        max(event_time) AS ended_at,
        max(converted) AS converted,
        anyIf(order_key, is_conversion = 1) AS order_key,
        anyIf(channel, is_conversion = 1) AS conversion_channel,
        arrayMap(x -> x.2, arraySort(groupArray((event_time, channel)))) AS path,
        count() AS touches,
        uniqExact(session_id) AS sessions
    FROM (SELECT * FROM {database:Identifier}.derived_touchpoints WHERE run = {run:UInt64} AND in_lookback = 1)
    GROUP BY journey_id
) AS j
LEFT JOIN (SELECT * FROM {database:Identifier}.derived_orders WHERE run = {run:UInt64}) AS o
    ON o.order_key = j.order_key`,

  persons: `
SELECT
    person_id,
    min(event_time) AS first_seen,
    max(event_time) AS last_seen,
    count() AS events,
    arraySort(groupUniqArray(toString(channel))) AS channels,
    anyIf(customer_id, customer_id != '') AS customer_id,
    uniqExactIf(order_key, order_key != '' AND event_type IN ('order_created', 'pos_receipt')) AS orders,
    sum(revenue) AS revenue
FROM ${scopeEvents}
WHERE NOT startsWith(person_id, 'event:')
GROUP BY person_id`,

  channel_daily: `
SELECT
    toDate(event_time) AS day,
    channel,
    count() AS events,
    toUInt64(NOT startsWith(person_id, 'event:')) AS persons,
    countIf(startsWith(person_id, 'event:')) AS anonymous_events,
    countIf(event_type IN ('order_created', 'pos_receipt')) AS orders,
    sum(revenue) AS revenue,
    sipHash64(person_id) AS person_key
FROM ${scopeEvents}
GROUP BY day, channel, person_id`,

  person_channel_days: `
SELECT sipHash64(person_id) AS person_key, channel, arraySort(groupUniqArray(toDate(event_time))) AS days
FROM ${scopeEvents}
WHERE NOT startsWith(person_id, 'event:')
GROUP BY person_key, channel`,

  touch_channel_days: `
SELECT sipHash64(person_id) AS person_key, channel, arraySort(groupUniqArray(toDate(event_time))) AS days
FROM {database:Identifier}.derived_touchpoints
WHERE run = {run:UInt64} AND NOT startsWith(person_id, 'event:')
GROUP BY person_key, channel`,

  conversion_days: `
SELECT
    toDate(t.event_time) AS day,
    sipHash64(t.person_id) AS person_key,
    uniqExact(t.journey_id) AS conversions,
    sum(j.revenue) AS revenue
FROM (SELECT * FROM {database:Identifier}.derived_touchpoints WHERE run = {run:UInt64}) AS t
LEFT JOIN (SELECT journey_id, revenue FROM {database:Identifier}.derived_journeys WHERE run = {run:UInt64}) AS j
    ON j.journey_id = t.journey_id
WHERE t.is_conversion = 1 AND NOT startsWith(t.person_id, 'event:')
GROUP BY day, person_key`,

  channel_transition_days: `
SELECT
    toDate(event_time) AS day,
    toDate(assumeNotNull(previous_time)) AS previous_day,
    toString(assumeNotNull(previous_channel)) AS from_channel,
    toString(channel) AS to_channel,
    count() AS transitions,
    arraySort(groupArray(dateDiff('second', assumeNotNull(previous_time), event_time))) AS seconds,
    sipHash64(person_id) AS person_key
FROM
(
    SELECT
        person_id,
        channel,
        event_time,
        lagInFrame(toNullable(channel)) OVER w AS previous_channel,
        lagInFrame(toNullable(event_time)) OVER w AS previous_time
    FROM {database:Identifier}.derived_touchpoints
    WHERE run = {run:UInt64} AND NOT startsWith(person_id, 'event:')
    WINDOW w AS (PARTITION BY person_id ORDER BY event_time, event_id ROWS BETWEEN 1 PRECEDING AND CURRENT ROW)
)
WHERE previous_channel IS NOT NULL
GROUP BY day, previous_day, from_channel, to_channel, person_id`,

  journey_path_days: `
SELECT
    toDate(ended_at) AS day,
    naming.1 AS group_by,
    CAST(naming.2, 'Array(LowCardinality(String))') AS path,
    CAST(touch_channels, 'Array(LowCardinality(String))') AS path_channels,
    arrayCompact(path) AS steps,
    toUInt32(length(arrayDistinct(path_channels))) AS channels,
    anonymous,
    countIf(converted = 1) AS conversions,
    sumIf(revenue, converted = 1) AS value,
    countIf(converted = 0) AS nulls,
    sipHash64(person_id) AS person_key
FROM
(
    SELECT
        any(j.person_id) AS person_id,
        any(j.ended_at) AS ended_at,
        any(j.converted) AS converted,
        any(j.revenue) AS revenue,
        startsWith(any(j.person_id), 'event:') AS anonymous,
        arraySort(groupArray((t.event_time, toString(t.channel), t.utm_source, t.utm_campaign))) AS touches,
        arrayMap(x -> x.2, touches) AS touch_channels,
        [
            ('channel', touch_channels),
            ('channel_source', arrayMap(x -> concat(x.2, ' / ', if(x.3 = '', '(none)', x.3)), touches)),
            ('channel_campaign', arrayMap(x -> concat(x.2, ' / ', if(x.4 = '', '(none)', x.4)), touches))
        ] AS namings
    FROM (SELECT * FROM {database:Identifier}.derived_journeys WHERE run = {run:UInt64}) AS j
    INNER JOIN (SELECT * FROM {database:Identifier}.derived_touchpoints WHERE run = {run:UInt64}) AS t
        ON t.journey_id = j.journey_id
    WHERE t.in_lookback = 1
    GROUP BY j.journey_id
)
ARRAY JOIN namings AS naming
GROUP BY day, group_by, path, path_channels, steps, channels, anonymous, person_id`,

  conversion_touch_ages: `
SELECT
    toDate(ended_at) AS day,
    naming.1 AS group_by,
    CAST(arrayMap(x -> x.2, naming.2), 'Array(LowCardinality(String))') AS steps,
    CAST(arrayMap(x -> x.3, naming.2), 'Array(LowCardinality(String))') AS path_channels,
    arrayMap(x -> (toUnixTimestamp64Milli(ended_at) - toUnixTimestamp64Milli(x.1)) / 86400000, naming.2) AS ages,
    value,
    sipHash64(person_id) AS person_key
FROM
(
    SELECT
        any(j.person_id) AS person_id,
        any(j.ended_at) AS ended_at,
        toFloat64(any(j.revenue)) AS value,
        groupArray((t.event_time, toString(t.channel), t.utm_source, t.utm_campaign)) AS touches,
        [
            ('channel', arraySort(arrayMap(x -> (x.1, x.2, x.2), touches))),
            ('channel_source',
                arraySort(arrayMap(x -> (x.1, concat(x.2, ' / ', if(x.3 = '', '(none)', x.3)), x.2), touches))),
            ('channel_campaign',
                arraySort(arrayMap(x -> (x.1, concat(x.2, ' / ', if(x.4 = '', '(none)', x.4)), x.2), touches)))
        ] AS namings
    FROM (SELECT * FROM {database:Identifier}.derived_journeys WHERE run = {run:UInt64}) AS j
    INNER JOIN (SELECT * FROM {database:Identifier}.derived_touchpoints WHERE run = {run:UInt64}) AS t
        ON t.journey_id = j.journey_id
    WHERE t.in_lookback = 1 AND j.converted = 1
    GROUP BY j.journey_id
)
ARRAY JOIN namings AS naming`,

  person_channels: `
SELECT
    person_id,
    argMin(channel, (event_time, event_id)) AS acquisition_channel,
    uniqExact(channel) AS channels_used
FROM {database:Identifier}.derived_touchpoints
WHERE run = {run:UInt64} AND NOT startsWith(person_id, 'event:')
GROUP BY person_id`,

  funnel_events: `
SELECT event_type, event_time, channel, sipHash64(person_id) AS person_key
FROM ${scopeEvents}
WHERE NOT startsWith(person_id, 'event:')`,

  customer_values: `
SELECT
    c.person_id AS person_id,
    c.first_purchase AS first_purchase,
    [
        toFloat64(sumIf(o.gross_revenue, o.placed_at < c.first_purchase + toIntervalDay(30))),
        toFloat64(sumIf(o.gross_revenue, o.placed_at < c.first_purchase + toIntervalDay(90))),
        toFloat64(sumIf(o.gross_revenue, o.placed_at < c.first_purchase + toIntervalDay(180))),
        toFloat64(sumIf(o.gross_revenue, o.placed_at < c.first_purchase + toIntervalDay(365)))
    ] AS gross,
    [
        toFloat64(sumIf(o.revenue, o.placed_at < c.first_purchase + toIntervalDay(30))),
        toFloat64(sumIf(o.revenue, o.placed_at < c.first_purchase + toIntervalDay(90))),
        toFloat64(sumIf(o.revenue, o.placed_at < c.first_purchase + toIntervalDay(180))),
        toFloat64(sumIf(o.revenue, o.placed_at < c.first_purchase + toIntervalDay(365)))
    ] AS net
FROM
(
    SELECT person_id, min(placed_at) AS first_purchase
    FROM {database:Identifier}.derived_orders
    WHERE run = {run:UInt64} AND person_id ${inScope} AND gross_revenue > 0 AND NOT startsWith(person_id, 'event:')
    GROUP BY person_id
) AS c
INNER JOIN (SELECT * FROM {database:Identifier}.derived_orders WHERE run = {run:UInt64} AND person_id ${inScope}) AS o ON o.person_id = c.person_id
GROUP BY c.person_id, c.first_purchase`,
}

export interface DerivedScope {
  /** Every person whose rows are recomputed, including the ids they had before the cycle (a merge, a split). */
  readonly persons: readonly string[]
  /** Combinations without a person (no usable identifier): only their events loaded since `anonymousFrom` count. */
  readonly anonymousCombos: readonly string[]
  readonly anonymousFrom: number
}

export interface DerivedRun {
  readonly persons: number
  readonly events: number
  readonly orders: number
}

/**
 * Recomputes the derived tables for a scope of persons, or for everything. `run` names the cycle's working set
 * (`derived_scope*`, `derived_events`, partitioned by it and dropped at the end).
 */
export async function refreshDerived(store: Store, run: number, scope: DerivedScope | 'all'): Promise<DerivedRun> {
  const settings = writeSettings(store)
  const params = { run }
  const command = (query: string, extra: Record<string, unknown> = {}) =>
    store.client.command({
      query,
      query_params: { database: store.database, ...params, ...extra },
      clickhouse_settings: settings,
    })
  const count = async (query: string) => Number((await queryRows<{ n: number }>(store, query, params))[0]?.n ?? 0)

  if (scope === 'all') {
    await command(`INSERT INTO {database:Identifier}.derived_events
      SELECT {run:UInt64}, if(c.person_id = '', concat('event:', toString(e.event_id)), c.person_id),
             e.event_id, e.event_time, e.channel, e.event_type, e.family, e.source, e.customer_id, e.order_key,
             e.utm_source, e.utm_medium, e.utm_campaign, e.revenue
      FROM {database:Identifier}.events_by_combo AS e FINAL
      LEFT JOIN (SELECT combo, argMax(person_id, version) AS person_id FROM {database:Identifier}.identity_combos
                 GROUP BY combo) AS c ON c.combo = e.identity_combo`)
    await command(`INSERT INTO {database:Identifier}.derived_scope_persons
      SELECT DISTINCT {run:UInt64}, person_id FROM {database:Identifier}.derived_events WHERE run = {run:UInt64}`)
    await command(`INSERT INTO {database:Identifier}.derived_scope_orders
      SELECT DISTINCT {run:UInt64}, order_key FROM {database:Identifier}.order_events`)
  } else {
    await insertRows(
      store,
      'derived_scope_persons',
      ['run', 'person_id'],
      scope.persons.map((person_id) => ({ run, person_id })),
      settings,
    )
    await insertRows(
      store,
      'derived_scope',
      ['run', 'combo', 'person_id'],
      scope.anonymousCombos.map((combo) => ({ run, combo, person_id: '' })),
      settings,
    )
    await command(`INSERT INTO {database:Identifier}.derived_scope
      SELECT {run:UInt64}, combo, person_id FROM {database:Identifier}.person_combos FINAL
      WHERE person_id ${inScope} AND deleted = 0`)
    // The scope's events with their persons; of a combination without a person (each of its events is a person of
    // its own), only the events loaded since anonymousFrom: the earlier ones are counted already.
    await command(
      `INSERT INTO {database:Identifier}.derived_events
      SELECT {run:UInt64}, if(s.person_id = '', concat('event:', toString(e.event_id)), s.person_id),
             e.event_id, e.event_time, e.channel, e.event_type, e.family, e.source, e.customer_id, e.order_key,
             e.utm_source, e.utm_medium, e.utm_campaign, e.revenue
      FROM ${eventsOf('events_by_combo', 'identity_combo', 'identity_combo IN (SELECT combo FROM {database:Identifier}.derived_scope WHERE run = {run:UInt64})')}
          AS e
      INNER JOIN (SELECT combo, person_id FROM {database:Identifier}.derived_scope WHERE run = {run:UInt64}) AS s
          ON s.combo = e.identity_combo
      WHERE s.person_id != '' OR e.loaded_at >= fromUnixTimestamp64Milli({anonymous_from:Int64})`,
      { anonymous_from: Math.trunc(scope.anonymousFrom) },
    )
    await command(`INSERT INTO {database:Identifier}.derived_scope_persons
      SELECT DISTINCT {run:UInt64}, person_id FROM {database:Identifier}.derived_events
      WHERE run = {run:UInt64} AND startsWith(person_id, 'event:')`)
    // Orders named by the scope's events are recomputed from all their events; whoever owns one of those events (a
    // buyer whose return came without identifiers) has journeys that end in them, so joins the scope.
    await command(`INSERT INTO {database:Identifier}.derived_scope_orders
      SELECT DISTINCT {run:UInt64}, order_key FROM {database:Identifier}.derived_events
      WHERE run = {run:UInt64} AND order_key != ''`)
    // Events of those orders that are nobody's are persons of their own whose journey may end in the order.
    await command(`INSERT INTO {database:Identifier}.derived_events
      SELECT {run:UInt64}, person_id, event_id, event_time, channel, event_type, family, source, customer_id,
             order_key, utm_source, utm_medium, utm_campaign, revenue
      FROM
      (
          SELECT concat('event:', toString(o.event_id)) AS person_id, o.*
          FROM ${orderEventsInScope} AS o
          LEFT JOIN ${personsOfCombos(`SELECT identity_combo FROM {database:Identifier}.order_events WHERE order_key ${ordersInScope}`)} AS c
              ON c.combo = o.identity_combo
          WHERE c.person_id = ''
      )
      WHERE person_id NOT ${inScope}`)
    await command(`INSERT INTO {database:Identifier}.derived_scope_persons
      SELECT DISTINCT {run:UInt64}, person_id FROM {database:Identifier}.derived_events
      WHERE run = {run:UInt64} AND startsWith(person_id, 'event:') AND person_id NOT ${inScope}`)
    const owners = `SELECT DISTINCT person_id FROM ${personsOfCombos(
      `SELECT identity_combo FROM {database:Identifier}.order_events WHERE order_key ${ordersInScope}`,
    )} WHERE person_id != '' AND person_id NOT ${inScope}`
    const extra = await queryRows<{ person_id: string }>(store, owners, params)
    if (extra.length > 0) {
      const added = extra.map((row) => row.person_id)
      await insertRows(
        store,
        'derived_scope_persons',
        ['run', 'person_id'],
        added.map((person_id) => ({ run, person_id })),
        settings,
      )
      const addedList = `IN (SELECT arrayJoin({added:Array(String)}))`
      await command(
        `INSERT INTO {database:Identifier}.derived_scope
          SELECT {run:UInt64}, combo, person_id FROM {database:Identifier}.person_combos FINAL
          WHERE person_id ${addedList} AND deleted = 0`,
        { added },
      )
      await command(
        `INSERT INTO {database:Identifier}.derived_events
          SELECT {run:UInt64}, s.person_id, e.event_id, e.event_time, e.channel, e.event_type, e.family, e.source,
                 e.customer_id, e.order_key, e.utm_source, e.utm_medium, e.utm_campaign, e.revenue
          FROM ${eventsOf(
            'events_by_combo',
            'identity_combo',
            `identity_combo IN (SELECT combo FROM {database:Identifier}.derived_scope
                                WHERE run = {run:UInt64} AND person_id ${addedList})`,
          )} AS e
          INNER JOIN (SELECT combo, person_id FROM {database:Identifier}.derived_scope
                      WHERE run = {run:UInt64} AND person_id ${addedList}) AS s ON s.combo = e.identity_combo`,
        { added },
      )
      await command(`INSERT INTO {database:Identifier}.derived_scope_orders
        SELECT DISTINCT {run:UInt64}, order_key FROM {database:Identifier}.derived_events
        WHERE run = {run:UInt64} AND order_key != '' AND order_key NOT ${ordersInScope}`)
    }
  }

  const result: DerivedRun = {
    persons: await count(
      `SELECT count() AS n FROM {database:Identifier}.derived_scope_persons WHERE run = {run:UInt64}`,
    ),
    events: await count(`SELECT count() AS n FROM {database:Identifier}.derived_events WHERE run = {run:UInt64}`),
    orders: await count(`SELECT count() AS n FROM {database:Identifier}.derived_scope_orders WHERE run = {run:UInt64}`),
  }
  for (const table of derivedTables) {
    const working = workingTables[table]
    if (working !== undefined) {
      await command(
        `INSERT INTO {database:Identifier}.${working} SELECT {run:UInt64} AS run, * FROM (${insertSelect[table]})`,
      )
    }
    if (scope === 'all') await command(`TRUNCATE TABLE IF EXISTS ${localTable(store, table)}`)
    else {
      await command(
        `DELETE FROM ${localTable(store, table)} WHERE ${deleteWhere[table]}
         SETTINGS lightweight_delete_mode = 'lightweight_update'`,
      )
    }
    await command(
      `INSERT INTO {database:Identifier}.${table} ${
        working === undefined
          ? insertSelect[table]
          : `SELECT * EXCEPT run FROM {database:Identifier}.${working} WHERE run = {run:UInt64}`
      }`,
    )
  }
  for (const table of [
    'derived_scope',
    'derived_scope_persons',
    'derived_scope_orders',
    'derived_events',
    ...Object.values(workingTables),
  ]) {
    await command(`ALTER TABLE ${localTable(store, table)} DROP PARTITION {run:UInt64}`)
  }
  return result
}

/** A table's own storage: the table itself, or in cluster mode its `_local` tables on every node. */
function localTable(store: Store, table: string): string {
  const database = quoteIdentifier(store.database)
  return store.cluster === undefined
    ? `${database}.${table}`
    : `${database}.${table}_local ON CLUSTER ${quoteIdentifier(store.cluster)}`
}
