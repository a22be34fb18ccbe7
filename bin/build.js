#!/usr/bin/env node
// `npm run build` (and `prepare`, so `npm ci` leaves a built tree): src/ → dist/ with tsc, then the top-level help
// page rendered once from the built CLI, so `ducktape --help` can print it without loading the framework.
import { execFileSync } from "node:child_process"
import * as NodeFs from "node:fs"
import { createRequire } from "node:module"

const root = new URL("../", import.meta.url)
const dist = new URL("dist/", root)
// A file moved or removed in src/ must not live on in dist/ (and in the package) from an earlier build.
NodeFs.rmSync(dist, { recursive: true, force: true })
const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc")
execFileSync(process.execPath, [tsc, "-p", new URL("tsconfig.build.json", root).pathname], { stdio: "inherit" })
const help = execFileSync(process.execPath, [new URL("bin/ducktape.js", root).pathname, "--help"], {
  env: { ...process.env, FORCE_COLOR: "1", DUCKTAPE_RENDER_HELP: "1" },
  encoding: "utf8"
})
// Both renderings: with colours for a terminal, plain for pipes and NO_COLOR.
NodeFs.writeFileSync(new URL("help.ansi", dist), help)
NodeFs.writeFileSync(new URL("help.txt", dist), help.replace(/\x1b\[[0-9;]*m/g, ""))
