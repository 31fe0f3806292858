-- The person an identifier (kind:value, e-mails and phones as their hashes) belongs to now, or no row.
-- Parameters: database (Identifier), identifier (String).
SELECT argMax(person_id, version) AS person_id
FROM {database:Identifier}.identity_map
WHERE identifier = {identifier:String}
GROUP BY identifier
HAVING person_id != ''
