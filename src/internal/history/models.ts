/**
 * The built-in models. States are kept small and immutable; keys are primitives so the checker's memo compares
 * them with `===`.
 */
import type { Operation } from "../../History.js"
import type { Model, ModelDefinition, Partition, StateKey, StepResult } from "../../Model.js"
import { valueText } from "./ops.js"

const notOk: StepResult<any> = { ok: false, state: undefined }

/** A canonical text of a value, so values equal as data compare equal. */
export const canon = (v: unknown): string => {
  if (v === null || v === undefined) return "nil"
  switch (typeof v) {
    case "number":
      return `n${v}`
    case "string":
      return `s${v}`
    case "boolean":
      return v ? "t" : "f"
    default:
      return `j${JSON.stringify(v)}`
  }
}

const same = (a: unknown, b: unknown): boolean =>
  a === b || (a !== null && b !== null && typeof a === "object" && typeof b === "object" && canon(a) === canon(b))

const primitiveKey = (s: unknown): StateKey =>
  s === null || s === undefined ? null : typeof s === "object" ? canon(s) : (s as StateKey)

const defaultDescribeOp = (op: Operation): string => {
  const arg = op.value === null || op.value === undefined ? "" : ` ${valueText(op.value)}`
  const out = op.outcome === "ok" && op.output !== undefined && (op.value === null || !same(op.output, op.value))
    ? ` → ${valueText(op.output)}`
    : op.outcome === "info" ? " → ?" : ""
  return `${op.f}${arg}${out}`
}

export const make = <S>(d: ModelDefinition<S>): Model<S> => ({
  name: d.name,
  init: d.init,
  step: d.step,
  key: d.key ?? ((s: S) => JSON.stringify(s) ?? null),
  describeOp: d.describeOp ?? defaultDescribeOp,
  describeState: d.describeState ?? ((s: S) => valueText(s)),
  ...(d.fs !== undefined ? { fs: d.fs } : {}),
  ...(d.partition !== undefined ? { partition: d.partition } : {}),
  ...(d.readOnly !== undefined ? { readOnly: d.readOnly } : {})
})

const isRead = (op: Operation) => op.f === "read"

const readStep = (s: unknown, op: Operation): StepResult<unknown> =>
  op.output === undefined || same(op.output, s) ? { ok: true, state: s } : notOk

export const register = (initial: unknown = null): Model<unknown> =>
  make<unknown>({
    name: "register",
    fs: ["read", "write"],
    init: () => initial,
    step: (s, op) => (op.f === "write" ? { ok: true, state: op.value } : op.f === "read" ? readStep(s, op) : notOk),
    key: primitiveKey,
    readOnly: isRead
  })

export const casRegister = (initial: unknown = null): Model<unknown> =>
  make<unknown>({
    name: "cas-register",
    fs: ["read", "write", "cas"],
    init: () => initial,
    step: (s, op) => {
      switch (op.f) {
        case "write":
          return { ok: true, state: op.value }
        case "read":
          return readStep(s, op)
        case "cas": {
          const v = op.value
          if (!Array.isArray(v) || v.length !== 2) return notOk
          return same(s, v[0]) ? { ok: true, state: v[1] } : notOk
        }
        default:
          return notOk
      }
    },
    key: primitiveKey,
    describeOp: (op) =>
      op.f === "cas" && Array.isArray(op.value)
        ? `cas ${valueText(op.value[0])}→${valueText(op.value[1])}${op.outcome === "info" ? " (?)" : ""}`
        : defaultDescribeOp(op),
    readOnly: isRead
  })

const keyOf = (op: Operation): string => (Array.isArray(op.value) ? canon(op.value[0]) : "nil")
const keyText = (op: Operation): string => (Array.isArray(op.value) ? valueText(op.value[0]) : "nil")
const second = (v: unknown): unknown => (Array.isArray(v) ? v[1] : v)

export const keyed = <S>(inner: Model<S>, name?: string): Model<S> => ({
  ...inner,
  name: name ?? `keyed ${inner.name}`,
  partition: (ops) => {
    const byKey = new Map<string, { key: string; ops: Array<Operation> }>()
    for (const op of ops) {
      const k = keyOf(op)
      let p = byKey.get(k)
      if (p === undefined) byKey.set(k, (p = { key: keyText(op), ops: [] }))
      p.ops.push({
        ...op,
        value: second(op.value),
        ...(op.output !== undefined ? { output: second(op.output) } : {})
      })
    }
    return Array.from(byKey.values()) as ReadonlyArray<Partition>
  }
})

/** Elements are held as their canonical texts, sorted, so equal sets have equal keys. */
export const set = (): Model<ReadonlyArray<string>> => {
  const readKeys = new WeakMap<Operation, string>()
  const outputKey = (op: Operation): string => {
    let k = readKeys.get(op)
    if (k === undefined) {
      const items = Array.isArray(op.output) ? op.output.map(canon) : []
      k = Array.from(new Set(items)).sort().join("\u0001")
      readKeys.set(op, k)
    }
    return k
  }
  return make<ReadonlyArray<string>>({
    name: "set",
    fs: ["add", "read"],
    init: () => [],
    step: (s, op) => {
      if (op.f === "add") {
        const c = canon(op.value)
        if (s.includes(c)) return { ok: true, state: s }
        return { ok: true, state: [...s, c].sort() }
      }
      if (op.f === "read") {
        return op.output === undefined || outputKey(op) === s.join("\u0001") ? { ok: true, state: s } : notOk
      }
      return notOk
    },
    key: (s) => s.join("\u0001"),
    readOnly: isRead,
    describeState: (s) => `#{${s.map(uncanon).join(" ")}}`
  })
}

const uncanon = (c: string): string => (c === "nil" ? "nil" : c.slice(1))

export const queue = (): Model<ReadonlyArray<string>> =>
  make<ReadonlyArray<string>>({
    name: "queue",
    fs: ["enqueue", "dequeue"],
    init: () => [],
    step: (s, op) => {
      if (op.f === "enqueue") return { ok: true, state: [...s, canon(op.value)] }
      if (op.f === "dequeue") {
        if (s.length === 0) return op.output === undefined || op.output === null ? { ok: true, state: s } : notOk
        if (op.output !== undefined && canon(op.output) !== s[0]) return notOk
        return { ok: true, state: s.slice(1) }
      }
      return notOk
    },
    key: (s) => s.join("\u0001"),
    describeState: (s) => `[${s.map(uncanon).join(" ")}]`
  })

export const counter = (): Model<number> =>
  make<number>({
    name: "counter",
    fs: ["add", "read"],
    init: () => 0,
    step: (s, op) => {
      if (op.f === "add") return typeof op.value === "number" ? { ok: true, state: s + op.value } : notOk
      if (op.f === "read") return op.output === undefined || op.output === s ? { ok: true, state: s } : notOk
      return notOk
    },
    key: (s) => s,
    readOnly: isRead
  })

export const builtins: Readonly<Record<string, () => Model<any>>> = {
  register: () => register(),
  "cas-register": () => casRegister(),
  kv: () => keyed(casRegister(), "kv"),
  set,
  queue,
  counter
}
