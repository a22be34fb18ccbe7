/**
 * Pairing events into operations, and back.
 */
import { Either } from "effect"
import type { Event, History, Operation, Process } from "../../History.js"
import { HistoryParseError } from "./errors.js"

const where = (e: Event, i: number) => (e.line !== undefined ? `line ${e.line}` : `event ${i + 1}`)

/** A short text of an event for error messages: `line 4 (process 2 :ok :read 3)`. */
export const eventText = (e: Event, i: number): string =>
  `${where(e, i)} (process ${String(e.process)} ${e.type} ${e.f} ${valueText(e.value)})`

/** A compact rendering of a value: JSON, with `nil` for null. */
export const valueText = (v: unknown): string => {
  if (v === undefined) return "?"
  if (v === null) return "nil"
  if (typeof v === "string") return v
  try {
    return JSON.stringify(v, (_k, x) => (x === null ? "nil" : x)).replace(/"nil"/g, "nil")
  } catch {
    return String(v)
  }
}

interface Open {
  readonly event: Event
  readonly index: number
  readonly id: number
}

/** Pairs events (in the order they happened) into operations, in order of invocation. */
export const fromEvents = (
  events: ReadonlyArray<Event>,
  source = "<history>"
): Either.Either<History, HistoryParseError> => {
  const open = new Map<Process, Open>()
  const ops: Array<Operation | undefined> = []
  const bad = (e: Event, reason: string, fix: string) =>
    Either.left(
      new HistoryParseError({ source, reason, fix, ...(e.line !== undefined ? { line: e.line } : {}) })
    )
  for (let i = 0; i < events.length; i++) {
    const e = events[i]!
    if (e.type === "invoke") {
      const prior = open.get(e.process)
      if (prior !== undefined) {
        return bad(
          e,
          `process ${String(e.process)} invokes ${eventText(e, i)} while its operation ${eventText(prior.event, prior.index)} is still open`,
          "a process runs one operation at a time: complete the first operation (ok/fail/info) before the next invocation, or give the second client its own process id"
        )
      }
      open.set(e.process, { event: e, index: i, id: ops.length })
      ops.push(undefined)
      continue
    }
    const inv = open.get(e.process)
    if (inv === undefined) {
      return bad(
        e,
        `completion ${eventText(e, i)} has no open invocation of process ${String(e.process)}`,
        "every completion needs an earlier :invoke of the same process; check the history is complete and in time order"
      )
    }
    if (e.time < inv.event.time) {
      return bad(
        e,
        `completion ${eventText(e, i)} (time ${e.time}) precedes its invocation ${eventText(inv.event, inv.index)} (time ${inv.event.time})`,
        "times must be monotonic: record both events on the same clock"
      )
    }
    if (e.f !== inv.event.f) {
      return bad(
        e,
        `completion ${eventText(e, i)} has function ${e.f} but its invocation ${eventText(inv.event, inv.index)} has ${inv.event.f}`,
        "a completion repeats the :f of its invocation"
      )
    }
    open.delete(e.process)
    ops[inv.id] = makeOp(inv.id, inv.event, e.type, e.value, e.time)
  }
  // Invocations never completed: the client may have crashed; they may or may not have happened.
  for (const o of open.values()) {
    ops[o.id] = makeOp(o.id, o.event, "info", undefined, Number.MAX_SAFE_INTEGER)
  }
  return Either.right({ ops: ops as Array<Operation> })
}

const makeOp = (
  id: number,
  inv: Event,
  outcome: "ok" | "fail" | "info",
  output: unknown,
  complete: number
): Operation => ({
  id,
  process: inv.process,
  f: inv.f,
  value: inv.value,
  ...(outcome === "ok" ? { output } : {}),
  invoke: inv.time,
  complete,
  outcome,
  ...(inv.line !== undefined ? { line: inv.line } : {})
})

/** The events of a history in time order; at the same instant, in order of operation (invocation first). */
export const toEvents = (history: History): ReadonlyArray<Event> => {
  const out: Array<Event & { readonly seq: number }> = []
  for (const op of history.ops) {
    out.push({ type: "invoke", process: op.process, f: op.f, value: op.value, time: op.invoke, seq: op.id * 2 })
    if (op.complete < Number.MAX_SAFE_INTEGER || op.outcome !== "info") {
      out.push({
        type: op.outcome,
        process: op.process,
        f: op.f,
        value: op.outcome === "ok" ? op.output : op.value,
        time: op.complete,
        seq: op.id * 2 + 1
      })
    }
  }
  out.sort((a, b) => a.time - b.time || a.seq - b.seq)
  return out.map(({ seq: _seq, ...e }) => e)
}
