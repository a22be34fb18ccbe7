import { Context, Effect, Option } from "effect"
import type { FaultRecord } from "../../Results.js"

/** Where the faults applied during a test are recorded, for its results and the report's timeline. */
export interface FaultLog {
  readonly records: Array<FaultRecord>
}

/** The current test's fault log (absent outside the runner: faults still work, unrecorded). */
export const FaultLog: Context.Tag<FaultLog, FaultLog> = Context.GenericTag<FaultLog>("ducktape-effect/FaultLog")

/** A fresh, empty log. */
export const makeLog = (): FaultLog => ({ records: [] })

/**
 * Records a one-shot fault (a kill, a bounce), which is never healed; returns the effect that records what
 * followed it: a restart (when it finished, or failed), or none.
 */
export const recordOneShot = (kind: string, target: string, detail: string) =>
  Effect.map(Effect.serviceOption(FaultLog), (log) => {
    const entry: { -readonly [K in keyof FaultRecord]: FaultRecord[K] } = { kind, target, detail, appliedAt: Date.now() }
    if (Option.isSome(log)) log.value.records.push(entry)
    return (outcome: NonNullable<FaultRecord["outcome"]>) =>
      Effect.sync(() => {
        entry.outcome = outcome
        if (outcome !== "not restarted") entry.restartedAt = Date.now()
      })
  })

/** Records a fault as applied; returns the effect that records it as healed. */
export const recordApplied = (kind: string, target: string, detail: string) =>
  Effect.map(Effect.serviceOption(FaultLog), (log) => {
    const entry: { -readonly [K in keyof FaultRecord]: FaultRecord[K] } = { kind, target, detail, appliedAt: Date.now() }
    if (Option.isSome(log)) log.value.records.push(entry)
    return Effect.sync(() => {
      entry.healedAt = Date.now()
    })
  })
