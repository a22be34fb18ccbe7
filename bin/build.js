#!/usr/bin/env node
// `npm run build` (and `prepare`, so `npm ci` leaves a built tree): src/ → dist/ with tsc.
import { execFileSync } from "node:child_process"
import * as NodeFs from "node:fs"
import { createRequire } from "node:module"

const root = new URL("../", import.meta.url)
// A file moved or removed in src/ must not live on in dist/ (and in the package) from an earlier build.
NodeFs.rmSync(new URL("dist/", root), { recursive: true, force: true })
const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc")
execFileSync(process.execPath, [tsc, "-p", new URL("tsconfig.build.json", root).pathname], { stdio: "inherit" })
