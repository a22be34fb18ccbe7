/**
 * A light service for chaos runs: on each node a shell loop appends numbered lines to a log (`seq 1`, `seq 2`, …,
 * numbered across restarts); `stopNode` ends the loop and only then appends `end <last seq>`. A collected log
 * that ends with its end marker, with no number missing, proves the node was stopped before its log was copied.
 */
import { Effect } from "effect"
import { type ClusterNode, Service, Shell } from "ducktape-effect"
import { tickerDir, tickerLog } from "./plan.js"

/** How the loop runs: a scoped process of the node (killed when the node's scope closes), or a detached daemon. */
export interface TickerConfig {
  readonly mode: "process" | "daemon"
  /** Seconds between ticks (a `sleep` argument). */
  readonly period: string
}

/** The loop's pid (= process group) per running service and node, for pause and kill faults. */
const pids = new WeakMap<object, Map<number, number>>()
const pidsOf = (service: object) => {
  let m = pids.get(service)
  if (m === undefined) pids.set(service, m = new Map())
  return m
}

/** The loop's current pid on a node, if it runs. */
export const pidOf = (service: Service.RunningService<TickerConfig>, node: ClusterNode): number | undefined =>
  pidsOf(service).get(node.index)

const log = Shell.quote(tickerLog)
/** The count of ticks so far (grep -c prints 0 and exits 1 on no match; nothing when the file is missing). */
const lastSeq = `n=$(grep -c '^seq ' ${log} 2>/dev/null); n=\${n:-0}`

const loop = (period: string) =>
  `mkdir -p ${Shell.quote(tickerDir)}; ${lastSeq}; echo "start $n" >> ${log}; ` +
  `while :; do n=$((n+1)); echo "seq $n" >> ${log}; sleep ${Shell.quote(period)}; done`

/** The ticker service. */
export const Ticker = Service.make<TickerConfig>({
  name: "ticker",
  config: { mode: "process", period: "0.1" },
  logs: { ticks: { path: tickerLog, collectDefault: true } },
  concurrentStart: true,
  stopTimeout: "20 seconds",
  startNode: (node, service) =>
    Effect.gen(function*() {
      const line = loop(service.config.period)
      const record = (pid: number) => Effect.sync(() => pidsOf(service).set(node.index, pid))
      if (service.config.mode === "process") yield* Effect.flatMap(node.account.startProcess(line), (p) => record(p.pid))
      // A daemon is not scoped: once started, only its recorded pid lets stopNode end it, so starting and recording
      // must not be split by an interruption (measured in startRace.ts).
      else yield* Effect.uninterruptible(Effect.flatMap(node.account.spawnDaemon(line), record))
    }),
  stopNode: (node, service) =>
    Effect.gen(function*() {
      const pid = pidsOf(service).get(node.index)
      if (pid !== undefined) yield* node.account.killProcessGroup(pid, { grace: "2 seconds" })
      pidsOf(service).delete(node.index)
      yield* node.account.ssh(`mkdir -p ${Shell.quote(tickerDir)}; ${lastSeq}; echo "end $n" >> ${log}`)
    }),
  cleanNode: (node) => node.account.remove(tickerDir, { force: true })
})
