import type { TestCase } from "../../../Test.js"

/**
 * The cases of shard `index` of `count`. With durations from an earlier run, cases are packed longest first into
 * the least-loaded shard (unknown cases count as the average); without, every `count`-th case.
 */
export const shard = (
  cases: ReadonlyArray<TestCase>,
  count: number,
  index: number,
  durations: ReadonlyMap<string, number>
): ReadonlyArray<TestCase> => {
  if (durations.size === 0) return cases.filter((_, i) => i % count === index)
  const known = [...durations.values()]
  const average = known.reduce((a, b) => a + b, 0) / known.length
  const load = Array.from({ length: count }, () => 0)
  const size = Array.from({ length: count }, () => 0)
  const owner = new Map<TestCase, number>()
  const byDuration = [...cases].sort((a, b) => (durations.get(b.id) ?? average) - (durations.get(a.id) ?? average))
  for (const c of byDuration) {
    // Equal loads (e.g. tests recorded as taking 0 s) go to the shard with fewest tests, so no shard is left empty.
    let target = 0
    for (let i = 1; i < count; i++) {
      if (load[i]! < load[target]! || (load[i] === load[target] && size[i]! < size[target]!)) target = i
    }
    load[target]! += durations.get(c.id) ?? average
    size[target]!++
    owner.set(c, target)
  }
  // Keep the run order natural within the shard.
  return cases.filter((c) => owner.get(c) === index)
}

/** A random sample of `n` cases (all of them when n is larger), in their original order. */
export const sample = (cases: ReadonlyArray<TestCase>, n: number): ReadonlyArray<TestCase> => {
  if (n >= cases.length) return cases
  const picked = new Set<number>()
  while (picked.size < n) picked.add(Math.floor(Math.random() * cases.length))
  return cases.filter((_, i) => picked.has(i))
}
