/** Files, directories and globs on disk: what a selection path names, walked in a stable order. */
import * as NodeFs from "node:fs/promises"
import * as NodePath from "node:path"
import { Effect, Option } from "effect"
import Picomatch from "picomatch"
import { DiscoveryError } from "../errors.js"
import { posix, testFilePattern } from "./names.js"
import { errorText, fail } from "./problems.js"

/** Never walked into: dependencies, results of earlier runs (they may hold copies of test files), and dot-dirs. */
const skippedDirs: ReadonlySet<string> = new Set(["node_modules", "results"])

type Kind = "file" | "dir"

export const statKind = (path: string): Effect.Effect<Option.Option<Kind>, DiscoveryError> =>
  Effect.tryPromise({ try: () => NodeFs.stat(path), catch: (e) => e }).pipe(
    Effect.map((s) => Option.some<Kind>(s.isDirectory() ? "dir" : "file")),
    Effect.catchAll((e) => {
      const code = (e as { code?: unknown }).code
      return code === "ENOENT" || code === "ENOTDIR" || code === "ELOOP"
        ? Effect.succeed(Option.none<Kind>())
        : fail(`cannot read ${path}: ${errorText(e)}`, "check the path's permissions")
    })
  )

/** A directory's entries with their kinds (symlinks followed, broken ones dropped), sorted by name. */
const listDir = (dir: string): Effect.Effect<ReadonlyArray<{ name: string; path: string; kind: Kind }>, DiscoveryError> =>
  Effect.gen(function*() {
    const entries = yield* Effect.tryPromise({
      try: () => NodeFs.readdir(dir, { withFileTypes: true }),
      catch: (e) => new DiscoveryError({ problem: `cannot list ${dir}: ${errorText(e)}`, fix: "check its permissions" })
    })
    const out: Array<{ name: string; path: string; kind: Kind }> = []
    for (const e of [...entries].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      const path = NodePath.join(dir, e.name)
      const kind: Option.Option<Kind> = e.isDirectory()
        ? Option.some("dir")
        : e.isFile()
        ? Option.some("file")
        : e.isSymbolicLink()
        ? yield* statKind(path)
        : Option.none()
      if (Option.isSome(kind)) out.push({ name: e.name, path, kind: kind.value })
    }
    return out
  })

export const realPath = (p: string) =>
  Effect.tryPromise({ try: () => NodeFs.realpath(p), catch: () => p }).pipe(Effect.merge)

/** Test files under a directory, in walk order (entries sorted by name, depth first). */
export const walk = (dir: string, visited: Set<string> = new Set()): Effect.Effect<ReadonlyArray<string>, DiscoveryError> =>
  Effect.gen(function*() {
    const real = yield* realPath(dir)
    if (visited.has(real)) return [] // a symlink cycle
    visited.add(real)
    const out: Array<string> = []
    for (const e of yield* listDir(dir)) {
      if (e.kind === "dir") {
        if (!e.name.startsWith(".") && !skippedDirs.has(e.name)) out.push(...(yield* walk(e.path, visited)))
      } else if (testFilePattern.test(e.name)) {
        out.push(e.path)
      }
    }
    return out
  })

/** `*` and `?` make a path a glob (a path with only `[` or `{` is taken literally); picomatch then matches it. */
export const hasGlob = (s: string) => /[*?]/.test(s)

/** A matcher for one path segment; picomatch skips dot-files unless the segment itself starts with a dot. */
const segmentMatcher = (segment: string) => Picomatch(segment)

/** Orders paths as a directory walk visits them. */
const walkOrder = (a: string, b: string) => {
  const x = a.split("/")
  const y = b.split("/")
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    if (x[i] !== y[i]) return x[i]! < y[i]! ? -1 : 1
  }
  return x.length - y.length
}

/** What an absolute glob pattern matches: files and directories; `**` is any number of directories. */
export const expandGlob = (pattern: string): Effect.Effect<ReadonlyArray<{ path: string; kind: Kind }>, DiscoveryError> =>
  Effect.gen(function*() {
    const segments = posix(pattern).split("/")
    // `dir/**` means everything below dir: the same as walking dir.
    while (segments.length > 1 && (segments.at(-1) === "**" || segments.at(-1) === "")) segments.pop()
    const first = segments.findIndex(hasGlob)
    const found = new Map<string, Kind>()
    const match = (dir: string, k: number): Effect.Effect<void, DiscoveryError> =>
      Effect.gen(function*() {
        if (k === segments.length) {
          const kind = yield* statKind(dir)
          if (Option.isSome(kind)) found.set(dir, kind.value)
          return
        }
        const segment = segments[k]!
        if (segment === "**") {
          yield* match(dir, k + 1)
          for (const e of yield* listDir(dir)) {
            if (e.kind === "dir" && !e.name.startsWith(".") && !skippedDirs.has(e.name)) yield* match(e.path, k)
          }
          return
        }
        if (!hasGlob(segment)) {
          const next = NodePath.join(dir, segment)
          if (k + 1 === segments.length) return yield* match(next, k + 1)
          if (Option.getOrUndefined(yield* statKind(next)) === "dir") yield* match(next, k + 1)
          return
        }
        const matches = segmentMatcher(segment)
        for (const e of yield* listDir(dir)) {
          if (!matches(e.name) || (e.name.startsWith(".") && !segment.startsWith("."))) continue
          if (k + 1 === segments.length) found.set(e.path, e.kind)
          else if (e.kind === "dir") yield* match(e.path, k + 1)
        }
      })
    if (first < 0) {
      yield* match(segments.join("/") || "/", segments.length)
    } else {
      const base = segments.slice(0, first).join("/") || "/"
      if (Option.getOrUndefined(yield* statKind(base)) === "dir") yield* match(base, first)
    }
    return [...found].map(([path, kind]) => ({ path, kind })).sort((a, b) => walkOrder(posix(a.path), posix(b.path)))
  })
