/**
 * Linearizability checker speed and memory, side by side with Porcupine (Go).
 *
 *   npx tsx bench/linearizability.ts
 *   PORCUPINE_DRIVER=bench/porcupine-driver PORCUPINE_SRC=/tmp/porcupine npx tsx bench/linearizability.ts
 *
 * Histories are generated from a seed (Jepsen-style: clients with random op durations, a real register behind
 * them, timeouts recorded as `info` with the effect applied or not at random) and written as our JSON Lines into a
 * temp directory; both checkers read the same files. PORCUPINE_DRIVER names a directory holding a small Go driver
 * (`main.go`, see bench/README.md) that is built here with `go build`, or an executable; without it that column
 * is skipped with a message. Contenders alternate within each round; the figure is the median check time (parsing
 * excluded on both sides). The last part checks a 100,000-op key-value history and reports the heap peak.
 */
import * as NodeChild from "node:child_process"
import * as NodeFs from "node:fs"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"
import { Either } from "effect"
import * as History from "../src/History.js"
import * as Linearizability from "../src/Linearizability.js"
import * as Model from "../src/Model.js"
import * as Workload from "../src/Workload.js"

const rounds = Number(process.env["ROUNDS"] ?? 5)
/** Time limit of one check, both checkers (seconds). */
const limit = Number(process.env["LIMIT"] ?? 20)

/** Seeded randomness: the same mulberry32 the workloads use. */
const prng = Workload.rng

interface Spec {
  readonly name: string
  readonly model: "cas-register" | "kv"
  readonly clients: number
  readonly ops: number
  readonly keys: number
  readonly infoRate: number
  readonly seed: number
}

/**
 * Clients issue ops back to back; each op takes effect at a random point of its interval, in the order of those
 * points, on a real map of registers. A timed-out op (`info`) took effect or not, at random; its client continues
 * under a new process id.
 */
const generate = (s: Spec): string => {
  const rnd = prng(s.seed)
  type Pending = { proc: number; f: string; key: number; value: unknown; invoke: number; point: number; complete: number; info: boolean; applied: boolean }
  const clients = Array.from({ length: s.clients }, (_, c) => ({ proc: c, free: Math.floor(rnd() * 50) }))
  const pending: Array<Pending> = []
  for (let i = 0; i < s.ops; i++) {
    let c = clients[0]!
    for (const x of clients) if (x.free < c.free) c = x
    const key = Math.floor(rnd() * s.keys)
    const x = rnd()
    const f = x < 0.5 ? "read" : x < 0.75 ? "write" : "cas"
    const value = f === "read" ? null : f === "write" ? Math.floor(rnd() * 5) : [Math.floor(rnd() * 5), Math.floor(rnd() * 5)]
    const invoke = c.free
    const point = invoke + 1 + Math.floor(rnd() * 100)
    const complete = point + 1 + Math.floor(rnd() * 100)
    const info = rnd() < s.infoRate
    pending.push({ proc: c.proc, f, key, value, invoke, point, complete, info, applied: !info || rnd() < 0.5 })
    c.free = complete + 1 + Math.floor(rnd() * 20)
    if (info) c.proc += s.clients
  }
  const regs = new Map<number, unknown>()
  const lines: Array<string> = []
  const outputs = new Map<Pending, { ok: boolean; out: unknown }>()
  for (const p of pending.slice().sort((a, b) => a.point - b.point)) {
    const cur = regs.has(p.key) ? regs.get(p.key) : null
    if (!p.applied) continue
    if (p.f === "read") outputs.set(p, { ok: true, out: cur })
    else if (p.f === "write") {
      regs.set(p.key, p.value)
      outputs.set(p, { ok: true, out: p.value })
    } else {
      const [from, to] = p.value as [number, number]
      if (cur === from) {
        regs.set(p.key, to)
        outputs.set(p, { ok: true, out: p.value })
      } else outputs.set(p, { ok: false, out: p.value })
    }
  }
  const wrap = (p: Pending, v: unknown) => (s.model === "kv" ? [p.key, v] : v)
  for (const p of pending) {
    const o = outputs.get(p)
    const outcome = p.info ? "info" : o!.ok ? "ok" : "fail"
    lines.push(JSON.stringify({
      process: p.proc,
      f: p.f,
      value: wrap(p, p.value),
      ...(outcome === "ok" ? { output: wrap(p, o!.out) } : {}),
      invoke: p.invoke * 1000,
      ...(p.info ? {} : { complete: p.complete * 1000 }),
      outcome
    }))
  }
  return lines.join("\n") + "\n"
}

/** The same history with one read, late in the history, made to return a value nobody wrote. */
const corrupt = (text: string): string => {
  const lines = text.trimEnd().split("\n")
  for (let i = Math.floor(lines.length * 0.9); i < lines.length; i++) {
    const o = JSON.parse(lines[i]!)
    if (o.f === "read" && o.outcome === "ok") {
      o.output = Array.isArray(o.output) ? [o.output[0], 77] : 77
      lines[i] = JSON.stringify(o)
      return lines.join("\n") + "\n"
    }
  }
  return text
}

const dir = NodeFs.mkdtempSync(NodePath.join(NodeOs.tmpdir(), `dt-bench-lin-${process.pid}-`))
process.on("exit", () => NodeFs.rmSync(dir, { recursive: true, force: true }))

const driver = (() => {
  const p = process.env["PORCUPINE_DRIVER"]
  if (p === undefined || p === "") {
    console.log("porcupine: skipped (set PORCUPINE_DRIVER to the Go driver's directory or binary; see bench/README.md)")
    return undefined
  }
  if (NodeFs.statSync(p, { throwIfNoEntry: false })?.isDirectory()) {
    const bin = NodePath.join(dir, "porcupine-driver")
    const r = NodeChild.spawnSync("go", ["build", "-o", bin, "."], {
      cwd: p,
      env: { ...process.env, GOFLAGS: "-mod=mod", GOPROXY: "off" },
      encoding: "utf8"
    })
    if (r.status !== 0) {
      console.log(`porcupine: skipped (go build in ${p} failed: ${(r.stderr || String(r.error)).trim()})`)
      return undefined
    }
    return bin
  }
  if (NodeFs.existsSync(p)) return p
  console.log(`porcupine: skipped (${p} does not exist)`)
  return undefined
})()

const median = (xs: ReadonlyArray<number>) => {
  const s = xs.slice().sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]!
}

const ours = (model: string, text: string) => {
  const h = History.parse(text, { format: "jsonl" })
  if (Either.isLeft(h)) throw new Error(h.left.message)
  const m = Model.byName(model)!
  const c0 = process.cpuUsage()
  const t0 = performance.now()
  const v = Linearizability.check(m, h.right, { timeLimit: `${limit} seconds` })
  const c = process.cpuUsage(c0)
  return { verdict: v._tag, millis: performance.now() - t0, cpu: (c.user + c.system) / 1000 }
}

const theirs = (model: string, file: string) => {
  const r = NodeChild.spawnSync(driver!, [model, file, "1", String(limit)], { encoding: "utf8" })
  if (r.status !== 0) throw new Error(`porcupine driver failed: ${r.stderr}`)
  const o = JSON.parse(r.stdout) as { result: string; checkMillis: Array<number>; cpuMillis: Array<number> }
  return {
    verdict: o.result === "Ok" ? "Valid" : o.result === "Illegal" ? "Invalid" : "Unknown",
    millis: o.checkMillis[0]!,
    cpu: o.cpuMillis[0]!
  }
}

const specs: Array<Spec> = [
  { name: "register 5 clients 1k ops", model: "cas-register", clients: 5, ops: 1000, keys: 1, infoRate: 0.02, seed: 1 },
  { name: "register 10 clients 1k ops", model: "cas-register", clients: 10, ops: 1000, keys: 1, infoRate: 0.02, seed: 2 },
  { name: "register 5 clients 5k ops", model: "cas-register", clients: 5, ops: 5000, keys: 1, infoRate: 0.02, seed: 3 },
  { name: "register 10 clients 5k ops", model: "cas-register", clients: 10, ops: 5000, keys: 1, infoRate: 0.02, seed: 4 },
  { name: "kv 10 keys 20k ops", model: "kv", clients: 10, ops: 20000, keys: 10, infoRate: 0.02, seed: 5 },
  { name: "kv 100 keys 20k ops", model: "kv", clients: 10, ops: 20000, keys: 100, infoRate: 0.02, seed: 6 }
]

const rows: Array<Record<string, unknown>> = []
for (const spec of specs) {
  for (const bad of [false, true]) {
    const text = bad ? corrupt(generate(spec)) : generate(spec)
    const file = NodePath.join(dir, `${spec.name.replace(/\W+/g, "-")}${bad ? "-bad" : ""}.jsonl`)
    NodeFs.writeFileSync(file, text)
    const a: Array<number> = []
    const b: Array<number> = []
    const ac: Array<number> = []
    const bc: Array<number> = []
    let va = "", vb = "-"
    // The first check of a process pays for V8's JIT: a CLI checking one file sees this figure.
    const first = ours(spec.model, text)
    for (let r = 0; r < rounds; r++) {
      const order = r % 2 === 0 ? ["ours", "theirs"] : ["theirs", "ours"]
      for (const who of order) {
        if (who === "ours") {
          const o = ours(spec.model, text)
          a.push(o.millis)
          ac.push(o.cpu)
          va = o.verdict
        } else if (driver !== undefined) {
          const t = theirs(spec.model, file)
          b.push(t.millis)
          bc.push(t.cpu)
          vb = t.verdict
        }
      }
    }
    const row = {
      history: `${spec.name}${bad ? " (one bad read)" : ""}`,
      ours: va,
      porcupine: vb,
      oursFirstMs: Number(first.millis.toFixed(1)),
      oursMs: Number(median(a).toFixed(1)),
      porcupineMs: b.length > 0 ? Number(median(b).toFixed(1)) : null,
      oursCpuMs: Number(median(ac).toFixed(1)),
      porcupineCpuMs: bc.length > 0 ? Number(median(bc).toFixed(1)) : null,
      cpuRatio: bc.length > 0 ? Number((median(ac) / median(bc)).toFixed(2)) : null
    }
    console.log(JSON.stringify(row))
    rows.push(row)
  }
}

// Memory: a 100,000-op key-value history, heap sampled during the check.
{
  const spec: Spec = { name: "kv 100 keys 100k ops", model: "kv", clients: 10, ops: 100_000, keys: 100, infoRate: 0.02, seed: 9 }
  const h = History.parse(generate(spec), { format: "jsonl" })
  if (Either.isLeft(h)) throw new Error(h.left.message)
  globalThis.gc?.()
  const before = process.memoryUsage().heapUsed
  let peak = before
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().heapUsed)), 5)
  // The check is synchronous; sample from inside it through the model's key function, every 4096 steps.
  const inner = Model.kv()
  let n = 0
  const sampling: Model.Model<unknown> = {
    ...inner,
    key: (s) => {
      if ((++n & 4095) === 0) peak = Math.max(peak, process.memoryUsage().heapUsed)
      return inner.key(s)
    }
  }
  const t0 = performance.now()
  const v = Linearizability.check(sampling, h.right)
  const ms = performance.now() - t0
  clearInterval(timer)
  peak = Math.max(peak, process.memoryUsage().heapUsed)
  const row = {
    history: spec.name,
    ours: v._tag,
    oursMs: Number(ms.toFixed(1)),
    heapBeforeMB: Number((before / 2 ** 20).toFixed(1)),
    heapPeakMB: Number((peak / 2 ** 20).toFixed(1)),
    states: v.states
  }
  console.log(JSON.stringify(row))
}

// Real Jepsen histories: Porcupine's etcd logs (test_data/jepsen), with the verdicts its own tests expect.
{
  const src = process.env["PORCUPINE_SRC"]
  if (src === undefined || !NodeFs.existsSync(NodePath.join(src, "porcupine_test.go"))) {
    console.log("jepsen etcd logs: skipped (set PORCUPINE_SRC to a Porcupine checkout)")
  } else {
    const tests = NodeFs.readFileSync(NodePath.join(src, "porcupine_test.go"), "utf8")
    const expected = Array.from(tests.matchAll(/checkJepsen\(t, (\d+), (true|false)\)/g), (m) => [Number(m[1]), m[2] === "true"] as const)
    let agree = 0
    const wrong: Array<number> = []
    let cpu = 0
    for (const [n, ok] of expected) {
      const text = NodeFs.readFileSync(NodePath.join(src, "test_data/jepsen", `etcd_${String(n).padStart(3, "0")}.log`), "utf8")
      const h = History.parse(text)
      if (Either.isLeft(h)) throw new Error(h.left.message)
      const c0 = process.cpuUsage()
      const v = Linearizability.check(Model.casRegister(), h.right, { timeLimit: `${limit} seconds` })
      const c = process.cpuUsage(c0)
      cpu += (c.user + c.system) / 1000
      if (v._tag === (ok ? "Valid" : "Invalid")) agree++
      else wrong.push(n)
    }
    console.log(JSON.stringify({ history: "porcupine jepsen etcd logs", logs: expected.length, agree, wrong, oursCpuMs: Number(cpu.toFixed(1)) }))
  }
}

console.log(
  "\n| history | verdict (ours / porcupine) | ours first ms | ours ms | porcupine ms | ours CPU ms | porcupine CPU ms | CPU ratio |\n|---|---|---|---|---|---|---|---|"
)
for (const r of rows) {
  console.log(
    `| ${r["history"]} | ${r["ours"]} / ${r["porcupine"]} | ${r["oursFirstMs"]} | ${r["oursMs"]} | ${r["porcupineMs"] ?? "-"} | ${r["oursCpuMs"]} | ${r["porcupineCpuMs"] ?? "-"} | ${r["cpuRatio"] ?? "-"} |`
  )
}
console.log(`loadavg ${NodeOs.loadavg().map((x) => x.toFixed(2)).join(" ")}`)
