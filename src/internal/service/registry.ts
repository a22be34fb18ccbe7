/**
 * The registry of a test's services — their records, ids and which logs to keep — in a module of its own: the
 * machinery uses it without importing Service.ts.
 */
import { Context, Effect, Option } from "effect"
import type { ServiceRegistry as Registry } from "../../Service.js"

/** The current test's service registry. */
export const ServiceRegistry: Context.Tag<Registry, Registry> = Context.GenericTag<Registry>("ducktape-effect/ServiceRegistry")

/** @internal */
export const makeRegistry = (
  logsDir: string,
  options: { readonly noTeardown?: boolean; readonly jvmLogs?: boolean } = {}
): Registry => {
  const counts = new Map<string, number>()
  return {
    logsDir,
    noTeardown: options.noTeardown === true,
    jvmLogs: options.jvmLogs === true,
    records: [],
    collect: new Map(),
    nextOrder: (name) => {
      const next = (counts.get(name) ?? 0) + 1
      counts.set(name, next)
      return next
    }
  }
}

/** @internal */
export const markForCollect = (value: boolean) => (service: { readonly id: string }, logName?: string) =>
  Effect.serviceOption(ServiceRegistry).pipe(
    Effect.map(Option.map((r) => r.collect.set(logName === undefined ? service.id : `${service.id}/${logName}`, value)))
  )
