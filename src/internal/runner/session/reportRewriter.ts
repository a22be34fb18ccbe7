/**
 * Reports rewritten while a session runs, so that a run killed outright (SIGKILL, a CI job's hard timeout) still
 * leaves reports of what finished: at most every few seconds, one rewrite at a time, and a result that comes too
 * soon after a rewrite schedules a trailing one.
 */
import { Duration, Effect, Fiber } from "effect"
import * as Report from "../../../Report.js"
import type { SessionResults } from "../../../Results.js"

/** How often reports are rewritten while a session runs. */
const progressReportInterval = 5_000

/** A rewriter of `dir`'s reports from `snapshot`. */
export const makeReportRewriter = (dir: string, snapshot: Effect.Effect<SessionResults>) => {
  let lastRewrite = Date.now()
  let rewriting: Fiber.RuntimeFiber<void> | undefined
  let trailing: Fiber.RuntimeFiber<void> | undefined
  const rewriteNow = Effect.suspend(() => {
    lastRewrite = Date.now()
    return snapshot.pipe(
      Effect.flatMap((session) => Effect.forkDaemon(Effect.ignore(Report.writeAll(dir, session)))),
      Effect.map((fiber) => {
        rewriting = fiber
      })
    )
  })
  /** Called when a result is recorded: rewrites now, or schedules a rewrite for when the interval has passed. */
  const rewrite: Effect.Effect<void> = Effect.suspend(() => {
    const wait = progressReportInterval - (Date.now() - lastRewrite)
    const busy = rewriting !== undefined && rewriting.unsafePoll() === null
    if (wait <= 0 && !busy) return rewriteNow
    if (trailing !== undefined && trailing.unsafePoll() === null) return Effect.void
    return Effect.sleep(Duration.millis(Math.max(wait, 200))).pipe(
      Effect.zipRight(Effect.suspend(() => (rewriting !== undefined ? Fiber.await(rewriting) : Effect.void))),
      Effect.zipRight(rewriteNow),
      Effect.forkDaemon,
      Effect.map((fiber) => {
        trailing = fiber
      })
    )
  })
  /** Before the final reports: no scheduled rewrite is left, and none in flight can land after (and over) them. */
  const settle: Effect.Effect<void> = Effect.suspend(() =>
    Effect.zipRight(
      trailing !== undefined ? Fiber.interrupt(trailing) : Effect.void,
      Effect.suspend(() => (rewriting !== undefined ? Effect.asVoid(Fiber.await(rewriting)) : Effect.void))
    )
  )
  return { rewrite, settle }
}
