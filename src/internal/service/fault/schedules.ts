/** Faults on a schedule beside a workload (`during`), and a random node to aim one at. */
import { Cause, Effect, Exit, Fiber, Option, Random, Ref, Schedule, Scope } from "effect"
import type { ClusterNode } from "../../../Cluster.js"
import type * as F from "../../../Fault.js"

// Schedules of faults
// ---------------------------------------------------------------------------------------------------------

/** @internal */
export const during = <E, R, Out, R2>(
  schedule: Schedule.Schedule<Out, unknown, R2>,
  faultAt: (tick: number) => Effect.Effect<unknown, E, R | Scope.Scope>,
  options: F.DuringOptions
): Effect.Effect<F.Chaos<E>, E, Exclude<R, Scope.Scope> | R2 | Scope.Scope> =>
  Effect.gen(function*() {
    const applied = yield* Ref.make(0)
    const failure = yield* Ref.make<Option.Option<Cause.Cause<E>>>(Option.none())
    const ticks = yield* Ref.make(1)

    // The first fault is applied here, so that one that cannot be applied fails the caller.
    const first = yield* Scope.make()
    yield* Effect.addFinalizer(() => Scope.close(first, Exit.void))
    yield* faultAt(0).pipe(
      Scope.extend(first),
      Effect.onError((cause) => Scope.close(first, Exit.failCause(cause)))
    )
    yield* Ref.update(applied, (n) => n + 1)

    const tick = Effect.flatMap(Ref.getAndUpdate(ticks, (n) => n + 1), (n) =>
      Effect.scoped(
        Effect.gen(function*() {
          yield* faultAt(n)
          yield* Ref.update(applied, (k) => k + 1)
          yield* Effect.sleep(options.hold)
        })
      ))
    const loop = Effect.sleep(options.hold).pipe(
      Effect.zipRight(Scope.close(first, Exit.void)),
      Effect.zipRight(Effect.schedule(tick, schedule)),
      Effect.catchAllCause((cause) =>
        Cause.isInterruptedOnly(cause) ? Effect.void : Effect.zipRight(
          Ref.set(failure, Option.some(cause)),
          Effect.logWarning("a scheduled fault failed; no more faults are applied", cause)
        )
      )
    )
    const fiber = yield* Effect.forkScoped(loop)
    return {
      applied: Ref.get(applied),
      check: Effect.flatMap(Ref.get(failure), Option.match({ onNone: () => Effect.void, onSome: Effect.failCause })),
      stop: Effect.zipRight(Fiber.interrupt(fiber), Scope.close(first, Exit.void))
    } satisfies F.Chaos<E>
  })

/** @internal */
export const randomNode = (nodes: ReadonlyArray<ClusterNode>): Effect.Effect<ClusterNode> =>
  nodes.length === 0
    ? Effect.dieMessage("Fault.randomNode: no nodes to choose from")
    : Effect.map(Random.nextIntBetween(0, nodes.length), (i) => nodes[i]!)
