/**
 * What a chaos test does, drawn from a seed: its outcome (pass, fail, run past its timeout), how its service runs,
 * and the faults it applies in order. Pure and shared with the driver (bench/chaos.ts), which also uses
 * `checkLog` to verify every collected service log.
 */

/** How a test ends. `fail` and `timeout` happen while the fault of step `at` is applied. */
export type Outcome = { readonly kind: "pass" } | { readonly kind: "fail" | "timeout"; readonly at: number }

/** A fault applied by one step. `node` is a 1-based index into the test's service nodes. */
export type Step =
  | { readonly kind: "partition"; readonly holdMs: number; readonly keep: boolean }
  | { readonly kind: "isolate"; readonly node: number; readonly holdMs: number; readonly keep: boolean }
  | { readonly kind: "packet-loss"; readonly node: number; readonly probability: number; readonly holdMs: number; readonly keep: boolean }
  | { readonly kind: "bandwidth"; readonly node: number; readonly rate: string; readonly holdMs: number; readonly keep: boolean }
  | { readonly kind: "pause"; readonly node: number; readonly holdMs: number; readonly keep: boolean }
  | { readonly kind: "kill-restart"; readonly node: number }
  | { readonly kind: "bounce"; readonly node: number }
  | {
    readonly kind: "during"
    readonly fault: "isolate" | "packet-loss" | "pause"
    readonly spacingMs: number
    readonly holdMs: number
    readonly totalMs: number
  }

/** Everything a test does, decided before it starts. */
export interface Plan {
  readonly seed: number
  readonly nodes: number
  /** `process`: the ticker is a scoped process of its node; `daemon`: detached, stopped only by stopNode. */
  readonly mode: "process" | "daemon"
  readonly outcome: Outcome
  readonly steps: ReadonlyArray<Step>
}

/** A small seeded generator (mulberry32): plans must be the same on every machine for a seed. */
const generator = (seed: number) => {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** A 32-bit hash of a string (FNV-1a), to derive a test's own seed from the run's seed and its id. */
export const hash = (s: string): number => {
  let h = 0x811c9dc5
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193)
  return h >>> 0
}

/** The plan of test `testId` in the run seeded with `seed`, on `nodes` nodes. */
export const makePlan = (seed: number, testId: string, nodes: number): Plan => {
  const own = hash(`${seed}/${testId}`)
  const next = generator(own)
  const int = (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1))
  const pick = <A>(xs: ReadonlyArray<A>): A => xs[Math.floor(next() * xs.length)]!
  const node = () => int(1, nodes)
  const hold = () => int(150, 700)
  const keep = () => next() < 0.25
  const kinds: ReadonlyArray<Step["kind"]> = nodes >= 2
    ? ["partition", "isolate", "packet-loss", "bandwidth", "pause", "kill-restart", "bounce", "during"]
    : ["packet-loss", "bandwidth", "pause", "kill-restart", "bounce", "during"]
  const steps: Array<Step> = []
  let bandwidthKept = new Set<number>()
  for (let i = int(1, 4); i > 0; i--) {
    const kind = pick(kinds)
    switch (kind) {
      case "partition":
        steps.push({ kind, holdMs: hold(), keep: keep() })
        break
      case "isolate":
        steps.push({ kind, node: node(), holdMs: hold(), keep: keep() })
        break
      case "packet-loss":
        steps.push({ kind, node: node(), probability: pick([0.05, 0.2, 0.5, 1]), holdMs: hold(), keep: keep() })
        break
      case "bandwidth": {
        // One limit per interface at a time: a second one on a node whose limit is kept would be refused.
        const n = node()
        const k = keep() && !bandwidthKept.has(n)
        if (bandwidthKept.has(n)) break
        if (k) bandwidthKept = new Set([...bandwidthKept, n])
        steps.push({ kind, node: n, rate: pick(["256kbit", "1mbit", "10mbit"]), holdMs: hold(), keep: k })
        break
      }
      case "pause":
        steps.push({ kind, node: node(), holdMs: hold(), keep: keep() })
        break
      case "kill-restart":
      case "bounce":
        steps.push({ kind, node: node() })
        break
      case "during":
        steps.push({
          kind,
          fault: nodes >= 2 ? pick(["isolate", "packet-loss", "pause"] as const) : pick(["packet-loss", "pause"] as const),
          spacingMs: int(50, 200),
          holdMs: int(100, 300),
          totalMs: int(600, 1500)
        })
        break
    }
  }
  if (steps.length === 0) steps.push({ kind: "bounce", node: node() })
  const r = next()
  const outcome: Outcome = r < 0.55 ? { kind: "pass" } : { kind: r < 0.8 ? "fail" : "timeout", at: int(0, steps.length - 1) }
  return { seed: own, nodes, mode: next() < 0.5 ? "process" : "daemon", outcome, steps }
}

// ---------------------------------------------------------------------------------------------------------
// The ticker's log, and what makes it complete
// ---------------------------------------------------------------------------------------------------------

/** Where the ticker writes, relative to the node's workdir. */
export const tickerDir = "chaos-ticker"
/** The ticker's log: `start <n>` per start, `seq <n>` per tick (numbered across restarts), `end <n>` per stop. */
export const tickerLog = `${tickerDir}/ticks.log`

/** Why a log is incomplete, or undefined when it is complete. */
export const checkLog = (text: string): string | undefined => {
  const lines = text.split("\n")
  if (lines[lines.length - 1] === "") lines.pop()
  if (lines.length === 0) return "empty log"
  let last = 0
  let open = false
  for (const [i, line] of lines.entries()) {
    const m = /^(start|seq|end) (\d+)$/.exec(line)
    if (m === null) return `line ${i + 1} is malformed: ${JSON.stringify(line)}`
    const n = Number(m[2])
    if (m[1] === "seq") {
      if (!open) return `line ${i + 1}: seq ${n} outside a start…end span (written after its stop?)`
      if (n !== last + 1) return `line ${i + 1}: seq ${n} follows seq ${last} (numbers missing or repeated)`
      last = n
    } else if (n !== last) {
      return `line ${i + 1}: ${m[1]} ${n} but the last seq is ${last}`
    } else if (m[1] === "start" && open) {
      return `line ${i + 1}: a second start without an end`
    } else {
      open = m[1] === "start"
    }
  }
  if (open || !lines[lines.length - 1]!.startsWith("end ")) return `no end marker after the last start (last line ${JSON.stringify(lines[lines.length - 1])})`
  return undefined
}
