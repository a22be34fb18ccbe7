/** Did-you-mean: the known name closest to a mistyped one. */

/** Levenshtein distance: insertions, deletions and substitutions of one character each. */
export const editDistance = (a: string, b: string): number => {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const next = [i]
    for (let j = 1; j <= b.length; j++) {
      next.push(Math.min(row[j]! + 1, next[j - 1]! + 1, row[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1)))
    }
    row = next
  }
  return row[b.length]!
}

/**
 * The candidate closest to `name` (compared as `normalize` makes them), when at most `maxDistance(name)` edits away.
 * The first of equally close candidates wins.
 */
export const nearest = (
  name: string,
  candidates: ReadonlyArray<string>,
  options: { readonly normalize?: (s: string) => string; readonly maxDistance: (name: string) => number }
): string | undefined => {
  const norm = options.normalize ?? ((s: string) => s)
  let best: { candidate: string; distance: number } | undefined
  for (const candidate of candidates) {
    const distance = editDistance(norm(name), norm(candidate))
    if (best === undefined || distance < best.distance) best = { candidate, distance }
  }
  return best !== undefined && best.distance <= options.maxDistance(name) ? best.candidate : undefined
}
