/**
 * History files: Jepsen's EDN (`history.edn`), Jepsen's log lines, and our JSON Lines; detection and writing.
 */
import * as NodeFs from "node:fs/promises"
import { Effect, Either } from "effect"
import type { Event, Format, History, Operation, Process } from "../../History.js"
import * as Edn from "./edn.js"
import { HistoryParseError } from "./errors.js"
import { fromEvents } from "./ops.js"

const types = new Set(["invoke", "ok", "fail", "info"])

type Parsed = Either.Either<History, HistoryParseError>

const err = (source: string, line: number | undefined, reason: string, fix: string) =>
  Either.left(new HistoryParseError({ source, reason, fix, ...(line !== undefined ? { line } : {}) }))

export const detect = (text: string): Format => {
  const first = text.split("\n").find((l) => l.trim() !== "")?.trim() ?? ""
  if (first.startsWith('{"')) return "jsonl"
  const head = text.slice(0, 100_000)
  if (/jepsen\.util\s+-\s+\S+\s+:(invoke|ok|fail|info)\s/.test(head) || /^\S+\t:(invoke|ok|fail|info)\t/m.test(head)) {
    return "jepsen-log"
  }
  return "edn"
}

export const parse = (
  text: string,
  options?: { readonly format?: Format; readonly source?: string }
): Parsed => {
  const source = options?.source ?? "<history>"
  switch (options?.format ?? detect(text)) {
    case "jsonl":
      return parseJsonl(text, source)
    case "jepsen-log":
      return parseLog(text, source)
    case "edn":
      return parseEdn(text, source)
  }
}

/** Jepsen's nemesis acts on the cluster, not on the object under test: its ops are not part of the check. */
const isNemesis = (p: unknown) => p === "nemesis"

const ednFix =
  "each op is an EDN map such as {:type :invoke, :f :read, :value nil, :process 0, :time 1234}"

const parseEdn = (text: string, source: string): Parsed => {
  const trimmed = text.trimStart()
  const read = trimmed.startsWith("[") ? Edn.readVectorElements(text) : Edn.readAll(text)
  if ("_tag" in read) return err(source, read.line, `EDN syntax: ${read.reason}`, ednFix)
  const events: Array<Event> = []
  for (const form of read.forms) {
    const m = form.value
    if (m === null || typeof m !== "object" || Array.isArray(m)) {
      return err(source, form.line, "expected an op map {:type … :f … :process …}", ednFix)
    }
    const o = m as Record<string, unknown>
    const e = toEvent(o, form.line, source, events.length, ednFix, "time")
    if (Either.isLeft(e)) return Either.left(e.left)
    if (e.right !== undefined) events.push(e.right)
  }
  return fromEvents(events, source)
}

/** One event from a record with type/process/f/value/time fields; undefined for a nemesis event. */
const toEvent = (
  o: Record<string, unknown>,
  line: number,
  source: string,
  seq: number,
  fix: string,
  timeField: string
): Either.Either<Event | undefined, HistoryParseError> => {
  const type = o["type"]
  if (typeof type !== "string" || !types.has(type)) {
    return err(source, line, `expected :type to be one of invoke, ok, fail, info, found ${Edn.write(type)}`, fix)
  }
  const process = o["process"]
  if (isNemesis(process)) return Either.right(undefined)
  if (typeof process !== "number" && typeof process !== "string") {
    return err(source, line, `expected :process to be a number, found ${Edn.write(process)}`, fix)
  }
  const f = o["f"]
  if (typeof f !== "string" && typeof f !== "number") {
    return err(source, line, `expected :f to be a keyword or string, found ${Edn.write(f)}`, fix)
  }
  const t = o[timeField]
  if (t !== undefined && (typeof t !== "number" || !Number.isFinite(t))) {
    return err(source, line, `expected :${timeField} to be a number of nanoseconds, found ${Edn.write(t)}`, fix)
  }
  // Without times, the order of the file is the order of events.
  const time = typeof t === "number" ? t : seq
  return Either.right({
    type: type as Event["type"],
    process: process as Process,
    f: String(f),
    value: o["value"] === undefined ? null : o["value"],
    time,
    line
  })
}

// After Jepsen's logger prefix (`INFO  jepsen.util - `), fields are separated by tabs (or, in some logs, spaces).
const logPrefixRe = /jepsen\.util\s+-\s+(.*)$/
const logOpRe = /^(\S+)\s+:(\S+)\s+(\S+)(?:\s+(.*))?$/
const logFix = "Jepsen log op lines read `PROCESS<TAB>:TYPE<TAB>:F<TAB>VALUE`, e.g. `3\t:invoke\t:read\tnil`"

const parseLog = (text: string, source: string): Parsed => {
  const lines = text.split("\n")
  const events: Array<Event> = []
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!.replace(/\r$/, "")
    const prefixed = logPrefixRe.exec(raw)
    // Other log lines (and other loggers' lines) are not ops; bare `PROCESS<TAB>:TYPE…` lines are.
    const payload = prefixed !== null ? prefixed[1]! : /^\S+\t:/.test(raw) ? raw : undefined
    if (payload === undefined) continue
    const m = logOpRe.exec(payload.trim())
    if (m === null || !types.has(m[2]!)) {
      // jepsen.util logs other messages too; a line naming an op type is an op line gone wrong.
      if (!/(^|\s):(invoke|ok|fail|info)(\s|$)/.test(payload)) continue
      return err(source, i + 1, "expected an op: process, :type (:invoke :ok :fail :info), :f and a value", logFix)
    }
    const [, p, type, f, value] = m
    const proc = /^-?\d+$/.test(p!) ? Number(p) : p!.replace(/^:/, "")
    if (isNemesis(proc)) continue
    let v: unknown = null
    if (value !== undefined && value.trim() !== "") {
      const r = Edn.readAll(value, i + 1)
      if ("_tag" in r) return err(source, i + 1, `the value is not EDN: ${r.reason}`, logFix)
      if (r.forms.length !== 1) {
        return err(source, i + 1, `expected one EDN value after :${f!.replace(/^:/, "")}, found ${r.forms.length}`, logFix)
      }
      v = r.forms[0]!.value
    }
    events.push({ type: type as Event["type"], process: proc, f: f!.replace(/^:/, ""), value: v, time: i, line: i + 1 })
  }
  return fromEvents(events, source)
}

const jsonlFix =
  'one JSON object per line: {"type":"invoke","process":0,"f":"write","value":1,"time":120} ' +
  '(or an op: {"process":0,"f":"read","value":null,"output":1,"invoke":120,"complete":340,"outcome":"ok"})'

const parseJsonl = (text: string, source: string): Parsed => {
  const lines = text.split("\n")
  const events: Array<Event> = []
  const ops: Array<Operation> = []
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!.trim()
    if (raw === "") continue
    let o: unknown
    try {
      o = JSON.parse(raw)
    } catch (e) {
      return err(source, i + 1, `expected a JSON object: ${(e as Error).message}`, jsonlFix)
    }
    if (o === null || typeof o !== "object" || Array.isArray(o)) {
      return err(source, i + 1, "expected a JSON object", jsonlFix)
    }
    const r = o as Record<string, unknown>
    if ("invoke" in r) {
      const op = jsonOp(r, i + 1, source, ops.length)
      if (Either.isLeft(op)) return Either.left(op.left)
      ops.push(op.right)
      continue
    }
    const e = toEvent(r, i + 1, source, i, jsonlFix, "time")
    if (Either.isLeft(e)) return Either.left(e.left)
    if (e.right !== undefined) events.push(e.right)
  }
  if (ops.length > 0 && events.length > 0) {
    return err(source, undefined, "the file mixes event lines and op lines", "write one kind of line per file")
  }
  if (ops.length > 0) {
    const sorted = ops.slice().sort((a, b) => a.invoke - b.invoke || a.id - b.id)
    return Either.right({ ops: sorted.map((op, id) => ({ ...op, id })) })
  }
  return fromEvents(events, source)
}

const jsonOp = (
  r: Record<string, unknown>,
  line: number,
  source: string,
  id: number
): Either.Either<Operation, HistoryParseError> => {
  const { process, f, invoke, complete, outcome } = r
  if (typeof process !== "number" && typeof process !== "string") {
    return err(source, line, "expected \"process\" to be a number or string", jsonlFix)
  }
  if (typeof f !== "string") return err(source, line, 'expected "f" to be a string', jsonlFix)
  if (outcome !== "ok" && outcome !== "fail" && outcome !== "info") {
    return err(source, line, 'expected "outcome" to be "ok", "fail" or "info"', jsonlFix)
  }
  if (typeof invoke !== "number") return err(source, line, 'expected "invoke" to be a number (nanoseconds)', jsonlFix)
  const end = complete === undefined || complete === null ? Number.MAX_SAFE_INTEGER : complete
  if (typeof end !== "number") return err(source, line, 'expected "complete" to be a number (nanoseconds)', jsonlFix)
  if (end < invoke) {
    return err(
      source,
      line,
      `op ${f} of process ${process} completes (${end}) before it is invoked (${invoke})`,
      "times must be monotonic: record both on the same clock"
    )
  }
  return Either.right({
    id,
    process,
    f,
    value: r["value"] === undefined ? null : r["value"],
    ...(outcome === "ok" ? { output: r["output"] === undefined ? null : r["output"] } : {}),
    invoke,
    complete: end,
    outcome,
    line
  })
}

export const fromFile = (path: string): Effect.Effect<History, HistoryParseError> =>
  Effect.tryPromise({
    try: () => NodeFs.readFile(path, "utf8"),
    catch: (e) =>
      new HistoryParseError({
        source: path,
        reason: `cannot read the file: ${(e as NodeJS.ErrnoException).code ?? String(e)}`,
        fix: "check the path"
      })
  }).pipe(Effect.flatMap((text) => parse(text, { source: path })))

export const toJsonLines = (history: History): string =>
  history.ops
    .map((op) =>
      JSON.stringify({
        process: op.process,
        f: op.f,
        value: op.value ?? null,
        ...(op.outcome === "ok" ? { output: op.output ?? null } : {}),
        invoke: op.invoke,
        ...(op.complete < Number.MAX_SAFE_INTEGER ? { complete: op.complete } : {}),
        outcome: op.outcome
      })
    )
    .join("\n") + "\n"

export const toEdn = (history: History): string => {
  const lines: Array<string> = []
  const events: Array<{ e: Event; seq: number }> = []
  for (const op of history.ops) {
    events.push({ e: { type: "invoke", process: op.process, f: op.f, value: op.value, time: op.invoke }, seq: op.id * 2 })
    if (op.complete < Number.MAX_SAFE_INTEGER) {
      events.push({
        e: {
          type: op.outcome,
          process: op.process,
          f: op.f,
          value: op.outcome === "ok" ? op.output : op.value,
          time: op.complete
        },
        seq: op.id * 2 + 1
      })
    }
  }
  events.sort((a, b) => a.e.time - b.e.time || a.seq - b.seq)
  events.forEach(({ e }, index) =>
    lines.push(
      `{:index ${index}, :time ${e.time}, :type :${e.type}, :process ${
        typeof e.process === "number" ? e.process : `:${e.process}`
      }, :f :${e.f}, :value ${Edn.write(e.value)}}`
    )
  )
  return lines.join("\n") + "\n"
}
