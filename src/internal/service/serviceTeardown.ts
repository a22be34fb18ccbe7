/**
 * A service's teardown, registered before any node starts so that a partial start is undone too: stop the nodes a
 * start was tried on, in reverse; collect their logs (all of them after a failure); clean them. A step that fails
 * is noted on the service's record (the test then fails with it) and the rest still run. With --no-teardown, only
 * the logs are collected and the record says where the service was left running.
 */
import { Effect, Exit, Option } from "effect"
import type * as S from "../../Service.js"
import type { ServiceError } from "./errors.js"
import { collectLogs } from "./serviceLogs.js"
import type { Instance, NodeSteps } from "./serviceNodes.js"

export const tearDown = <Config, R>(
  instance: Instance<Config, R>,
  steps: NodeSteps,
  record: S.ServiceRecord,
  exit: Exit.Exit<unknown, unknown>
): Effect.Effect<void> =>
  Effect.gen(function*() {
    const { registry, logs, jvm } = instance
    const touched = steps.touched()
    const note = (e: ServiceError) => Effect.zipRight(Effect.logWarning(e.message), Effect.sync(() => record.problems.push(e.message)))
    if (Option.isSome(registry) && registry.value.noTeardown) {
      yield* collectLogs(registry.value, record, logs, touched, Exit.isFailure(exit))
      record.notes.push(`left running on ${touched.map((n) => n.name).join(", ")} (--no-teardown); \`ducktape clean\` removes it`)
      return
    }
    for (const node of [...touched].reverse()) yield* Effect.catchAll(steps.stopNode(node), note)
    // A stop that failed fails the test (TeardownFailed): its logs are what explains it.
    const failed = Exit.isFailure(exit) || record.problems.length > 0
    if (Option.isSome(registry)) yield* collectLogs(registry.value, record, logs, touched, failed)
    yield* Effect.forEach(touched, (n) => Effect.catchAll(steps.cleanNode(n), note), { concurrency: "unbounded", discard: true })
    if (jvm !== undefined) yield* Effect.forEach(touched, jvm.clear, { concurrency: "unbounded", discard: true })
    record.stoppedAt = Date.now()
  }).pipe(Effect.annotateLogs({ service: instance.id }))
