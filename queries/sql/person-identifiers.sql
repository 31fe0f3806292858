-- Every identifier of a person now, with its kind and status (linked, single, quarantined, split): of the identifiers
-- ever mapped to the person, those whose newest mapping still is.
-- Parameters: database (Identifier), person_id (String).
SELECT identifier, kind, status
FROM
(
    SELECT identifier, argMax(kind, version) AS kind, argMax(person_id, version) AS person_id,
           argMax(status, version) AS status
    FROM {database:Identifier}.identity_map
    WHERE identifier IN (SELECT identifier FROM {database:Identifier}.identity_map WHERE person_id = {person_id:String})
    GROUP BY identifier
)
WHERE person_id = {person_id:String}
ORDER BY kind, identifier
