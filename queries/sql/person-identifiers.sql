-- Every identifier of a person now, with its kind and status (linked, single, quarantined, split).
-- Parameters: database (Identifier), person_id (String).
SELECT identifier, kind, status
FROM
(
    SELECT identifier, argMax(kind, version) AS kind, argMax(person_id, version) AS person_id,
           argMax(status, version) AS status
    FROM {database:Identifier}.identity_map
    GROUP BY identifier
)
WHERE person_id = {person_id:String}
ORDER BY kind, identifier
