/**
 * Waiting for an HTTP service on a node, asked from the driver as a client of the service would (ducktape's
 * wait_for_http_service). It needs only the node's address; each failed try says why, so a timeout can.
 */
import { Effect } from "effect"
import type * as RA from "../../../RemoteAccount.js"
import * as Wait from "../../../Wait.js"

/** How long one try of waitForHttp may take. */
const httpTryTimeout = 5_000

/** What a failed fetch says, down to its cause (ECONNREFUSED, a timeout…). */
const describeFetchError = (e: unknown): string => {
  if (!(e instanceof Error)) return String(e)
  if (e.name === "TimeoutError") return `no answer within ${httpTryTimeout / 1000}s`
  const cause = (e as { cause?: unknown }).cause
  return cause instanceof Error ? `${e.message}: ${cause.message}` : e.message
}

/** `RemoteAccount.waitForHttp`. */
export const waitForHttp = (identity: RA.Identity, port: number, options: RA.WaitForHttpOptions = {}) => {
  const url = `http://${identity.externallyRoutableIp.includes(":") ? `[${identity.externallyRoutableIp}]` : identity.externallyRoutableIp}:${port}${options.path ?? "/"}`
  const tryOnce = Effect.tryPromise({
    // Aborted by an interruption as well as by its own time limit.
    try: (interrupted) =>
      fetch(url, {
        ...(options.headers === undefined ? {} : { headers: options.headers }),
        signal: AbortSignal.any([interrupted, AbortSignal.timeout(httpTryTimeout)])
      }),
    catch: (e) => new Error(describeFetchError(e))
  }).pipe(
    Effect.flatMap((response) => {
      // The body is not wanted; a body that failed must not surface as an unhandled rejection.
      response.body?.cancel().catch(() => {})
      return response.ok ? Effect.succeed(true) : Effect.fail(new Error(`status ${response.status}`))
    })
  )
  return Wait.waitUntil(tryOnce, {
    timeout: options.timeout ?? "60 seconds",
    backoff: "250 millis",
    retryOnError: true,
    errMsg: `nothing answered ${url} with a 2xx status`
  })
}
