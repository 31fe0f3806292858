import { OmnistitchError } from '../../runtime/errors.ts'
import type { PathCount } from './paths.ts'

/** The attribution models, by the names the CLI and the API take. */
export const attributionModels = [
  'first_touch',
  'last_touch',
  'last_non_direct',
  'linear',
  'time_decay',
  'position_based',
  'markov',
  'shapley',
  'shapley_ordered',
] as const
export type AttributionModel = (typeof attributionModels)[number]

export interface AttributionOptions {
  /** Markov: how many past channels a state remembers, 1 to 3 (default 1). */
  readonly order?: number
  /** Time decay: the age at which a touch's weight halves, in days, or in steps for paths without ages (default 7). */
  readonly halfLife?: number
  /** Position-based: the shares of the first touch, the touches between, and the last touch (default 0.4/0.2/0.4). */
  readonly positionWeights?: readonly [first: number, middle: number, last: number]
  /** Last non-direct: the channels that count as direct (default `direct`). */
  readonly directChannels?: readonly string[]
  /** Collapse repeated touches of one channel in a row into one (default false: repeats kept). */
  readonly collapseRepeats?: boolean
}

/** What a model credits a channel with: a share of the conversions and of their value. */
export interface ChannelCredit {
  readonly channel: string
  readonly conversions: number
  readonly value: number
  /** Ordered Shapley: the channel's credit by the position (1-based touch number) it had in the journeys. */
  readonly positions?: readonly { readonly position: number; readonly conversions: number; readonly value: number }[]
}

export interface AttributionResult {
  readonly model: AttributionModel
  /** Channels by credited conversions, most first; credits add up to the paths' conversions and value. */
  readonly channels: ChannelCredit[]
  /** Markov: the probability of converting from the start, and each channel's removal effect. */
  readonly markov?: {
    readonly order: number
    readonly conversionProbability: number
    readonly states: number
    readonly removalEffects: Readonly<Record<string, number>>
  }
}

function invalidOption(message: string): OmnistitchError {
  return new OmnistitchError('OMNI_ERR_PATHS_INVALID', message)
}

/** Repeated touches of one channel in a row as one touch (the ages of the kept touches stay theirs). */
export function collapseRepeats(path: PathCount): PathCount {
  const channels: string[] = []
  const ages: number[] = []
  path.channels.forEach((channel, index) => {
    if (channels[channels.length - 1] === channel) {
      // The later touch of a run is the one nearer the conversion.
      if (path.ages !== undefined) ages[ages.length - 1] = path.ages[index] ?? 0
      return
    }
    channels.push(channel)
    if (path.ages !== undefined) ages.push(path.ages[index] ?? 0)
  })
  return path.ages === undefined ? { ...path, channels } : { ...path, channels, ages }
}

/** Adds `weight` (a share of one path's conversions, summing to 1 over the path) per channel. */
type Weights = Map<string, number>

function add(weights: Weights, channel: string, weight: number): void {
  weights.set(channel, (weights.get(channel) ?? 0) + weight)
}

/** The share of one converting path that each heuristic model gives each channel. */
function heuristicWeights(model: AttributionModel, path: PathCount, options: AttributionOptions): Weights {
  const weights: Weights = new Map()
  const { channels } = path
  const last = channels.length - 1
  switch (model) {
    case 'first_touch':
      add(weights, channels[0] as string, 1)
      break
    case 'last_touch':
      add(weights, channels[last] as string, 1)
      break
    case 'last_non_direct': {
      const direct = new Set(options.directChannels ?? ['direct'])
      let at = last
      while (at > 0 && direct.has(channels[at] as string)) at -= 1
      add(weights, channels[at] as string, 1)
      break
    }
    case 'linear':
      for (const channel of channels) add(weights, channel, 1 / channels.length)
      break
    case 'time_decay': {
      const halfLife = options.halfLife ?? 7
      const ages = path.ages ?? channels.map((_, index) => last - index)
      const raw = ages.map((age) => 2 ** (-age / halfLife))
      const total = raw.reduce((sum, weight) => sum + weight, 0)
      channels.forEach((channel, index) => add(weights, channel, (raw[index] as number) / total))
      break
    }
    case 'position_based': {
      const [first, middle, lastShare] = options.positionWeights ?? [0.4, 0.2, 0.4]
      if (channels.length === 1) add(weights, channels[0] as string, 1)
      else if (channels.length === 2) {
        // No touches between: the middle share goes to the ends in proportion to theirs.
        add(weights, channels[0] as string, first / (first + lastShare))
        add(weights, channels[1] as string, lastShare / (first + lastShare))
      } else {
        add(weights, channels[0] as string, first)
        add(weights, channels[last] as string, lastShare)
        for (let index = 1; index < last; index++) add(weights, channels[index] as string, middle / (last - 1))
      }
      break
    }
    default:
      throw new Error(`${model} is not a heuristic model`)
  }
  return weights
}

/** Credits from per-path weights: each converting path's conversions and value split by its weights. */
function creditByPath(paths: readonly PathCount[], weightsOf: (path: PathCount) => Weights): ChannelCredit[] {
  const conversions = new Map<string, number>()
  const value = new Map<string, number>()
  for (const path of paths) {
    if (path.conversions <= 0 && path.value <= 0) continue
    for (const [channel, weight] of weightsOf(path)) {
      conversions.set(channel, (conversions.get(channel) ?? 0) + weight * path.conversions)
      value.set(channel, (value.get(channel) ?? 0) + weight * path.value)
    }
  }
  return credited([...conversions].map(([channel, n]) => ({ channel, conversions: n, value: value.get(channel) ?? 0 })))
}

/**
 * Credits as results list them: only channels with some credit (a weight of 0, such as a middle share of 0 in
 * position-based, lists none), most conversions first, then most value, then by name.
 */
export function credited(credits: ChannelCredit[]): ChannelCredit[] {
  return credits
    .filter((credit) => credit.conversions > 0 || credit.value > 0)
    .sort((a, b) => b.conversions - a.conversions || b.value - a.value || a.channel.localeCompare(b.channel))
}

/**
 * Shapley values over channel sets (Zhao et al. 2018, "Shapley Value Methods for Attribution Modeling in Online
 * Advertising"): a coalition of channels is worth the conversions of the journeys whose set of channels lies inside
 * it. That game is a sum of unanimity games, one per distinct channel set T weighted by its conversions, and the
 * Shapley value of a unanimity game gives each member of T 1/|T|. So the exact Shapley value of a channel is the sum,
 * over the channel sets it belongs to, of their conversions divided by their size: exact for any number of channels,
 * with no enumeration of coalitions and no sampling. (Tested against enumeration of every coalition.)
 */
function shapley(paths: readonly PathCount[]): ChannelCredit[] {
  return creditByPath(paths, (path) => {
    const members = [...new Set(path.channels)]
    return new Map(members.map((channel) => [channel, 1 / members.length]))
  })
}

/**
 * The ordered variant (after Zhao et al. 2018, section on ordered Shapley values): the same credit per channel as
 * `shapley`, broken down by where in the journey the channel stood. In each journey a channel's share (1/|T| of its
 * conversions and value) is split evenly over the touch positions the channel occupies (1 = the first touch).
 */
function shapleyOrdered(paths: readonly PathCount[]): ChannelCredit[] {
  const byPosition = new Map<string, Map<number, { conversions: number; value: number }>>()
  for (const path of paths) {
    if (path.conversions <= 0 && path.value <= 0) continue
    const members = [...new Set(path.channels)]
    for (const channel of members) {
      const positions = path.channels.flatMap((touched, index) => (touched === channel ? [index + 1] : []))
      const weight = 1 / members.length / positions.length
      const credit = byPosition.get(channel) ?? new Map<number, { conversions: number; value: number }>()
      byPosition.set(channel, credit)
      for (const position of positions) {
        const entry = credit.get(position) ?? { conversions: 0, value: 0 }
        entry.conversions += weight * path.conversions
        entry.value += weight * path.value
        credit.set(position, entry)
      }
    }
  }
  return credited(
    [...byPosition].map(([channel, credit]) => {
      const positions = [...credit].sort(([a], [b]) => a - b).map(([position, entry]) => ({ position, ...entry }))
      return {
        channel,
        conversions: positions.reduce((sum, entry) => sum + entry.conversions, 0),
        value: positions.reduce((sum, entry) => sum + entry.value, 0),
        positions,
      }
    }),
  )
}

/** Solves `a x = b` in place by Gaussian elimination with partial pivoting; `a` is n×n, row-major. */
export function solveLinear(a: Float64Array, b: Float64Array, n: number): Float64Array {
  for (let column = 0; column < n; column++) {
    let pivot = column
    for (let row = column + 1; row < n; row++) {
      if (Math.abs(a[row * n + column] as number) > Math.abs(a[pivot * n + column] as number)) pivot = row
    }
    if (Math.abs(a[pivot * n + column] as number) < 1e-300) throw new Error('singular system')
    if (pivot !== column) {
      for (let k = 0; k < n; k++) {
        const t = a[column * n + k] as number
        a[column * n + k] = a[pivot * n + k] as number
        a[pivot * n + k] = t
      }
      const t = b[column] as number
      b[column] = b[pivot] as number
      b[pivot] = t
    }
    const diagonal = a[column * n + column] as number
    for (let row = column + 1; row < n; row++) {
      const factor = (a[row * n + column] as number) / diagonal
      if (factor === 0) continue
      for (let k = column; k < n; k++)
        a[row * n + k] = (a[row * n + k] as number) - factor * (a[column * n + k] as number)
      b[row] = (b[row] as number) - factor * (b[column] as number)
    }
  }
  const x = new Float64Array(n)
  for (let row = n - 1; row >= 0; row--) {
    let sum = b[row] as number
    for (let k = row + 1; k < n; k++) sum -= (a[row * n + k] as number) * (x[k] as number)
    x[row] = sum / (a[row * n + row] as number)
  }
  return x
}

/** The transitions of a Markov chain of order k over paths: state names are the last k channels joined. */
export interface MarkovChain {
  /** Transient states (the start state first), each with the channels it remembers. */
  readonly states: readonly { readonly name: string; readonly channels: readonly string[] }[]
  /** Weighted transition counts: from state index to state index, or to 'conversion' / 'null'. */
  readonly transitions: ReadonlyMap<number, ReadonlyMap<number | 'conversion' | 'null', number>>
}

const startState = '(start)'

/** Adds `weight` journeys to the transition from → to of `counts` (none for no journeys). */
function countTransition(
  counts: Map<number, Map<number | 'conversion' | 'null', number>>,
  from: number,
  to: number | 'conversion' | 'null',
  weight: number,
): void {
  if (weight <= 0) return
  let row = counts.get(from)
  if (row === undefined) {
    row = new Map<number | 'conversion' | 'null', number>()
    counts.set(from, row)
  }
  row.set(to, (row.get(to) ?? 0) + weight)
}

/**
 * Builds the chain of order `order` (1-3): (start) → the states of the path → conversion (weighted by the path's
 * conversions) or null (weighted by its journeys that did not convert). A state is the last `order` channels seen.
 */
export function buildMarkovChain(paths: readonly PathCount[], order: number): MarkovChain {
  const states: { name: string; channels: string[] }[] = [{ name: startState, channels: [] }]
  const transitions = new Map<number, Map<number | 'conversion' | 'null', number>>()
  // A state is keyed by a number, not by its name: its last `order` channels as digits in base 1024 (a channel's
  // number starts at 1, so a window shorter than `order` at the start of a path keys differently from any full one).
  const channelNumber = new Map<string, number>()
  const stateByKey = new Map<number, number>()
  const base = 1024
  const modulus = base ** order
  const numberOf = (channel: string): number => {
    let number = channelNumber.get(channel)
    if (number === undefined) {
      number = channelNumber.size + 1
      if (number >= base) throw invalidOption(`markov: more than ${base - 1} distinct steps`)
      channelNumber.set(channel, number)
    }
    return number
  }
  const stateOf = (key: number, channels: readonly string[], at: number): number => {
    let state = stateByKey.get(key)
    if (state === undefined) {
      state = states.length
      const window = channels.slice(Math.max(0, at - order + 1), at + 1)
      stateByKey.set(key, state)
      states.push({ name: window.join(' > '), channels: window })
    }
    return state
  }
  const count = (from: number, to: number | 'conversion' | 'null', weight: number) =>
    countTransition(transitions, from, to, weight)
  for (const path of paths) {
    const journeys = path.conversions + path.nulls
    if (journeys <= 0) continue
    let from = 0
    let key = 0
    path.channels.forEach((channel, at) => {
      key = (key * base + numberOf(channel)) % modulus
      const to = stateOf(key, path.channels, at)
      count(from, to, journeys)
      from = to
    })
    if (path.conversions > 0) count(from, 'conversion', path.conversions)
    if (path.nulls > 0) count(from, 'null', path.nulls)
  }
  return { states, transitions }
}

/**
 * The probability of reaching conversion from the start, solved exactly as an absorbing chain: with Q the
 * transitions between transient states and r the transitions into conversion, x = (I - Q)⁻¹ r, and the answer is
 * x[start]. States in `removed` lead to null instead (the removal effect's counterfactual).
 */
export function conversionProbability(chain: MarkovChain, removed: ReadonlySet<number> = new Set()): number {
  const n = chain.states.length
  const a = new Float64Array(n * n)
  const b = new Float64Array(n)
  for (let from = 0; from < n; from++) {
    a[from * n + from] = 1
    if (removed.has(from)) continue // absorbs into null: x = 0
    const row = chain.transitions.get(from)
    if (row === undefined) continue
    let total = 0
    for (const weight of row.values()) total += weight
    for (const [to, weight] of row) {
      const p = weight / total
      if (to === 'conversion') b[from] = (b[from] as number) + p
      else if (to !== 'null' && !removed.has(to)) a[from * n + to] = (a[from * n + to] as number) - p
    }
  }
  return solveLinear(a, b, n)[0] as number
}

/** One transition of a Markov chain counted elsewhere (in the engine: queries/sql/attribution-markov-days.sql). */
export interface MarkovTransition {
  /** The state left: the last steps seen, oldest first; empty for the start. */
  readonly from: readonly string[]
  /** The state entered; empty when the row counts how journeys ended in `from`. */
  readonly to: readonly string[]
  /** Journeys that stepped from `from` to `to`. */
  readonly journeys: number
  /** Journeys that ended in `from` and converted (when `to` is empty). */
  readonly conversions: number
  /** Journeys that ended in `from` without converting (when `to` is empty). */
  readonly nulls: number
}

/** The chain of counted transitions: the same chain `buildMarkovChain` makes of the paths they were counted from. */
export function markovChainOf(transitions: Iterable<MarkovTransition>): MarkovChain {
  const states: { name: string; channels: readonly string[] }[] = [{ name: startState, channels: [] }]
  const stateByName = new Map<string, number>()
  const transitionsFrom = new Map<number, Map<number | 'conversion' | 'null', number>>()
  // A state's channels joined by NUL: step names are text that may hold the ' > ' of display names, never NUL.
  const stateOf = (channels: readonly string[]): number => {
    if (channels.length === 0) return 0
    const key = channels.join('\u0000')
    let state = stateByName.get(key)
    if (state === undefined) {
      state = states.length
      stateByName.set(key, state)
      states.push({ name: channels.join(' > '), channels })
    }
    return state
  }
  const count = (from: number, to: number | 'conversion' | 'null', weight: number) =>
    countTransition(transitionsFrom, from, to, weight)
  for (const transition of transitions) {
    const from = stateOf(transition.from)
    if (transition.to.length > 0) count(from, stateOf(transition.to), transition.journeys)
    else {
      count(from, 'conversion', transition.conversions)
      count(from, 'null', transition.nulls)
    }
  }
  return { states, transitions: transitionsFrom }
}

function markovOrder(order: number | undefined): number {
  const k = order ?? 1
  if (!Number.isInteger(k) || k < 1 || k > 3) throw invalidOption(`order: expected 1, 2 or 3 (got ${k})`)
  return k
}

/**
 * Markov chain attribution by removal effect: a channel's removal effect is the share of conversions lost when every
 * state that includes it leads to null instead; conversions and value are split in proportion to removal effects.
 */
function markov(paths: readonly PathCount[], options: AttributionOptions): AttributionResult {
  const order = markovOrder(options.order)
  return markovAttribution(buildMarkovChain(paths, order), order, {
    conversions: paths.reduce((sum, path) => sum + path.conversions, 0),
    value: paths.reduce((sum, path) => sum + path.value, 0),
  })
}

/**
 * Markov attribution (see `markov`) on a chain already built, of order `order`, splitting `totals`: the conversions and
 * value of the journeys the chain was counted from.
 */
export function markovAttribution(
  chain: MarkovChain,
  order: number,
  totals: { readonly conversions: number; readonly value: number },
): AttributionResult {
  markovOrder(order)
  const base = conversionProbability(chain)
  // Every channel of the paths is in some state; the states are few, the paths' steps many.
  const channels = [...new Set(chain.states.flatMap((state) => state.channels))]
  const removalEffects: Record<string, number> = {}
  for (const channel of channels) {
    const removed = new Set<number>()
    chain.states.forEach((state, at) => {
      if (state.channels.includes(channel)) removed.add(at)
    })
    removalEffects[channel] = base > 0 ? 1 - conversionProbability(chain, removed) / base : 0
  }
  const totalEffect = Object.values(removalEffects).reduce((sum, effect) => sum + effect, 0)
  const credits = channels.map((channel) => {
    const share = totalEffect > 0 ? (removalEffects[channel] as number) / totalEffect : 0
    return { channel, conversions: share * totals.conversions, value: share * totals.value }
  })
  return {
    model: 'markov',
    channels: credited(credits),
    markov: { order, conversionProbability: base, states: chain.states.length, removalEffects },
  }
}

/** Runs one attribution model over aggregated paths. */
export function attribute(
  input: readonly PathCount[],
  model: AttributionModel,
  options: AttributionOptions = {},
): AttributionResult {
  if (!attributionModels.includes(model)) {
    throw invalidOption(`model: expected one of ${attributionModels.join(', ')} (got ${JSON.stringify(model)})`)
  }
  const weights = options.positionWeights
  if (
    weights !== undefined &&
    (weights.some((weight) => !(weight >= 0)) || Math.abs(weights[0] + weights[1] + weights[2] - 1) > 1e-9)
  ) {
    throw invalidOption(`positionWeights: expected three shares of 0 or more adding up to 1 (got ${weights.join('/')})`)
  }
  if (options.halfLife !== undefined && !(options.halfLife > 0)) {
    throw invalidOption(`halfLife: expected a number above 0 (got ${options.halfLife})`)
  }
  const paths = (options.collapseRepeats ? input.map(collapseRepeats) : input).filter(
    (path) => path.channels.length > 0,
  )
  if (model === 'markov') return markov(paths, options)
  if (model === 'shapley') return { model, channels: shapley(paths) }
  if (model === 'shapley_ordered') return { model, channels: shapleyOrdered(paths) }
  return { model, channels: creditByPath(paths, (path) => heuristicWeights(model, path, options)) }
}
