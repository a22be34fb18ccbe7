/** A fault as a scoped resource: applied, recorded, and healed when its scope closes, even when interrupted. */
import { Effect, Fiber, Scope } from "effect"
import type * as F from "../../../Fault.js"
import { FaultError } from "../errors.js"
import type { CommandError } from "../../../RemoteAccount.js"
import { recordApplied } from "../faultLog.js"
import { fault, HealFailed } from "./commands.js"
import { healRetry, healTimeout } from "./limitsAndIds.js"

interface Spec<A> {
  readonly kind: string
  readonly id: string
  /** For the report: which nodes (`n1 | n2 n3`), and what was done. */
  readonly target: string
  readonly detail: string
  /** Does the work; interruptible. On failure or interruption `heal` runs at once. */
  readonly apply: Effect.Effect<A, FaultError>
  /** Undoes what `apply` did, whatever part of it ran; safe to run when nothing was applied. */
  readonly heal: Effect.Effect<void, HealFailed | CommandError>
}

/**
 * Runs `effect` to its end even when the calling fiber is interrupted meanwhile, in a fiber of its own that nothing
 * but the effect's own time limits can interrupt. A heal usually runs in a scope's release, and an interruption
 * that lands while it runs — a test's timeout or Ctrl-C right as its scope closes, a `during` loop stopped while a
 * tick heals — would otherwise cut it short: the release's interruptible region (needed for the time limit) lets
 * that interruption in, and the fault stayed applied.
 */
const toCompletion = <A, E>(effect: Effect.Effect<A, E>): Effect.Effect<A, E> =>
  Effect.uninterruptible(Effect.flatMap(Effect.forkDaemon(Effect.interruptible(effect)), Fiber.join))

/**
 * Registers the heal before applying, so that no way out of the scope (nor out of a half-done apply) leaves the
 * fault in place. The heal runs once to success, to its end whatever interrupts its caller; it is bounded by
 * `healTimeout` and only logs when it fails.
 */
export const scoped = <A extends object>(spec: Spec<A>): Effect.Effect<F.Fault & A, FaultError, Scope.Scope> =>
  Effect.gen(function*() {
    const lock = yield* Effect.makeSemaphore(1)
    let healed = false
    let markHealed: Effect.Effect<void> = Effect.void
    const heal = lock.withPermits(1)(Effect.suspend(() =>
      healed ? Effect.void : toCompletion(Effect.retry(spec.heal, healRetry).pipe(Effect.timeout(healTimeout))).pipe(
        Effect.matchCauseEffect({
          onSuccess: () =>
            Effect.zipRight(
              Effect.sync(() => {
                healed = true
              }),
              markHealed
            ),
          onFailure: (cause) =>
            Effect.logWarning(
              `could not heal ${spec.kind} ${spec.target} (fault ${spec.id}); \`ducktape clean\` removes what is left`,
              cause
            )
        })
      )
    ))
    yield* Effect.addFinalizer(() => heal)
    const extra = yield* spec.apply.pipe(Effect.onError(() => heal))
    markHealed = yield* recordApplied(spec.kind, spec.target, spec.detail)
    yield* Effect.logDebug(`applied ${spec.kind} ${spec.target}: ${spec.detail}`)
    const applied: F.Fault = { id: spec.id, kind: spec.kind, description: spec.target, heal }
    return { ...extra, ...applied }
  }).pipe(Effect.annotateLogs({ fault: spec.kind, faultId: spec.id }))
