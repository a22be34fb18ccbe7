/**
 * waitUntil on the TestClock: time only moves when the test moves it, so "no sleep after success" and "gives up
 * after the timeout" are checked exactly, without waiting.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Option, Ref, Schedule, TestClock } from "effect"
import * as Wait from "../src/Wait.js"

/** A condition that becomes true on its `n`th check, counting checks. */
const trueOnCheck = (n: number) =>
  Effect.map(Ref.make(0), (checks) => ({
    checks,
    condition: Ref.updateAndGet(checks, (c) => c + 1).pipe(Effect.map((c) => c >= n))
  }))

describe("waitUntil", () => {
  it.effect("returns at once when the condition already holds (no sleep after a success)", () =>
    Effect.gen(function*() {
      const { checks, condition } = yield* trueOnCheck(1)
      // On the TestClock any sleep would block this forever: the clock never moves by itself.
      yield* Wait.waitUntil(condition, { timeout: "10 seconds" })
      expect(yield* Ref.get(checks)).toBe(1)
    }))

  it.effect("checks again after each backoff and stops at the first success", () =>
    Effect.gen(function*() {
      const { checks, condition } = yield* trueOnCheck(3)
      const fiber = yield* Effect.fork(Wait.waitUntil(condition, { timeout: "10 seconds", backoff: "1 second" }))
      yield* TestClock.adjust("1 second")
      expect(yield* Ref.get(checks)).toBe(2)
      expect(Option.isNone(yield* Fiber.poll(fiber))).toBe(true)
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(fiber)
      expect(yield* Ref.get(checks)).toBe(3)
      // Nothing keeps checking after the success.
      yield* TestClock.adjust("5 seconds")
      expect(yield* Ref.get(checks)).toBe(3)
    }))

  it.effect("uses the default backoff of 100 millis, or any Schedule", () =>
    Effect.gen(function*() {
      const first = yield* trueOnCheck(5)
      const fiber = yield* Effect.fork(Wait.waitUntil(first.condition, { timeout: "10 seconds" }))
      yield* TestClock.adjust("400 millis")
      yield* Fiber.join(fiber)
      expect(yield* Ref.get(first.checks)).toBe(5)

      const second = yield* trueOnCheck(4)
      // Exponential: 10, 20, 40 millis apart.
      const exponential = yield* Effect.fork(
        Wait.waitUntil(second.condition, { timeout: "10 seconds", backoff: Schedule.exponential("10 millis") })
      )
      yield* TestClock.adjust("30 millis")
      expect(Option.isNone(yield* Fiber.poll(exponential))).toBe(true)
      yield* TestClock.adjust("40 millis")
      yield* Fiber.join(exponential)
      expect(yield* Ref.get(second.checks)).toBe(4)
    }))

  it.effect("fails with WaitTimeout after the timeout, saying what it waited for", () =>
    Effect.gen(function*() {
      const { checks, condition } = yield* trueOnCheck(Number.POSITIVE_INFINITY)
      const fiber = yield* Effect.fork(
        Effect.flip(Wait.waitUntil(condition, { timeout: "2 seconds", backoff: "500 millis", errMsg: "broker never joined" }))
      )
      yield* TestClock.adjust("1999 millis")
      expect(Option.isNone(yield* Fiber.poll(fiber))).toBe(true)
      yield* TestClock.adjust("1 millis")
      const error = yield* Fiber.join(fiber)
      expect(error._tag).toBe("WaitTimeout")
      expect(error.attempts).toBe(yield* Ref.get(checks))
      expect(error.attempts).toBeGreaterThanOrEqual(4)
      expect(error.message).toContain("broker never joined")
      expect(error.message).toContain("2s")
    }))

  it.effect("builds a lazy error message only on timeout", () =>
    Effect.gen(function*() {
      let built = 0
      const errMsg = () => `built ${++built}`
      yield* Wait.waitUntil(Effect.succeed(true), { timeout: "1 second", errMsg })
      expect(built).toBe(0)
      const fiber = yield* Effect.fork(Effect.flip(Wait.waitUntil(Effect.succeed(false), { timeout: "1 second", errMsg })))
      yield* TestClock.adjust("1 second")
      expect((yield* Fiber.join(fiber)).message).toContain("built 1")
    }))

  it.effect("fails with the condition's own error at once, unless retryOnError", () =>
    Effect.gen(function*() {
      const checks = yield* Ref.make(0)
      // Fails twice, then holds.
      const flaky = Ref.updateAndGet(checks, (c) => c + 1).pipe(
        Effect.flatMap((c) => (c <= 2 ? Effect.fail(new Error(`not ready (${c})`)) : Effect.succeed(true)))
      )
      const immediate = yield* Effect.flip(Wait.waitUntil(flaky, { timeout: "10 seconds" }))
      expect(immediate).toBeInstanceOf(Error)
      expect(yield* Ref.get(checks)).toBe(1)

      yield* Ref.set(checks, 0)
      const retrying = yield* Effect.fork(Wait.waitUntil(flaky, { timeout: "10 seconds", retryOnError: true }))
      yield* TestClock.adjust("200 millis")
      yield* Fiber.join(retrying)
      expect(yield* Ref.get(checks)).toBe(3)
    }))

  it.effect("with retryOnError, a timeout reports the last error", () =>
    Effect.gen(function*() {
      const failing = Effect.fail(new Error("connection refused"))
      const fiber = yield* Effect.fork(
        Effect.flip(Wait.waitUntil(failing, { timeout: "1 second", retryOnError: true }))
      )
      yield* TestClock.adjust("1 second")
      const error = yield* Fiber.join(fiber)
      expect(error).toBeInstanceOf(Wait.WaitTimeout)
      if (!(error instanceof Wait.WaitTimeout)) return
      expect(error.lastError).toBe("connection refused")
      expect(error.message).toContain("last error: connection refused")
    }))

  it.effect("a backoff Schedule that ends before the timeout gives up then, and says so", () =>
    Effect.gen(function*() {
      const { condition } = yield* trueOnCheck(Number.POSITIVE_INFINITY)
      const fiber = yield* Effect.fork(
        Effect.flip(Wait.waitUntil(condition, { timeout: "1 minute", backoff: Schedule.spaced("1 second").pipe(Schedule.compose(Schedule.recurs(2))) }))
      )
      yield* TestClock.adjust("2 seconds")
      const error = yield* Fiber.join(fiber)
      expect(error._tag).toBe("WaitTimeout")
      expect(error.attempts).toBe(3)
      expect(error.message).toContain("gave up after 3 checks, when its backoff schedule ended (before the 1m timeout)")
    }))
})
