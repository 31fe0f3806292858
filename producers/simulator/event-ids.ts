/**
 * Ids of simulated events, unique by construction (issue 18). They were once four draws of the event's random stream,
 * but a stream is mulberry32, whose whole state is 32 bits: the four draws, and so the id, were fixed by one 32-bit
 * state, leaving 2^32 possible ids: a run of 68,000 events repeats one with probability about 1 - e^-0.54 (the birthday
 * bound, 68,000^2 / 2^33), and 40 seeds of 1,000 customers over 180 days repeated 18. Now the id is the run's seed, the
 * customer's index and the event's number among that customer's events, passed through an invertible mix: different
 * triples cannot give the same id, and the ids still look random, as real ones do.
 */

/** Where a simulated event id comes from. */
export interface SimulatedEvent {
  /** The run's seed modulo 2^32, as an unsigned integer. */
  readonly seed: number
  readonly customer: number
  /** The event's number among its customer's events, from 0. */
  readonly event: number
}

/** The murmur3 finaliser: a bijection on 32-bit integers that spreads every input bit over the output. */
function fmix32(value: number): number {
  let h = value ^ (value >>> 16)
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  return (h ^ (h >>> 16)) >>> 0
}

/** One word's share of the mix: any function of the other two words will do, since it is added, not folded in. */
function mixOf(x: number, y: number, key: number): number {
  return fmix32((x + Math.imul(y, 0x9e3779b9) + key) | 0)
}

const keys = [0x6a09e667, 0xbb67ae85, 0x3c6ef372] as const
const rounds = 2

const hex8 = (word: number) => (word >>> 0).toString(16).padStart(8, '0')

/** The 26 bits beside the 96 of the triple (two in the variant's digit, 24 at the end), filled from the mixed words. */
function fillOf(a: number, b: number, c: number): number {
  return fmix32(a ^ b ^ c)
}

/**
 * The id of the `event`-th event (0, 1, 2 …) of customer `customer` in the run of `seed`, as an RFC 9562 UUID of
 * version 8 (an application's own layout, since the bits are derived rather than random). `customer` and `event` must
 * be integers in [0, 2^32); the seed counts modulo 2^32, as it does for the random streams. Deterministic.
 *
 * Why it is unique: each step of the mix adds to one 32-bit word a function of the other two, which can be subtracted
 * again (`simulatedEventOf` does), so the mix is a bijection on the 96 bits of (seed, customer, event), and all 96
 * bits go into the UUID unchanged.
 */
export function simulatedEventId(seed: number, customer: number, event: number): string {
  if (customer >>> 0 !== customer || event >>> 0 !== event) {
    throw new RangeError(`simulatedEventId: customer ${customer} and event ${event} must be integers in [0, 2^32)`)
  }
  let a = seed | 0
  let b = customer | 0
  let c = event | 0
  for (let round = 0; round < rounds; round += 1) {
    a = (a + mixOf(b, c, keys[0])) | 0
    b = (b + mixOf(c, a, keys[1])) | 0
    c = (c + mixOf(a, b, keys[2])) | 0
  }
  const x = hex8(a)
  const y = hex8(b)
  const z = hex8(c)
  const fill = fillOf(a, b, c)
  // 8-4-4-4-12 hex digits: x, y and z in order (24 digits), the version 8, the variant 10xx with two bits of fill, and
  // six digits of fill.
  const variant = (8 | (fill & 3)).toString(16)
  return `${x}-${y.slice(0, 4)}-8${y.slice(4, 7)}-${variant}${y.slice(7)}${z.slice(0, 2)}-${z.slice(2)}${hex8(fill).slice(0, 6)}`
}

const idPattern = /^([0-9a-f]{8})-([0-9a-f]{4})-8([0-9a-f]{3})-([89ab])([0-9a-f]{3})-([0-9a-f]{6})([0-9a-f]{6})$/

/**
 * The seed, customer and event number a simulated event id was made from, or undefined for an id `simulatedEventId`
 * did not make (its fill bits disagree; one id in 2^26 made elsewhere would pass by chance).
 */
export function simulatedEventOf(id: string): SimulatedEvent | undefined {
  const parts = idPattern.exec(id)
  if (parts === null) return undefined
  const [, x = '', y1 = '', y2 = '', variant = '', yz = '', z2 = '', fillDigits = ''] = parts
  let a = parseInt(x, 16) | 0
  let b = parseInt(`${y1}${y2}${yz.slice(0, 1)}`, 16) | 0
  let c = parseInt(`${yz.slice(1)}${z2}`, 16) | 0
  const fill = fillOf(a, b, c)
  if ((fill & 3) !== (parseInt(variant, 16) & 3) || hex8(fill).slice(0, 6) !== fillDigits) return undefined
  for (let round = 0; round < rounds; round += 1) {
    c = (c - mixOf(a, b, keys[2])) | 0
    b = (b - mixOf(c, a, keys[1])) | 0
    a = (a - mixOf(b, c, keys[0])) | 0
  }
  return { seed: a >>> 0, customer: b >>> 0, event: c >>> 0 }
}
