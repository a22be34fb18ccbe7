#!/usr/bin/env node
// The `ducktape` command: checks the `effect` that the framework will share with the user's tests — a missing,
// wrong or second copy of it would otherwise surface as "Not a valid effect" in every test — and runs the built CLI.
import * as NodeFs from "node:fs"
import { createRequire } from "node:module"
import * as NodePath from "node:path"

const ownPackage = JSON.parse(NodeFs.readFileSync(new URL("../package.json", import.meta.url), "utf8"))
const args = process.argv.slice(2)

// An older Node fails later with a TypeError from deep inside (node:module has no `register` before 20.6).
const oldNode = nodeProblem()
if (oldNode !== undefined) {
  process.stderr.write(`error: ${oldNode}\n`)
  process.exit(2)
}

// `--help` and `--version` are answered by the CLI's entry before it loads Effect: they need no check.
const quick = args.some((a) => a === "--help" || a === "-h" || a === "--version")
const problem = quick ? undefined : effectProblem()
if (problem !== undefined) {
  process.stderr.write(`error: ${problem}\n`)
  process.exit(2)
}
const built = new URL("../dist/bin.js", import.meta.url)
if (!NodeFs.existsSync(built)) {
  process.stderr.write("error: ducktape-effect is not built (no dist/): run `npm run build` in its checkout\n")
  process.exit(2)
}
await import(built.href)

/**
 * What is wrong with the `effect` this process would run with, if anything: missing, outside the range in our
 * peerDependencies, or a different copy from the one the user's project (the current directory) resolves — the
 * framework and the tests must share one, or Effect values made by one are not effects to the other.
 */
function effectProblem() {
  const range = ownPackage.peerDependencies.effect
  const ours = packageOf(createRequire(import.meta.url))
  if (ours === undefined) {
    return `ducktape-effect needs the package \`effect\` (${range}), and none is installed: run \`npm install effect@${majorOf(range)}\``
  }
  if (!satisfies(ours.version, range)) {
    return `ducktape-effect needs \`effect\` ${range}, and found ${ours.version} (${ours.dir}): ` +
      `run \`npm install effect@${majorOf(range)}\` (ducktape-effect does not run on Effect ${majorOf(ours.version)} yet)`
  }
  const theirs = packageOf(createRequire(NodePath.join(process.cwd(), "package.json")))
  if (theirs !== undefined && theirs.dir !== ours.dir) {
    return `two copies of \`effect\` are installed: ${theirs.version} for this project (${theirs.dir}) and ` +
      `${ours.version} for ducktape-effect (${ours.dir}); tests made with one are not effects to the other. ` +
      `Install one version that satisfies ${range} in this project (\`npm install effect@${ours.version}\`), then \`npm dedupe\``
  }
  return undefined
}

/** What is wrong with this Node.js, if anything: older than our `engines` says (`>=X.Y.Z`). */
function nodeProblem() {
  const needed = ownPackage.engines.node.replace(/^>=/, "")
  const [major, minor, patch] = numbers(process.versions.node)
  const [nMajor, nMinor, nPatch] = numbers(needed)
  const newEnough = major !== nMajor ? major > nMajor : minor !== nMinor ? minor > nMinor : patch >= nPatch
  return newEnough
    ? undefined
    : `ducktape-effect needs Node.js ${needed} or later (it loads your TypeScript test files through node:module's ` +
      `register), and this is ${process.versions.node}: install a newer Node.js, e.g. the current LTS`
}

function packageOf(require) {
  try {
    const file = require.resolve("effect/package.json")
    return { dir: NodePath.dirname(NodeFs.realpathSync(file)), version: JSON.parse(NodeFs.readFileSync(file, "utf8")).version }
  } catch {
    return undefined
  }
}

/** Whether `version` satisfies a caret range `^X.Y.Z` (the only form our peerDependencies use). */
function satisfies(version, range) {
  const [major, minor, patch] = numbers(version)
  const [rMajor, rMinor, rPatch] = numbers(range.replace(/^\^/, ""))
  return major === rMajor && (minor > rMinor || (minor === rMinor && patch >= rPatch))
}

function numbers(version) {
  return version.split("-")[0].split(".").map(Number)
}

function majorOf(version) {
  return numbers(version.replace(/^\^/, ""))[0]
}
