// Helpers shared by every report format. Nothing here throws: reports are written after a run, often after a
// failure, and must come out whatever a test returned or printed.
import type { TestResult, TestStatus } from "../../Results.js"

/** Statuses in the order reports list them: what needs attention first. */
export const statusOrder: ReadonlyArray<TestStatus> = ["FAIL", "FLAKY", "IGNORE", "PASS"]

const rank = (s: TestStatus) => statusOrder.indexOf(s)

/** Results sorted by status (failures first), stable within a status. */
export const byStatus = (results: ReadonlyArray<TestResult>): ReadonlyArray<TestResult> =>
  results.map((r, i) => ({ r, i })).sort((a, b) => rank(a.r.status) - rank(b.r.status) || a.i - b.i).map((x) => x.r)

const plural = (n: number, unit: string) => `${n} ${unit}${n === 1 ? "" : "s"}`

/** ducktape's long form: "1 hour 2 minutes 3.456 seconds", "2.000 seconds". */
export const longDuration = (seconds: number): string => {
  if (!Number.isFinite(seconds) || seconds < 0) return "unknown"
  const hours = Math.floor(seconds / 3600)
  const minutes = Math.floor((seconds % 3600) / 60)
  const rest = seconds - hours * 3600 - minutes * 60
  const parts: Array<string> = []
  if (hours > 0) parts.push(plural(hours, "hour"))
  if (hours > 0 || minutes > 0) parts.push(plural(minutes, "minute"))
  parts.push(`${rest.toFixed(3)} seconds`)
  return parts.join(" ")
}

/** A short form for tables: "850 ms", "3.21 s", "2m 05s", "1h 02m". */
export const shortDuration = (seconds: number): string => {
  if (!Number.isFinite(seconds) || seconds < 0) return "?"
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`
  if (seconds < 60) return `${seconds.toFixed(2)} s`
  const total = Math.round(seconds)
  const h = Math.floor(total / 3600)
  const m = Math.floor((total % 3600) / 60)
  const s = total % 60
  return h > 0 ? `${h}h ${String(m).padStart(2, "0")}m` : `${m}m ${String(s).padStart(2, "0")}s`
}

/**
 * A copy of `value` that JSON.stringify accepts: bigints become strings, cycles "[Circular]", and anything whose
 * own `toJSON` or getters throw becomes "[unserializable]". Data comes from user tests and may be anything.
 */
export const jsonSafe = (value: unknown): unknown => walk(value, [])

const walk = (value: unknown, ancestors: Array<object>): unknown => {
  if (typeof value === "bigint") return value.toString()
  if (value === null || typeof value !== "object") return value
  if (ancestors.includes(value)) return "[Circular]"
  ancestors.push(value)
  try {
    const toJSON = (value as { toJSON?: unknown }).toJSON
    if (typeof toJSON === "function") return walk(toJSON.call(value), ancestors)
    if (Array.isArray(value)) {
      return value.map((v) => {
        const w = walk(v, ancestors)
        return w === undefined || typeof w === "function" || typeof w === "symbol" ? null : w
      })
    }
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(value)) out[k] = walk(v, ancestors)
    return out
  } catch {
    return "[unserializable]"
  } finally {
    ancestors.pop()
  }
}

/** JSON text of any value (undefined when the value has no JSON form, like `undefined` itself). */
export const stringify = (value: unknown, indent?: number): string | undefined => {
  try {
    return JSON.stringify(jsonSafe(value), null, indent) as string | undefined
  } catch {
    return JSON.stringify(String(value))
  }
}

/** Cuts text to `max` characters, saying how much was left out. */
export const truncate = (text: string, max: number, hint = ""): string =>
  text.length <= max ? text : `${text.slice(0, max)}\n… (${text.length - max} more characters${hint})`

/** Parameters as `k=v` pairs: strings as written, other values as JSON. */
export const paramsText = (params: Readonly<Record<string, unknown>>): string =>
  Object.entries(params).map(([k, v]) => `${k}=${typeof v === "string" ? v : stringify(v) ?? "undefined"}`).join(", ")

/** Symbols of the failed tests, once each, in result order. */
export const failedSymbols = (results: ReadonlyArray<TestResult>): ReadonlyArray<string> => [
  // Failures with no symbol (the driver's own) have nothing to rerun.
  ...new Set(results.filter((r) => r.status === "FAIL" && r.symbol !== "").map((r) => r.symbol))
]

/**
 * ANSI escape sequences (colours, cursor moves): commands' error output often carries them, and in a report they
 * are noise at best and, printed to a terminal, can rewrite what is on screen. The logs keep them.
 */
const ansiSequence = /\u001b\[[0-9;?]*[ -/]*[@-~]|\u001b[@-Z\\-_]/g

/** Text without ANSI escape sequences. */
export const withoutAnsi = (s: string): string => s.replace(ansiSequence, "")

/** ISO 8601 timestamp for epoch milliseconds, or "unknown" for a nonsense time. */
export const isoTime = (epochMillis: number): string => {
  const d = new Date(epochMillis)
  return Number.isNaN(d.getTime()) ? "unknown" : d.toISOString()
}
