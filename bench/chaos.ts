/**
 * Chaos: proves that nothing leaks when tests fail, run past their timeout, are interrupted with Ctrl-C, or their
 * driver is killed with SIGKILL — faults healed, processes stopped, workdirs cleaned, every log collected complete.
 *
 *   npx tsx bench/chaos.ts [--runs N] [--seed S] [--tests a3,b2,c2,d1,e1] [--test-timeout 8s]
 *                          [--endings normal,sigint,sigkill,normal] [--json FILE] [--keep]
 *
 * Brings up a 3-node lab (as root), runs the chaos suite N times through the CLI, checks after every run, and
 * prints a Markdown summary (the figures of RELIABILITY.md); see bench/chaos/driver.ts. Exits 1 if anything
 * leaked or a log was incomplete. Ctrl-C stops the run in progress and takes the lab down.
 */
import * as NodeFs from "node:fs"
import { NodeRuntime } from "@effect/platform-node"
import { Effect } from "effect"
import { allTests, defaultEndings, drive, type Ending, type Options } from "./chaos/driver.js"

const usage = "usage: npx tsx bench/chaos.ts [--runs 1..1000] [--seed N] [--tests a3,b2,c2,d1,e1] [--test-timeout 8s] " +
  "[--endings normal,sigint,sigkill,normal] [--json FILE] [--keep]"

const parse = (argv: ReadonlyArray<string>): (Options & { readonly json: string | undefined }) | string => {
  const value = (flag: string) => {
    const i = argv.indexOf(flag)
    return i >= 0 ? argv[i + 1] : undefined
  }
  const runs = Number(value("--runs") ?? 12)
  const seed = Number(value("--seed") ?? 1)
  const tests = (value("--tests") ?? allTests.join(",")).split(",").filter((t) => t !== "")
  const endings = (value("--endings") ?? defaultEndings.join(",")).split(",").filter((e) => e !== "")
  if (!Number.isInteger(runs) || runs < 1 || runs > 1000) return `--runs must be 1..1000`
  if (!Number.isInteger(seed)) return `--seed must be an integer`
  const unknownTest = tests.find((t) => !allTests.includes(t))
  if (unknownTest !== undefined || tests.length === 0) return `--tests takes some of ${allTests.join(",")}`
  const unknownEnding = endings.find((e) => !["normal", "sigint", "sigkill"].includes(e))
  if (unknownEnding !== undefined || endings.length === 0) return `--endings takes normal, sigint and sigkill`
  return {
    runs,
    seed,
    tests,
    endings: endings as ReadonlyArray<Ending>,
    testTimeout: value("--test-timeout") ?? "8s",
    keep: argv.includes("--keep"),
    json: value("--json"),
    log: (line) => process.stderr.write(`${line}\n`)
  }
}

const options = parse(process.argv.slice(2))
if (typeof options === "string") {
  process.stderr.write(`${options}\n${usage}\n`)
  process.exit(2)
}

NodeRuntime.runMain(
  drive(options).pipe(
    Effect.flatMap((outcome) =>
      Effect.sync(() => {
        process.stdout.write(outcome.markdown)
        if (options.json !== undefined) NodeFs.writeFileSync(options.json, JSON.stringify(outcome, null, 2))
        process.exitCode = outcome.ok ? 0 : 1
      })
    )
  )
)
