/**
 * Chaos tests for the framework itself: each test starts a ticker on its nodes and applies faults drawn from the
 * run's seed (`--globals '{"seed":7}'`) — partitions, isolation, packet loss, bandwidth limits, pauses, kills with
 * restarts, bounces, schedules of faults — and then passes, fails, or runs past its timeout while a fault is
 * applied. Whatever happens, every fault must be healed, every process stopped, the workdirs cleaned, and each
 * ticker log collected complete (see plan.ts). bench/chaos.ts drives these runs and checks all of that.
 *
 * Network faults need hosts of their own, so the tests run only when DUCKTAPE_LAB=1 (set by `ducktape` for a
 * lab's cluster file); the run's --test-timeout is the timeout the `timeout` outcome exceeds.
 */
import * as NodeFs from "node:fs/promises"
import * as NodePath from "node:path"
import { Effect, Random, Schedule, type Scope } from "effect"
import { type ClusterNode, Fault, type Service, Test, TestContext } from "ducktape-effect"
import { makePlan, type Step } from "./plan.js"
import { pidOf, Ticker, type TickerConfig } from "./Ticker.js"

type Running = Service.RunningService<TickerConfig>

/** The loop's pid on a node, or a failure naming the node (the loop is restarted only by the test's own steps). */
const pidOn = (ticker: Running, node: ClusterNode) => {
  const pid = pidOf(ticker, node)
  return pid === undefined
    ? Effect.fail(new Test.AssertionFailed({ message: `no ticker runs on ${node.name}` }))
    : Effect.succeed(pid)
}

/** The fault one tick of a `during` step applies, on a node drawn at random. */
const scheduledFault = (ticker: Running, fault: "isolate" | "packet-loss" | "pause") =>
  Effect.flatMap(Fault.randomNode(ticker.nodes), (node) =>
    fault === "isolate"
      ? Fault.isolate(node, ticker.nodes)
      : fault === "packet-loss"
      ? Fault.packetLoss(node, 0.5)
      : Effect.flatMap(pidOn(ticker, node), (pid) => Fault.pause(node, pid, { group: true })))

/**
 * Runs one step; `then` (a planned failure, a hang past the timeout, or nothing) runs while its fault is applied.
 * A `keep` fault stays applied until the test's own scope closes.
 */
const runStep = (ticker: Running, step: Step, then: Effect.Effect<void, Test.AssertionFailed>) => {
  const held = (apply: Effect.Effect<unknown, unknown, Scope.Scope>, holdMs: number, keep: boolean) => {
    const body = apply.pipe(Effect.zipRight(Effect.sleep(holdMs)), Effect.zipRight(then))
    return keep ? body : Effect.scoped(body)
  }
  const node = (i: number) => ticker.node(i)
  switch (step.kind) {
    case "partition":
      return held(
        Effect.flatMap(Random.nextIntBetween(1, ticker.nodes.length), (cut) =>
          Fault.partition([ticker.nodes.slice(0, cut), ticker.nodes.slice(cut)])),
        step.holdMs,
        step.keep
      )
    case "isolate":
      return held(Fault.isolate(node(step.node), ticker.nodes), step.holdMs, step.keep)
    case "packet-loss":
      return held(Fault.packetLoss(node(step.node), step.probability), step.holdMs, step.keep)
    case "bandwidth":
      return held(Fault.bandwidth(node(step.node), step.rate), step.holdMs, step.keep)
    case "pause":
      return held(
        Effect.flatMap(pidOn(ticker, node(step.node)), (pid) => Fault.pause(node(step.node), pid, { group: true })),
        step.holdMs,
        step.keep
      )
    case "kill-restart":
      return Effect.flatMap(pidOn(ticker, node(step.node)), (pid) =>
        Effect.zipRight(Fault.kill(node(step.node), pid, { group: true, restart: ticker as Service.RunningService<unknown> }), then))
    case "bounce":
      return Effect.zipRight(Fault.bounce(ticker as Service.RunningService<unknown>, node(step.node)), then)
    case "during":
      return Effect.scoped(
        Effect.gen(function*() {
          const chaos = yield* Fault.during(
            Schedule.spaced(`${step.spacingMs} millis`),
            () => scheduledFault(ticker, step.fault),
            { hold: `${step.holdMs} millis` }
          )
          yield* Effect.sleep(step.totalMs)
          yield* then
          yield* chaos.check
          return yield* chaos.applied
        })
      )
  }
}

/** A chaos test on `nodes` nodes. */
const chaos = (nodes: number) =>
  Test.make({ cluster: nodes, env: { DUCKTAPE_LAB: "1" }, description: `seeded faults on a ${nodes}-node ticker` }, () =>
    Effect.gen(function*() {
      const context = yield* TestContext.TestContext
      const seed = Number(context.globals["seed"] ?? 0)
      const plan = makePlan(seed, context.testId, nodes)
      // Written first, so the driver knows the plan of a test that fails, hangs or is interrupted.
      yield* Effect.promise(() => NodeFs.writeFile(NodePath.join(context.resultsDir, "plan.json"), JSON.stringify(plan, null, 2)))
      yield* Effect.logInfo(`plan: ${JSON.stringify(plan)}`)
      return yield* Effect.gen(function*() {
        const ticker = yield* Ticker.start({ config: { mode: plan.mode }, numNodes: nodes })
        yield* Effect.sleep("300 millis")
        for (const [i, step] of plan.steps.entries()) {
          const planned = plan.outcome.kind !== "pass" && plan.outcome.at === i ? plan.outcome.kind : undefined
          const then = planned === "fail"
            ? Test.check(false, `planned failure during step ${i + 1} (${step.kind})`)
            : planned === "timeout"
            ? Effect.zipRight(Effect.logInfo(`planned hang during step ${i + 1} (${step.kind})`), Effect.never)
            : Effect.void
          yield* Effect.logInfo(`step ${i + 1}: ${JSON.stringify(step)}`)
          yield* runStep(ticker, step, then)
        }
        yield* Effect.sleep("200 millis")
        return { mode: plan.mode, steps: plan.steps.map((s) => s.kind) }
      }).pipe(Effect.withRandom(Random.make(plan.seed)))
    }))

/** Five tests: one on the whole 3-node lab, two on two nodes, two on one (they run side by side). */
export const Chaos = Test.suite("Chaos", {
  a3: chaos(3),
  b2: chaos(2),
  c2: chaos(2),
  d1: chaos(1),
  e1: chaos(1)
})
