/**
 * The Wing & Gong / Lowe search for a linearization (as Porcupine does it), over one partition.
 *
 * Calls and returns of the operations form a doubly linked list in time order (typed arrays; removing an op's
 * call and return and putting them back are O(1), dancing-links style). The search walks the list: at a call it
 * tries to linearize that op now (model step ok, and the pair (set of linearized ops, state) not seen before —
 * the memo that makes the search tractable); at a return, the op returning was not linearized in time, so it
 * backtracks. An `info` op returns at +infinity: it may be linearized anywhere after its call, or never (the
 * search succeeds as soon as every `ok` op is linearized). The linearized set is a bitset with an incremental
 * Zobrist hash; memo entries are chained per hash and compared by bitset and state key.
 */
import type { Operation } from "../../History.js"
import type { Model, StateKey } from "../../Model.js"

export interface SearchLimits {
  /** `performance.now()` value after which the search gives up (unknown). */
  readonly deadline: number
  /** Memo entries after which the search gives up (unknown). */
  readonly maxStates: number
}

export type SearchResult =
  | { readonly _tag: "Valid"; readonly states: number }
  | {
    readonly _tag: "Invalid"
    readonly states: number
    /** The longest linearizable prefix found: op indexes (into the partition's ops) and states after each. */
    readonly prefix: ReadonlyArray<number>
    readonly prefixStates: ReadonlyArray<unknown>
    /** The op (index) whose return came while it could not be linearized after that prefix. */
    readonly blocked: number
  }
  | { readonly _tag: "Unknown"; readonly states: number; readonly reason: "time-limit" | "state-limit" }

interface MemoEntry {
  readonly bits: Uint32Array
  readonly key: StateKey
  readonly next: MemoEntry | undefined
}

const hashString = (s: string): number => {
  let h = 0x811c9dc5
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193)
  return h
}

const hashKey = (k: StateKey): number => {
  if (typeof k === "number") {
    return (k | 0) === k ? Math.imul(k ^ 0x5bd1e995, 0x9e3779b1) : hashString(String(k))
  }
  if (typeof k === "string") return hashString(k)
  return k === null ? 0x2545f491 : k ? 0x68e31da4 : 0x1b873593
}

/**
 * The search, pausing (yielding) after each `sliceMillis` of work so that an effect can give the event loop its
 * turn between slices; it returns its result. A generator, so that the loop's variables stay locals across pauses
 * (a closure's shared variables would live on the heap, and the loop reads them millions of times).
 */
export function* searchInSlices<S>(
  model: Model<S>,
  ops: ReadonlyArray<Operation>,
  limits: SearchLimits,
  sliceMillis: number
): Generator<void, SearchResult> {
  const n = ops.length
  const words = (n + 31) >>> 5
  // Entries 0..2n-1: call of op i is entry 2i, its return 2i+1; HEAD is 2n.
  const HEAD = 2 * n
  const next = new Int32Array(2 * n + 1)
  const prev = new Int32Array(2 * n + 1)
  const order = new Int32Array(2 * n)
  const time = new Float64Array(2 * n)
  let remaining = 0
  for (let i = 0; i < n; i++) {
    const op = ops[i]!
    time[2 * i] = op.invoke
    time[2 * i + 1] = op.outcome === "info" ? Infinity : op.complete
    order[2 * i] = 2 * i
    order[2 * i + 1] = 2 * i + 1
    if (op.outcome === "ok") remaining++
  }
  // Time order; at equal times calls before returns (touching ops count as concurrent), then by op.
  order.sort((a, b) => time[a]! - time[b]! || (a & 1) - (b & 1) || a - b)
  let last = HEAD
  prev[HEAD] = -1
  for (let j = 0; j < 2 * n; j++) {
    const e = order[j]!
    next[last] = e
    prev[e] = last
    last = e
  }
  next[last] = -1
  if (remaining === 0) return { _tag: "Valid", states: 0 }

  // Zobrist values, from a fixed-seed xorshift so runs are reproducible.
  const zob = new Int32Array(n)
  let seed = 0x9e3779b9
  for (let i = 0; i < n; i++) {
    seed ^= seed << 13
    seed ^= seed >>> 17
    seed ^= seed << 5
    zob[i] = seed | 0
  }
  const isOk = new Uint8Array(n)
  for (let i = 0; i < n; i++) isOk[i] = ops[i]!.outcome === "ok" ? 1 : 0

  const bits = new Uint32Array(words)
  let bitHash = 0
  const memo = new Map<number, MemoEntry>()
  let states = 0

  const stackCall = new Int32Array(n)
  const stackState: Array<S> = new Array(n)
  let depth = 0
  let state = model.init()

  let bestDepth = -1
  let bestPrefix: ReadonlyArray<number> = []
  let bestStates: ReadonlyArray<unknown> = []
  let blocked = -1

  const lift = (e: number) => {
    const r = e + 1
    next[prev[e]!] = next[e]!
    if (next[e]! !== -1) prev[next[e]!] = prev[e]!
    next[prev[r]!] = next[r]!
    if (next[r]! !== -1) prev[next[r]!] = prev[r]!
  }
  const unlift = (e: number) => {
    const r = e + 1
    next[prev[r]!] = r
    if (next[r]! !== -1) prev[next[r]!] = r
    next[prev[e]!] = e
    if (next[e]! !== -1) prev[next[e]!] = e
  }
  const sameBits = (a: Uint32Array) => {
    for (let w = 0; w < words; w++) if (a[w] !== bits[w]) return false
    return true
  }

  let entry = next[HEAD]!
  let iterations = 0
  let sliceEnd = performance.now() + sliceMillis
  for (;;) {
    if ((++iterations & 1023) === 0) {
      const now = performance.now()
      if (now > limits.deadline) return { _tag: "Unknown", states, reason: "time-limit" }
      if (now > sliceEnd) {
        yield
        sliceEnd = performance.now() + sliceMillis
      }
    }
    const i = entry >>> 1
    if ((entry & 1) === 0) {
      const res = model.step(state, ops[i]!)
      if (res.ok) {
        const w = i >>> 5
        const m = 1 << (i & 31)
        bits[w]! |= m
        const h = bitHash ^ zob[i]!
        const key = model.key(res.state)
        // Kept within 30 bits: a small integer (Smi) key, so Map lookups allocate nothing.
        const slot = (h ^ Math.imul(hashKey(key), 0x85ebca6b)) & 0x3fffffff
        let hit = false
        const head = memo.get(slot)
        for (let c = head; c !== undefined; c = c.next) {
          if (c.key === key && sameBits(c.bits)) {
            hit = true
            break
          }
        }
        if (!hit) {
          memo.set(slot, { bits: bits.slice(), key, next: head })
          if (++states > limits.maxStates) return { _tag: "Unknown", states, reason: "state-limit" }
          stackCall[depth] = entry
          stackState[depth] = state
          depth++
          state = res.state
          bitHash = h
          lift(entry)
          if (isOk[i] === 1 && --remaining === 0) return { _tag: "Valid", states }
          entry = next[HEAD]!
          continue
        }
        bits[w]! &= ~m
      }
      entry = next[entry]!
    } else {
      // The return of op i: it was not linearized before its response, so this path fails.
      if (depth > bestDepth) {
        bestDepth = depth
        const prefix = new Array<number>(depth)
        const after = new Array<unknown>(depth)
        for (let d = 0; d < depth; d++) {
          prefix[d] = stackCall[d]! >>> 1
          after[d] = d + 1 < depth ? stackState[d + 1] : state
        }
        bestPrefix = prefix
        bestStates = after
        blocked = i
      }
      if (depth === 0) {
        return { _tag: "Invalid", states, prefix: bestPrefix, prefixStates: bestStates, blocked }
      }
      depth--
      const call = stackCall[depth]!
      const j = call >>> 1
      state = stackState[depth]!
      stackState[depth] = undefined as S
      bits[j >>> 5]! &= ~(1 << (j & 31))
      bitHash = bitHash ^ zob[j]!
      unlift(call)
      if (isOk[j] === 1) remaining++
      entry = next[call]!
    }
  }
}
