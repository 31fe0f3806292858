/**
 * Seeded random numbers for the simulator. Every customer draws from its own streams, seeded from (run seed,
 * customer, purpose), so a customer's behaviour does not depend on how many numbers other customers or other purposes
 * used. That is what makes counterfactual runs comparable: switching a channel off changes that channel's draws only.
 */
export type Random = () => number

/** mulberry32: small, fast, good enough for simulation (not for secrets). */
export function mulberry32(seed: number): Random {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Mixes integers into one 32-bit seed (the murmur3 finaliser over each part). */
export function mixSeed(...parts: number[]): number {
  let h = 0x9e3779b9
  for (const part of parts) {
    let k = Math.imul(part | 0, 0xcc9e2d51)
    k = (k << 15) | (k >>> 17)
    h ^= Math.imul(k, 0x1b873593)
    h = (h << 13) | (h >>> 19)
    h = (Math.imul(h, 5) + 0xe6546b64) | 0
  }
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  return (h ^ (h >>> 16)) >>> 0
}

/** A stream for one purpose of one customer. */
export function stream(seed: number, customer: number, purpose: number): Random {
  return mulberry32(mixSeed(seed, customer, purpose))
}

export function exponential(random: Random, rate: number): number {
  return -Math.log(1 - random()) / rate
}

function standardNormal(random: Random): number {
  const u = 1 - random()
  const v = random()
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v)
}

/** Gamma(shape, rate) by Marsaglia and Tsang. */
export function gamma(random: Random, shape: number, rate: number): number {
  if (shape < 1) return gamma(random, shape + 1, rate) * Math.pow(random(), 1 / shape)
  const d = shape - 1 / 3
  const c = 1 / Math.sqrt(9 * d)
  for (;;) {
    let x: number
    let v: number
    do {
      x = standardNormal(random)
      v = 1 + c * x
    } while (v <= 0)
    v = v * v * v
    const u = random()
    if (u < 1 - 0.0331 * x ** 4 || Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return (d * v) / rate
  }
}

export function beta(random: Random, a: number, b: number): number {
  const x = gamma(random, a, 1)
  return x / (x + gamma(random, b, 1))
}

export function pick<T>(random: Random, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)] as T
}

/** Picks by weight; weights need not sum to 1. */
export function weighted<T>(random: Random, entries: readonly (readonly [T, number])[]): T {
  const total = entries.reduce((sum, [, weight]) => sum + weight, 0)
  let roll = random() * total
  for (const [value, weight] of entries) {
    roll -= weight
    if (roll < 0) return value
  }
  return (entries[entries.length - 1] as readonly [T, number])[0]
}

/** Eight hex digits from one draw. */
function hex8(random: Random): string {
  return Math.floor(random() * 4294967296)
    .toString(16)
    .padStart(8, '0')
}

/**
 * `length` hex digits from the stream. A stream's whole state is 32 bits, so however long the string, it is one of
 * 2^32 per position of the stream: fine for cookies and receipt numbers, which may repeat as real ones do, but not for
 * ids that must be unique (event ids come from event-ids.ts).
 */
export function hex(random: Random, length: number): string {
  let out = ''
  while (out.length < length) out += hex8(random)
  return out.slice(0, length)
}
