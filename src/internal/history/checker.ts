/**
 * Verdicts over partitions, counterexamples and their text.
 */
import { Duration, Effect } from "effect"
import type { History, Operation } from "../../History.js"
import type { CheckOptions, Counterexample, Verdict } from "../../Linearizability.js"
import type { Model } from "../../Model.js"
import { HistoryParseError } from "./errors.js"
import * as files from "./files.js"
import { valueText } from "./ops.js"
import { searchInSlices } from "./wgl.js"

const defaultTimeLimit = Duration.seconds(60)
const defaultMaxStates = 4_000_000
const defaultMaxMemoBytes = 512 * 2 ** 20

export const validate = <S>(model: Model<S>, history: History, source = "<history>") => {
  if (model.fs === undefined) return undefined
  const known = new Set(model.fs)
  for (const op of history.ops) {
    if (!known.has(op.f)) {
      return new HistoryParseError({
        source,
        ...(op.line !== undefined ? { line: op.line } : {}),
        reason: `operation ${op.id} (process ${String(op.process)} ${op.f} ${valueText(op.value)}) has a function the ${model.name} model does not know`,
        fix: `the ${model.name} model knows ${model.fs.join(", ")}; choose the model that matches the workload`
      })
    }
  }
  return undefined
}

/**
 * How long `checkEffect` searches before it gives the event loop a turn: other tests' commands, log monitors and
 * timers run in between, and the check can be interrupted there (a test's timeout, Ctrl-C).
 */
const sliceMillis = 25

/**
 * A check in steps: it pauses (yields) after each `slice` milliseconds of search. `millis` in the verdict counts
 * the time spent searching, not the pauses; the time limit counts both.
 */
function* checking<S>(model: Model<S>, history: History, options: CheckOptions | undefined, slice: number): Generator<void, Verdict> {
  const started = performance.now()
  let paused = 0
  const deadline = started + Duration.toMillis(Duration.decode(options?.timeLimit ?? defaultTimeLimit))
  const maxStates = options?.maxStates ?? defaultMaxStates
  // `fail` ops definitely did not happen; an `info` op that changes nothing may as well not have happened.
  const relevant = history.ops
    .filter((op) => op.outcome === "ok" || (op.outcome === "info" && !(model.readOnly?.(op) ?? false)))
    .map(uniform)
  const parts = model.partition ? model.partition(relevant) : [{ key: "", ops: relevant }]
  let states = 0
  const base = () => ({
    model: model.name,
    ops: relevant.length,
    partitions: parts.length,
    states,
    millis: performance.now() - started - paused
  })
  for (const part of parts) {
    // Per memo entry: its bitset (4 bytes per 32 ops) plus the entry, the typed array and the map slot (~120 B).
    const perState = 4 * Math.ceil(part.ops.length / 32) + 120
    const cap = Math.min(maxStates, Math.floor((options?.maxMemoBytes ?? defaultMaxMemoBytes) / perState))
    const search = searchInSlices(model, part.ops, { deadline, maxStates: cap }, slice)
    let step = search.next()
    while (step.done !== true) {
      const at = performance.now()
      yield
      paused += performance.now() - at
      step = search.next()
    }
    const r = step.value
    states += r.states
    if (r._tag === "Unknown") {
      return {
        _tag: "Unknown",
        ...base(),
        reason: r.reason,
        ...(model.partition ? { partition: part.key } : {})
      }
    }
    if (r._tag === "Invalid") {
      const op = part.ops[r.blocked]!
      const end = (o: Operation) => (o.outcome === "info" ? Infinity : o.complete)
      const concurrent = part.ops
        .filter((o) => o !== op && o.invoke <= end(op) && op.invoke <= end(o))
        .slice(0, 40)
      const prefix = r.prefix.map((i, k) => ({
        op: part.ops[i]!,
        state: model.describeState(r.prefixStates[k] as S)
      }))
      const counterexample: Counterexample = {
        ...(model.partition ? { partition: part.key } : {}),
        prefix,
        op,
        stateBefore: prefix.length > 0 ? prefix[prefix.length - 1]!.state : model.describeState(model.init()),
        concurrent
      }
      return { _tag: "Invalid", ...base(), counterexample }
    }
  }
  return { _tag: "Valid", ...base() }
}

/**
 * A copy with every field present, so all ops share one hidden class: the model's step then reads them through
 * monomorphic property accesses (measured: the first check of a 1,000-op history ran several times slower with
 * ops of mixed shapes, as files and recorders produce them).
 */
const uniform = (op: Operation): Operation =>
  ({
    id: op.id,
    process: op.process,
    f: op.f,
    value: op.value,
    output: op.output,
    invoke: op.invoke,
    complete: op.complete,
    outcome: op.outcome,
    line: op.line
  }) as Operation

/** Checks in one go, holding the thread until the verdict. */
export const check = <S>(model: Model<S>, history: History, options?: CheckOptions): Verdict => {
  const steps = checking(model, history, options, Infinity)
  for (;;) {
    const step = steps.next()
    if (step.done) return step.value
  }
}

/** The event loop's turn: timers and I/O run before the next slice. Interruptible while it waits. */
const nextTurn = Effect.async<void>((resume) => {
  const turn = setImmediate(() => resume(Effect.void))
  return Effect.sync(() => clearImmediate(turn))
})

/** Checks in slices, giving the event loop (and interruption) a turn after each. */
export const checkEffect = <S>(model: Model<S>, history: History, options?: CheckOptions): Effect.Effect<Verdict> =>
  Effect.suspend(() => {
    const steps = checking(model, history, options, sliceMillis)
    const go: Effect.Effect<Verdict> = Effect.suspend(() => {
      const step = steps.next()
      return step.done ? Effect.succeed(step.value) : Effect.zipRight(nextTurn, go)
    })
    return go
  })

export const checkFile = <S>(path: string, model: Model<S>, options?: CheckOptions) =>
  Effect.flatMap(files.fromFile(path), (history) => {
    const bad = validate(model, history, path)
    return bad !== undefined ? Effect.fail(bad) : checkEffect(model, history, options)
  })

const ms = (nanos: number) =>
  nanos >= Number.MAX_SAFE_INTEGER
    ? "never"
    : nanos < 1e4
    ? `${nanos} ns`
    : nanos < 1e7
    ? `${(nanos / 1e3).toFixed(1)} µs`
    : `${(nanos / 1e6).toFixed(3)} ms`

const opLine = (op: Operation, describe: (op: Operation) => string) =>
  `process ${String(op.process)}: ${describe(op)}  [${op.outcome}, invoked ${ms(op.invoke)}, ${
    op.outcome === "info" ? "outcome unknown" : `completed ${ms(op.complete)}`
  }${op.line !== undefined ? `, line ${op.line}` : ""}]`

const plural = (n: number, what: string) => `${n} ${what}${n === 1 ? "" : "s"}`

export const format = <S>(verdict: Verdict, model?: Model<S>): string => {
  const stats = `${plural(verdict.ops, "op")}, ${plural(verdict.partitions, "partition")}, ${plural(verdict.states, "state")}, ${verdict.millis.toFixed(1)} ms`
  if (verdict._tag === "Valid") return `linearizable (${verdict.model} model; ${stats})`
  if (verdict._tag === "Unknown") {
    const why = verdict.reason === "time-limit"
      ? "the time limit was hit (raise timeLimit)"
      : "the state limit was hit (raise maxStates)"
    return `unknown: ${why}${verdict.partition !== undefined ? ` in partition ${verdict.partition}` : ""} (${verdict.model} model; ${stats})`
  }
  const c = verdict.counterexample
  const describe = model?.describeOp ?? defaultDescribe
  const lines = [
    `NOT linearizable (${verdict.model} model${c.partition !== undefined ? `, key ${c.partition}` : ""}; ${stats})`,
    "",
    `This operation cannot be placed:`,
    `  ${opLine(c.op, describe)}`,
    `It must take effect before it completes, but from state ${c.stateBefore} (after the prefix below) no order of the`,
    `operations still pending lets it return what it returned.`,
    "",
    c.prefix.length === 0
      ? "Longest linearizable prefix: none (it fails from the initial state)"
      : `Longest linearizable prefix (${plural(c.prefix.length, "op")}, in order, with the state after each):`
  ]
  const shown = c.prefix.length > 30 ? c.prefix.slice(-30) : c.prefix
  if (shown.length < c.prefix.length) lines.push(`  … ${c.prefix.length - shown.length} earlier ops`)
  shown.forEach((s, k) =>
    lines.push(`  ${c.prefix.length - shown.length + k + 1}. ${opLine(s.op, describe)}  ⇒ ${s.state}`)
  )
  lines.push("", `Concurrent with it (${plural(c.concurrent.length, "op")}):`)
  for (const o of c.concurrent) lines.push(`  ${opLine(o, describe)}`)
  return lines.join("\n")
}

const defaultDescribe = (op: Operation): string => {
  const arg = op.value === null || op.value === undefined ? "" : ` ${valueText(op.value)}`
  const out = op.outcome === "ok" && op.output !== undefined &&
      (op.value === null || valueText(op.output) !== valueText(op.value))
    ? ` → ${valueText(op.output)}`
    : ""
  return `${op.f}${arg}${out}`
}
