/**
 * Nelder-Mead minimisation with the adaptive coefficients of Gao and Han (2012), as scipy's `minimize(method=
 * "Nelder-Mead", adaptive=True)` uses them; lifetimes fits BG/NBD with scipy's Nelder-Mead. Written here because the
 * npm packages for it did not hold up: fmin's ES module build exports nothing, nlopt-js installs process-wide
 * exception handlers, numeric has not been maintained since 2012 (docs/LTV.md).
 */
export interface MinimizeResult {
  readonly x: number[]
  readonly value: number
  readonly iterations: number
  readonly evaluations: number
  /** True when the simplex shrank below the tolerances before the iteration limit. */
  readonly converged: boolean
}

export interface MinimizeOptions {
  /** Stop when every vertex is within this of the best, in every coordinate (default 1e-10). */
  readonly xTolerance?: number
  /**
   * ... and every vertex's value within this of the best, relative to the best's magnitude when that exceeds 1
   * (default 1e-10). Relative, because a sum of a hundred thousand log-likelihood terms carries rounding noise far
   * above any absolute 1e-10: an absolute test would never pass and every fit would run to the iteration limit.
   */
  readonly fTolerance?: number
  /** Default 2000 per dimension. */
  readonly maxIterations?: number
  /** The first simplex: each coordinate moved by this fraction (default 0.05; 0.00025 for a zero coordinate). */
  readonly initialStep?: number
}

export function nelderMead(
  f: (x: number[]) => number,
  start: readonly number[],
  options: MinimizeOptions = {},
): MinimizeResult {
  const n = start.length
  const xTolerance = options.xTolerance ?? 1e-10
  const fTolerance = options.fTolerance ?? 1e-10
  const maxIterations = options.maxIterations ?? 2000 * n
  const step = options.initialStep ?? 0.05
  // Adaptive coefficients: reflection, expansion, contraction, shrink.
  const rho = 1
  const chi = 1 + 2 / n
  const psi = 0.75 - 1 / (2 * n)
  const sigma = 1 - 1 / n
  let evaluations = 0
  const value = (x: number[]) => {
    evaluations += 1
    const result = f(x)
    return Number.isNaN(result) ? Infinity : result
  }
  const simplex: { x: number[]; f: number }[] = [{ x: [...start], f: value([...start]) }]
  for (let i = 0; i < n; i++) {
    const x = [...start]
    x[i] = x[i] !== 0 ? (x[i] as number) * (1 + step) : 0.00025
    simplex.push({ x, f: value(x) })
  }
  const along = (from: readonly number[], to: readonly number[], t: number) =>
    from.map((coordinate, i) => coordinate + t * ((to[i] as number) - coordinate))
  let iterations = 0
  let converged = false
  while (iterations < maxIterations) {
    simplex.sort((a, b) => a.f - b.f)
    const best = simplex[0] as { x: number[]; f: number }
    const worst = simplex[n] as { x: number[]; f: number }
    let xSpread = 0
    let fSpread = 0
    for (let v = 1; v <= n; v++) {
      const vertex = simplex[v] as { x: number[]; f: number }
      fSpread = Math.max(fSpread, Math.abs(vertex.f - best.f))
      for (let i = 0; i < n; i++) xSpread = Math.max(xSpread, Math.abs((vertex.x[i] as number) - (best.x[i] as number)))
    }
    if (xSpread <= xTolerance && fSpread <= fTolerance * Math.max(1, Math.abs(best.f))) {
      converged = true
      break
    }
    iterations += 1
    const centroid = new Array<number>(n).fill(0)
    for (let v = 0; v < n; v++) {
      for (let i = 0; i < n; i++)
        centroid[i] = (centroid[i] as number) + ((simplex[v] as { x: number[] }).x[i] as number) / n
    }
    const reflected = along(centroid, worst.x, -rho)
    const fReflected = value(reflected)
    const secondWorst = (simplex[n - 1] as { f: number }).f
    if (fReflected < best.f) {
      const expanded = along(centroid, worst.x, -rho * chi)
      const fExpanded = value(expanded)
      simplex[n] = fExpanded < fReflected ? { x: expanded, f: fExpanded } : { x: reflected, f: fReflected }
      continue
    }
    if (fReflected < secondWorst) {
      simplex[n] = { x: reflected, f: fReflected }
      continue
    }
    // Contract: outside when the reflection beat the worst, inside otherwise.
    const outside = fReflected < worst.f
    const contracted = along(centroid, worst.x, outside ? -rho * psi : psi)
    const fContracted = value(contracted)
    if (fContracted <= (outside ? fReflected : worst.f)) {
      simplex[n] = { x: contracted, f: fContracted }
      continue
    }
    for (let v = 1; v <= n; v++) {
      const x = along(best.x, (simplex[v] as { x: number[] }).x, sigma)
      simplex[v] = { x, f: value(x) }
    }
  }
  simplex.sort((a, b) => a.f - b.f)
  const best = simplex[0] as { x: number[]; f: number }
  return { x: best.x, value: best.f, iterations, evaluations, converged }
}

/** The Hessian of `f` at `x` by central differences, with steps relative to each coordinate. */
export function numericalHessian(f: (x: number[]) => number, x: readonly number[], relativeStep = 1e-4): number[][] {
  const n = x.length
  const h = x.map((coordinate) => relativeStep * Math.max(Math.abs(coordinate), 1))
  const at = (changes: [number, number][]) => {
    const point = [...x]
    for (const [i, delta] of changes) point[i] = (point[i] as number) + delta
    return f(point)
  }
  const f0 = f([...x])
  const hessian = Array.from({ length: n }, () => new Array<number>(n).fill(0))
  for (let i = 0; i < n; i++) {
    const hi = h[i] as number
    ;(hessian[i] as number[])[i] = (at([[i, hi]]) - 2 * f0 + at([[i, -hi]])) / (hi * hi)
    for (let j = i + 1; j < n; j++) {
      const hj = h[j] as number
      const value =
        (at([
          [i, hi],
          [j, hj],
        ]) -
          at([
            [i, hi],
            [j, -hj],
          ]) -
          at([
            [i, -hi],
            [j, hj],
          ]) +
          at([
            [i, -hi],
            [j, -hj],
          ])) /
        (4 * hi * hj)
      ;(hessian[i] as number[])[j] = value
      ;(hessian[j] as number[])[i] = value
    }
  }
  return hessian
}

/** The inverse of a small symmetric positive definite matrix (Gauss-Jordan); throws when it is singular. */
export function invert(matrix: readonly (readonly number[])[]): number[][] {
  const n = matrix.length
  const a = matrix.map((row, i) => [...row, ...Array.from({ length: n }, (_, j) => (i === j ? 1 : 0))])
  for (let column = 0; column < n; column++) {
    let pivot = column
    for (let row = column + 1; row < n; row++) {
      if (Math.abs((a[row] as number[])[column] as number) > Math.abs((a[pivot] as number[])[column] as number))
        pivot = row
    }
    const pivotRow = a[pivot] as number[]
    const diagonal = pivotRow[column] as number
    if (Math.abs(diagonal) < 1e-300) throw new Error('singular matrix')
    a[pivot] = a[column] as number[]
    a[column] = pivotRow.map((value) => value / diagonal)
    for (let row = 0; row < n; row++) {
      if (row === column) continue
      const factor = (a[row] as number[])[column] as number
      a[row] = (a[row] as number[]).map((value, k) => value - factor * ((a[column] as number[])[k] as number))
    }
  }
  return a.map((row) => row.slice(n))
}
