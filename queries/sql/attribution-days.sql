-- attribution-days.sql for a range of whole UTC days, from the daily aggregate journey_path_days: what the attribution
-- models of queries/models/attribution.ts need, summed in the engine in one pass over the paths of the journeys that
-- ended in [from, to), so that the paths never leave it (tested equal to the models run on the paths).
-- A row is a transition of the Markov chain of order `order` (1 to 3): a state is the last `order` steps seen (fewer
-- at the start of a path), the start state the empty one. With a non-empty to_state the row counts the journeys that
-- stepped from from_state to it (journeys), and credits the step entered (step) under each model: first touch, last
-- touch, last non-direct (the last step not in direct, or the first when every later one is), linear, position-based
-- (first/middle/last shares; with two steps the middle share goes to the ends in proportion to theirs) and Shapley
-- over channel sets (each channel of a journey's set gets 1/|set|), conversions and value each; with ordered = 1 the
-- rows are also split by the position (1 = the first step) of the step entered and carry ordered Shapley's credit
-- (the channel's 1/|set| split evenly over the positions it holds); otherwise position is 0 and those columns are
-- not read. With an empty to_state it counts how the journeys that ended in from_state ended: conversions, value,
-- nulls (not converted); their sums are the totals. A path keeps only the steps in channels (when not empty), with
-- repeats in a row collapsed when collapse_repeats is 1; a journey left with no step is not counted. from and to must
-- be UTC midnights.
-- Parameters: database (Identifier), from and to (DateTime64(3), UTC), group_by (String), channels (Array(String)),
-- collapse_repeats (UInt8), order (UInt8), direct (Array(String)), first, middle and last (Float64, adding up to 1),
-- ordered (UInt8).
WITH
    -- The position-based share of the step at `at` of a path of n steps.
    multiIf(n = 1, 1,
        n = 2, if(at = 1, {first:Float64}, {last:Float64}) / ({first:Float64} + {last:Float64}),
        at = 1, {first:Float64},
        at = n, {last:Float64},
        {middle:Float64} / (n - 2)) AS position_weight
SELECT
    arrayFilter(step -> step != '', [step_3, step_2, step_1]) AS from_state,
    if(step_0 = '', [], arrayFilter(step -> step != '', arraySlice([step_2, step_1, step_0], 4 - {order:UInt8})))
        AS to_state,
    step_0 AS step,
    position,
    sumIf(path_conversions + path_nulls, step_0 != '') AS journeys,
    sumIf(path_conversions, step_0 = '') AS conversions,
    sumIf(path_value, step_0 = '') AS value,
    sumIf(path_nulls, step_0 = '') AS nulls,
    sumIf(path_conversions, at = 1 AND at <= n) AS first_touch_conversions,
    sumIf(path_value, at = 1 AND at <= n) AS first_touch_value,
    sumIf(path_conversions, at = n) AS last_touch_conversions,
    sumIf(path_value, at = n) AS last_touch_value,
    sumIf(path_conversions, at = last_non_direct) AS last_non_direct_conversions,
    sumIf(path_value, at = last_non_direct) AS last_non_direct_value,
    sumIf(path_conversions / n, at <= n) AS linear_conversions,
    sumIf(path_value / n, at <= n) AS linear_value,
    sumIf(path_conversions * position_weight, at <= n) AS position_based_conversions,
    sumIf(path_value * position_weight, at <= n) AS position_based_value,
    sumIf(path_conversions / size, at <= n AND occurrence = 1) AS shapley_conversions,
    sumIf(path_value / size, at <= n AND occurrence = 1) AS shapley_value,
    sumIf(path_conversions / size / (occurrence + after - 1), at <= n) AS shapley_ordered_conversions,
    sumIf(path_value / size / (occurrence + after - 1), at <= n) AS shapley_ordered_value
FROM
(
    -- The path with an empty step appended for its end, and three copies shifted by one, two and three steps: the
    -- steps before each (a lambda reading p[i - 1] would copy the array for every step).
    SELECT
        arrayPushBack(p, '') AS ahead,
        arrayPushFront(arrayPopBack(ahead), '') AS behind_1,
        arrayPushFront(arrayPopBack(behind_1), '') AS behind_2,
        arrayPushFront(arrayPopBack(behind_2), '') AS behind_3,
        length(p) AS n,
        length(arrayDistinct(p)) AS size,
        arrayLastIndex((step, i) -> i = 1 OR NOT has({direct:Array(String)}, step), p, arrayEnumerate(p))
            AS last_non_direct,
        path_conversions,
        path_value,
        path_nulls
    FROM
    (
        -- One row per distinct path first (the table has one per person and day): the steps below are done per path.
        SELECT p, sum(conversions) AS path_conversions, toFloat64(sum(value)) AS path_value, sum(nulls) AS path_nulls
        FROM
        (
            SELECT
                if(empty({channels:Array(String)}), path,
                    arrayFilter((step, channel) -> has({channels:Array(String)}, channel), path, path_channels))
                    AS kept,
                if({collapse_repeats:UInt8} = 1, arrayCompact(kept), kept) AS p,
                conversions,
                value,
                nulls
            FROM {database:Identifier}.journey_path_days
            WHERE group_by = {group_by:String}
              AND day >= toDate({from:DateTime64(3)})
              AND day < toDate({to:DateTime64(3)})
        )
        GROUP BY p
    )
    WHERE notEmpty(p)
)
ARRAY JOIN
    ahead AS step,
    behind_1 AS back_1,
    behind_2 AS back_2,
    behind_3 AS back_3,
    arrayEnumerate(ahead) AS at,
    -- 1 where a step occurs for the first time in its path: Shapley credits each channel of the set once.
    arrayEnumerateUniq(ahead) AS occurrence,
    -- How often the step occurs in its path is its occurrences up to it plus those after it, counted from the end.
    if({ordered:UInt8} = 1, arrayReverse(arrayEnumerateUniq(arrayReverse(ahead))), arrayEnumerateUniq(ahead)) AS after
GROUP BY
    if({order:UInt8} >= 3, back_3, '') AS step_3,
    if({order:UInt8} >= 2, back_2, '') AS step_2,
    back_1 AS step_1,
    step AS step_0,
    if({ordered:UInt8} = 1, at, 0) AS position
