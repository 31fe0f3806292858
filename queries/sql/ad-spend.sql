-- Advertising spend per channel on the days of [from, to). FINAL: a corrected daily figure replaces the earlier one.
-- Parameters: database (Identifier), from and to (DateTime64(3), UTC).
SELECT
    channel,
    toFloat64(sum(spend)) AS spend
FROM {database:Identifier}.ad_costs FINAL
WHERE date >= toDate({from:DateTime64(3)})
  AND date < toDate({to:DateTime64(3)})
GROUP BY channel
ORDER BY channel
