import crypto from 'node:crypto'

/**
 * Lookups in maps whose keys come from configuration and whose lookup names come from requests. A plain object also
 * answers to the names of `Object.prototype` (`toString`, `constructor`, `__proto__`, ...), so `keys[name]` lets a
 * request that says `Bearer toString` in: these read own entries only.
 */

/** The value of an own entry of `record`, or undefined: never an inherited property. */
export function ownValue<T>(record: Readonly<Record<string, T>>, name: string): T | undefined {
  return Object.hasOwn(record, name) ? record[name] : undefined
}

/**
 * What a presented secret (a write key, an API key) stands for: the value of the own entry whose key equals it,
 * compared in constant time against every key so the answer's timing does not tell how much of a key was right.
 */
export function valueOfSecret<T>(keys: Readonly<Record<string, T>>, presented: string): T | undefined {
  const given = Buffer.from(presented)
  let found: T | undefined
  for (const [known, value] of Object.entries(keys)) {
    const candidate = Buffer.from(known)
    if (candidate.length === given.length && crypto.timingSafeEqual(candidate, given)) found = value
  }
  return found
}
