import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { drive } from "../bench/chaos/driver.js"

describe("chaos", () => {
  // Four runs of three chaos tests through the CLI on a 3-host lab: a normal end, Ctrl-C while a fault is applied,
  // SIGKILL while a bandwidth limit is applied (then `ducktape clean`), a normal end. Seed 10 plans, among others,
  // a test that runs past its timeout, planned failures, partitions, packet loss, pauses, kills with restarts and
  // bandwidth limits (see bench/chaos/plan.ts).
  it.live("nothing leaks after failures, timeouts, Ctrl-C and SIGKILL, and every collected log is complete", () =>
    Effect.gen(function*() {
      const lines: Array<string> = []
      const outcome = yield* drive({
        runs: 4,
        seed: 10,
        tests: ["a3", "b2", "d1"],
        testTimeout: "5s",
        endings: ["normal", "sigint", "sigkill", "normal"],
        keep: false,
        log: (line) => lines.push(line)
      })
      const context = `${lines.join("\n")}\n\n${outcome.markdown}`
      expect(outcome.failures, context).toEqual([])
      expect(outcome.ok).toBe(true)

      const [first, interrupted, killed, last] = outcome.runs
      // Each run ended the way it was meant to, so each path was exercised.
      expect([first?.sent, last?.sent], context).toEqual([undefined, undefined])
      expect(interrupted?.sent?.signal, context).toBe("SIGINT")
      expect(interrupted?.exit).toBe("130")
      expect(killed?.sent?.signal, context).toBe("SIGKILL")
      // The killed driver left processes and a bandwidth limit's rules; `ducktape clean` removed them all.
      expect(killed?.leftovers.processes.length, context).toBeGreaterThan(0)
      expect(killed?.leftovers.iptablesRules.length, context).toBeGreaterThan(0)
      expect(killed?.clean?.how).toBe("ducktape clean")
      expect(killed?.clean?.removed["process"] ?? 0, context).toBeGreaterThan(0)
      expect(killed?.clean?.removed["qdisc"] ?? 0, context).toBe(1)
      // Logs were collected, complete, in every run that was not killed; tests failed, timed out and passed.
      for (const run of [first, interrupted, last]) {
        expect(run?.logs?.checked, context).toBeGreaterThan(0)
        expect(run?.logs?.incomplete).toEqual([])
      }
      const statuses = outcome.runs.flatMap((r) => r.tests.map((t) => `${t.status} ${t.failureTag ?? ""}`.trim()))
      expect(statuses, context).toEqual(expect.arrayContaining(["PASS", "FAIL AssertionFailed", "FAIL TestTimeout"]))
    }), 240_000)
})
