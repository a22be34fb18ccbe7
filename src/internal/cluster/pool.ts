/** Cluster specs and the pool that allocates nodes from a fixed set (every cluster kind is one of these). */
import type { Scope } from "effect"
import { Effect } from "effect"
import type * as C from "../../Cluster.js"
import { InsufficientResources } from "./errors.js"
import { PoolTypeId } from "./tag.js"
import type { RemoteAccount } from "../../RemoteAccount.js"

/** @internal */
export const normalize = (spec: C.ClusterSpec): C.NormalizedSpec => {
  const groups = typeof spec === "number"
    ? [{ numNodes: spec }]
    : Array.isArray(spec)
    ? spec
    : [spec as { readonly numNodes: number; readonly nodeType?: string }]
  return groups.map((g) => ({ numNodes: Math.max(0, Math.floor(g.numNodes)), nodeType: g.nodeType }))
}

const describeNodes = (nodes: ReadonlyArray<{ readonly nodeType: string | undefined }>): string => {
  const typed = new Map<string, number>()
  for (const n of nodes) if (n.nodeType !== undefined) typed.set(n.nodeType, (typed.get(n.nodeType) ?? 0) + 1)
  const detail = [...typed].map(([t, k]) => `${k} ${t}`).join(", ")
  return `${nodes.length} node${nodes.length === 1 ? "" : "s"}${detail === "" ? "" : ` (${detail})`}`
}

/** @internal */
export const describeSpec = (spec: C.ClusterSpec): string =>
  describeNodes(normalize(spec).flatMap((g) => Array.from({ length: g.numNodes }, () => ({ nodeType: g.nodeType }))))

/** How many nodes of each type a spec asks for; `undefined` is "any type". */
const needs = (spec: C.NormalizedSpec) => {
  const typed = new Map<string, number>()
  let untyped = 0
  for (const g of spec) {
    if (g.nodeType === undefined) untyped += g.numNodes
    else typed.set(g.nodeType, (typed.get(g.nodeType) ?? 0) + g.numNodes)
  }
  return { typed, untyped }
}

/**
 * `needs` of a spec, remembered: the scheduler asks whether the same few specs fit after every finished test.
 */
const needsCache = new WeakMap<object, ReturnType<typeof needs>>()
const countNeeds = new Map<number, ReturnType<typeof needs>>()
const needsOf = (spec: C.ClusterSpec): ReturnType<typeof needs> => {
  const cache = typeof spec === "number" ? undefined : needsCache.get(spec)
  if (cache !== undefined) return cache
  if (typeof spec === "number") {
    let n = countNeeds.get(spec)
    if (n === undefined) countNeeds.set(spec, n = needs(normalize(spec)))
    return n
  }
  const computed = needs(normalize(spec))
  needsCache.set(spec, computed)
  return computed
}

/**
 * Whether nodes counted by type can meet a spec. Typed requests are served first, so that an untyped request never
 * takes the node a typed one needed; an untyped request may take nodes of any type.
 */
const canMeet = (spec: C.NormalizedSpec, countOf: (type: string | undefined) => number, total: number): boolean =>
  meets(needs(spec), countOf, total)

const meets = (
  { typed, untyped }: ReturnType<typeof needs>,
  countOf: (type: string | undefined) => number,
  total: number
): boolean => {
  let typedTotal = 0
  for (const [type, n] of typed) {
    if (countOf(type) < n) return false
    typedTotal += n
  }
  return total - typedTotal >= untyped
}

const countByType = (nodes: ReadonlyArray<C.ClusterNode>) => {
  const counts = new Map<string | undefined, number>()
  for (const n of nodes) counts.set(n.nodeType, (counts.get(n.nodeType) ?? 0) + 1)
  return counts
}

/** @internal */
export const fitsIn = (spec: C.ClusterSpec, nodes: ReadonlyArray<C.ClusterNode>): boolean => {
  const counts = countByType(nodes)
  return canMeet(normalize(spec), (t) => counts.get(t) ?? 0, nodes.length)
}

/**
 * A pool keeps its free nodes in one list per type, so checking and taking cost O(request), not O(cluster): the
 * scheduler tries every waiting spec after every finished test.
 * @internal
 */
export const makePool = (nodes: ReadonlyArray<C.ClusterNode>): Effect.Effect<C.Cluster> =>
  Effect.sync(() => {
    // Each list is kept in descending index order, so `pop` hands out the lowest-numbered free node first.
    const free = new Map<string | undefined, Array<C.ClusterNode>>()
    for (const n of [...nodes].sort((a, b) => b.index - a.index)) {
      const list = free.get(n.nodeType) ?? []
      list.push(n)
      free.set(n.nodeType, list)
    }
    const used = new Set<number>()
    let maxUsed = 0
    let freeCount = nodes.length
    const allCounts = countByType(nodes)
    const countOf = (type: string | undefined) => free.get(type)?.length ?? 0
    const availableNow = () => nodes.filter((n) => !used.has(n.index))

    // The synchronous core: checking, taking and giving back are single steps that fibers cannot interleave, and
    // cost no Effect machinery — the scheduler makes 10,000 of them in a few milliseconds.
    const tryTake = (spec: C.ClusterSpec): ReadonlyArray<C.ClusterNode> | undefined => {
      const { typed, untyped } = needsOf(spec)
      if (!meets({ typed, untyped }, countOf, freeCount)) return undefined
      const chosen: Array<C.ClusterNode> = []
      for (const [type, n] of typed) for (let k = 0; k < n; k++) chosen.push(free.get(type)!.pop()!)
      let rest = untyped
      for (const type of [undefined, ...free.keys()]) {
        const list = free.get(type)
        while (rest > 0 && list !== undefined && list.length > 0) {
          chosen.push(list.pop()!)
          rest--
        }
      }
      for (const n of chosen) used.add(n.index)
      freeCount -= chosen.length
      maxUsed = Math.max(maxUsed, used.size)
      return chosen
    }

    const giveBack = (chosen: ReadonlyArray<C.ClusterNode>): void => {
      for (const n of chosen) {
        if (!used.delete(n.index)) continue // released twice: harmless
        const list = free.get(n.nodeType)!
        // Keep descending order; a sorted insert is cheap next to the work a test does.
        let at = list.length
        while (at > 0 && list[at - 1]!.index < n.index) at--
        list.splice(at, 0, n)
        freeCount++
      }
    }

    const alloc = (spec: C.ClusterSpec): Effect.Effect<ReadonlyArray<C.ClusterNode>, InsufficientResources, Scope.Scope> =>
      Effect.acquireRelease(
        Effect.suspend(() => {
          const chosen = tryTake(spec)
          return chosen !== undefined
            ? Effect.succeed(chosen)
            : Effect.fail(new InsufficientResources({ requested: describeSpec(spec), available: describeNodes(availableNow()) }))
        }),
        (chosen) => Effect.sync(() => giveBack(chosen))
      )

    const cluster: C.Cluster = {
      all: nodes,
      size: nodes.length,
      available: Effect.sync(availableNow),
      used: Effect.sync(() => nodes.filter((n) => used.has(n.index))),
      maxUsed: Effect.sync(() => maxUsed),
      fitsNow: (spec) => Effect.sync(() => meets(needsOf(spec), countOf, freeCount)),
      fitsEver: (spec) => canMeet(normalize(spec), (t) => allCounts.get(t) ?? 0, nodes.length),
      alloc,
      [PoolTypeId]: { tryTake, giveBack }
    }
    return cluster
  })

export const nodesOf = (accounts: ReadonlyArray<{ account: RemoteAccount; nodeType: string | undefined }>) =>
  accounts.map(({ account, nodeType }, index): C.ClusterNode => ({ name: account.hostname, index, account, nodeType }))
