-- attribution-markov-days.sql for a range of whole UTC days, from the daily aggregate journey_path_days: the
-- transitions of the Markov chain of order `order` (1 to 3) over the journeys that ended in [from, to), counted in the
-- engine so that the paths never leave it; queries/models/attribution.ts solves the chain (markovChainOf, tested equal
-- to the chain built from the paths). A state is the last `order` steps seen (fewer at the start of a path); the
-- start state is the empty one. A row with a non-empty to_state counts the journeys that stepped from from_state to
-- it; a row with an empty to_state counts how many journeys ended in from_state converted (conversions) and how many
-- did not (nulls). Paths keep only the steps in channels (when not empty), with repeats in a row collapsed when
-- collapse_repeats is 1, as in attribution-credits-days.sql. from and to must be UTC midnights.
-- Parameters: database (Identifier), from and to (DateTime64(3), UTC), group_by (String), channels (Array(String)),
-- collapse_repeats (UInt8), order (UInt8).
SELECT
    arrayFilter(step -> step != '', [step_3, step_2, step_1]) AS from_state,
    if(step_0 = '', [], arrayFilter(step -> step != '', arraySlice([step_2, step_1, step_0], 4 - {order:UInt8})))
        AS to_state,
    sumIf(path_conversions + path_nulls, step_0 != '') AS journeys,
    sumIf(path_conversions, step_0 = '') AS conversions,
    sumIf(path_nulls, step_0 = '') AS nulls
FROM
(
    -- The path with an empty step appended for its end, and three copies shifted by one, two and three steps: the
    -- steps before each (a lambda reading p[i - 1] would copy the array for every step).
    SELECT
        arrayPushBack(p, '') AS ahead,
        arrayPushFront(arrayPopBack(ahead), '') AS behind_1,
        arrayPushFront(arrayPopBack(behind_1), '') AS behind_2,
        arrayPushFront(arrayPopBack(behind_2), '') AS behind_3,
        path_conversions,
        path_nulls
    FROM
    (
        SELECT
            if(empty({channels:Array(String)}), path,
                arrayFilter((step, channel) -> has({channels:Array(String)}, channel), path, path_channels)) AS kept,
            if({collapse_repeats:UInt8} = 1, arrayCompact(kept), kept) AS p,
            conversions AS path_conversions,
            nulls AS path_nulls
        FROM {database:Identifier}.journey_path_days
        WHERE group_by = {group_by:String}
          AND day >= toDate({from:DateTime64(3)})
          AND day < toDate({to:DateTime64(3)})
    )
    WHERE notEmpty(p)
)
ARRAY JOIN ahead AS step, behind_1 AS back_1, behind_2 AS back_2, behind_3 AS back_3
-- Grouped by the steps (strings hash faster than arrays of them), those beyond the order left out.
GROUP BY
    if({order:UInt8} >= 3, back_3, '') AS step_3,
    if({order:UInt8} >= 2, back_2, '') AS step_2,
    back_1 AS step_1,
    step AS step_0
