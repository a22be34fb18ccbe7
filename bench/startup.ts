/**
 * CLI start-up, side by side with vitest's on the same machine in the same run: `ducktape --version`,
 * `ducktape --help`, a subcommand's help (which loads the CLI for real), and `vitest --version` as the anchor.
 * The commands run interleaved (one of each per round) so that load on the machine hits all alike. Prints one JSON
 * line per command and the ratios of the medians. Run after `npm run build`: `npx tsx bench/startup.ts [rounds]`.
 * With BASELINE=<another checkout>, that checkout's `ducktape --version` and `--help` run in the same rounds.
 */
import * as ChildProcess from "node:child_process"
import * as NodePath from "node:path"

const repo = NodePath.resolve(import.meta.dirname, "..")
const rounds = Number(process.argv[2] ?? 15)

const commands: Record<string, ReadonlyArray<string>> = {
  "vitest --version": [NodePath.join(repo, "node_modules/vitest/vitest.mjs"), "--version"],
  "ducktape --version": [NodePath.join(repo, "bin/ducktape.js"), "--version"],
  "ducktape --help": [NodePath.join(repo, "bin/ducktape.js"), "--help"],
  "ducktape lab --help": [NodePath.join(repo, "bin/ducktape.js"), "lab", "--help"]
}

const baseline = process.env["BASELINE"]
if (baseline !== undefined) {
  commands[`baseline ducktape --version`] = [NodePath.join(baseline, "bin/ducktape.js"), "--version"]
  commands[`baseline ducktape --help`] = [NodePath.join(baseline, "bin/ducktape.js"), "--help"]
}

const timeOnce = (args: ReadonlyArray<string>): number => {
  const start = process.hrtime.bigint()
  const ran = ChildProcess.spawnSync(process.execPath, args, { cwd: repo, stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, NO_COLOR: "1" } })
  const ms = Number(process.hrtime.bigint() - start) / 1e6
  if (ran.status !== 0) throw new Error(`${args.join(" ")} exited ${ran.status}: ${ran.stderr.toString()}`)
  return ms
}

const median = (xs: ReadonlyArray<number>) => {
  const sorted = [...xs].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)]!
}

const samples: Record<string, Array<number>> = Object.fromEntries(Object.keys(commands).map((k) => [k, []]))
for (const args of Object.values(commands)) timeOnce(args) // warm the file cache
for (let i = 0; i < rounds; i++) {
  for (const [name, args] of Object.entries(commands)) samples[name]!.push(timeOnce(args))
}
const anchor = median(samples["vitest --version"]!)
for (const [name, xs] of Object.entries(samples)) {
  const m = median(xs)
  console.log(JSON.stringify({ command: name, medianMs: Math.round(m), minMs: Math.round(Math.min(...xs)), maxMs: Math.round(Math.max(...xs)), vsVitestVersion: +(m / anchor).toFixed(2) }))
}
