-- Events and distinct resolved persons per channel in a time range [from, to). touchpoints_resolved reads touchpoints
-- with FINAL (re-delivered events once) and gives each event the person it resolves to; events nobody can be named
-- for (no usable identifier, or not yet resolved: the resolver runs every OMNISTITCH_IDENTITY_INTERVAL_SECONDS) count
-- as events but not as persons.
-- Parameters: database (Identifier), from and to (DateTime64(3), UTC).
SELECT
    channel,
    count() AS events,
    uniqExactIf(person_id, NOT startsWith(person_id, 'event:')) AS persons
FROM {database:Identifier}.touchpoints_resolved
WHERE event_time >= {from:DateTime64(3)}
  AND event_time < {to:DateTime64(3)}
GROUP BY channel
ORDER BY events DESC, channel ASC
