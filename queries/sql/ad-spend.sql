-- Advertising spend on the days of [from, to), per channel, or per channel and source or campaign (group_by as in
-- attribution-paths.sql, so that spend meets the credit of the same path step). FINAL: a corrected daily figure
-- replaces the earlier one.
-- Parameters: database (Identifier), from and to (DateTime64(3), UTC), group_by (String).
SELECT
    multiIf(
        {group_by:String} = 'channel_source', concat(channel, ' / ', if(source = '', '(none)', source)),
        {group_by:String} = 'channel_campaign', concat(channel, ' / ', if(campaign = '', '(none)', campaign)),
        toString(channel)) AS channel,
    toFloat64(sum(spend)) AS spend
FROM {database:Identifier}.ad_costs FINAL
WHERE date >= toDate({from:DateTime64(3)})
  AND date < toDate({to:DateTime64(3)})
GROUP BY channel
ORDER BY channel
