import * as NodeFs from "node:fs"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import { afterAll, beforeAll } from "vitest"
import * as Discovery from "../src/Discovery.js"
import * as Test from "../src/Test.js"
import * as Yaml from "../src/internal/shared/yaml.js"

// Real test files in a temporary project: they import the framework from this repository by file URL, and
// `effect` through a node_modules symlink, as a user's project would.
const testModule = new URL("../src/Test.ts", import.meta.url).href
const root = NodeFs.mkdtempSync(NodePath.join(NodeOs.tmpdir(), `ducktape-discovery-${process.pid}-`))

const header = `import { Effect } from "effect"\nimport * as Test from ${JSON.stringify(testModule)}\n`
const poison = (what: string) => `throw new Error(${JSON.stringify(`${what} must never be loaded`)})\n`

const files: Record<string, string> = {
  "examples/alpha.ducktape.ts": header + `
export const Alpha = Test.suite("Alpha", {
  first: Test.make(() => Effect.void),
  second: Test.make({ matrix: { i: [1, 2, 10] } }, ({ i }) => Effect.succeed(i))
})
export const helper = 42
export const solo = Test.make({ cluster: 2 }, () => Effect.void)
`,
  // Declared Zeta before Able: the module namespace lists them alphabetically, discovery must not.
  "examples/beta.ducktape.ts": header + `
export const Zeta = Test.suite("Zeta", { z: Test.make(() => Effect.void) })
export const Able = Test.suite("Able", {
  a: Test.make({ parametrize: [{ name: "x y", n: 1 }, { name: "z", n: 2 }] }, () => Effect.void)
})
`,
  "examples/nested/gamma.ducktape.ts": header + `export const G = Test.suite("Gamma", { g: Test.make(() => Effect.void) })\n`,
  "examples/helper.ts": poison("a helper without the .ducktape.ts suffix"),
  "examples/notes.test.ts": poison("a vitest file"),
  "examples/node_modules/dep/x.ducktape.ts": poison("node_modules"),
  "examples/.hidden/h.ducktape.ts": poison("a dot-directory"),
  "examples/results/old.ducktape.ts": poison("a results directory"),
  "other/custom-name.ts": header + `export const C = Test.suite("Custom", { c: Test.make(() => Effect.void) })\n`,
  "broken/syntax.ducktape.ts": header + `export const S = Test.suite("S", { s: Test.make(() => Effect.void) ) })\n`,
  "broken/throws.ducktape.ts": header + `throw new Error("boom at top level")\n`,
  "broken/missing.ducktape.ts": header + `import { nope } from "./nope.js"\nexport const M = Test.suite("M", { m: Test.make(() => Effect.succeed(nope)) })\n`,
  "broken/empty.ducktape.ts": header + `export const x = 1\n`,
  "broken/fine.ducktape.ts": header + `export const Fine = Test.suite("Fine", { ok: Test.make(() => Effect.void) })\n`,
  "nothing/README.md": "no tests here\n",
  // Two files whose module names are the same (a/b and a.b): their tests' ids are too.
  "twins/a/b.ducktape.ts": header + `export const S = Test.suite("S", { t: Test.make(() => Effect.void) })\n`,
  "twins/a.b.ducktape.ts": header + `export const S = Test.suite("S", { t: Test.make(() => Effect.fail("hidden?")) })\n`,
  // Parameters whose ids collide once spaces and non-ASCII letters are dropped.
  "clash/params.ducktape.ts": header +
    `export const t = Test.make({ parametrize: [{ v: "a b" }, { v: "ab" }, { v: "日本" }, { v: "中文" }] }, ({ v }) => Effect.succeed(v))\n`,
  "suites/main.yml": `# the main suite
import: common.yml
main:
  included:
    - ../examples/          # everything
  excluded: [ '../examples/beta.ducktape.ts' ]
also_able:
  - "../examples/beta.ducktape.ts::Able"
`,
  "suites/common.yml": `import: [main.yml]   # a cycle: tolerated
common:
- '../examples/nested/gamma.ducktape.ts::Gamma'
`,
  "suites/params.yml": `picked:
  - '../examples/alpha.ducktape.ts::Alpha.second@{"i": 10}'
  - ../examples/alpha.ducktape.ts::solo
`,
  "suites/empty.yml": "# nothing but a comment\n",
  "suites/list.yml": "- a\n- b\n",
  "suites/emptysuite.yml": "s1:\n  - ../examples/\ns2:\n",
  "suites/nosuch.yml": "s:\n  - ../examples/nope.ducktape.ts\n",
  "suites/excludesall.yml": `s:
  included: [../examples/beta.ducktape.ts]
  excluded: [../examples/beta.ducktape.ts::Zeta, ../examples/beta.ducktape.ts::Able]
`,
  "suites/unknownkey.yml": "s:\n  include: [../examples/]\n",
  "suites/badyaml.yml": "s:\n  - ../examples/\n  - ../x.ducktape.ts::S.t@{\"k\": 1}\n"
}

beforeAll(() => {
  for (const [path, text] of Object.entries(files)) {
    NodeFs.mkdirSync(NodePath.dirname(NodePath.join(root, path)), { recursive: true })
    NodeFs.writeFileSync(NodePath.join(root, path), text)
  }
  NodeFs.mkdirSync(NodePath.join(root, "emptydir"))
  NodeFs.symlinkSync(new URL("../node_modules", import.meta.url).pathname, NodePath.join(root, "node_modules"))
})
afterAll(() => NodeFs.rmSync(root, { recursive: true, force: true }))

const discover = (paths: ReadonlyArray<string>, more: Omit<Discovery.Selection, "paths" | "cwd"> = {}) =>
  Discovery.discover({ paths, cwd: root, ...more })
const ids = (paths: ReadonlyArray<string>, more: Omit<Discovery.Selection, "paths" | "cwd"> = {}) =>
  discover(paths, more).pipe(Effect.map((d) => d.cases.map((c) => c.id)))
const failure = (paths: ReadonlyArray<string>, more: Omit<Discovery.Selection, "paths" | "cwd"> = {}) =>
  Effect.flip(discover(paths, more))

const alpha = [
  "examples.alpha.Alpha.first",
  "examples.alpha.Alpha.second.i=1",
  "examples.alpha.Alpha.second.i=2",
  "examples.alpha.Alpha.second.i=10",
  "examples.alpha.solo"
]
const beta = ["examples.beta.Zeta.z", "examples.beta.Able.a.name=xy.n=1", "examples.beta.Able.a.name=z.n=2"]
const gamma = ["examples.nested.gamma.Gamma.g"]

describe("Discovery", () => {
  it.live("walks a directory for *.ducktape.ts files only, in walk order then declaration order", () =>
    Effect.gen(function*() {
      const found = yield* discover(["examples"])
      expect(found.cases.map((c) => c.id)).toEqual([...alpha, ...beta, ...gamma])
      expect(found.loadFailures).toEqual([])
      const solo = found.cases.find((c) => c.id === "examples.alpha.solo")!
      expect(solo).toMatchObject({ module: "examples.alpha", suite: undefined, name: "solo", spec: 2, parametrized: false })
      expect(solo.file).toBe(NodePath.join(root, "examples/alpha.ducktape.ts"))
    }))

  it.live("defaults to the working directory, which finds every test file under it", () =>
    Effect.gen(function*() {
      const found = yield* discover([])
      expect(found.cases.map((c) => c.id)).toEqual(
        expect.arrayContaining([...alpha, ...beta, ...gamma, "broken.fine.Fine.ok"])
      )
      expect(found.loadFailures.map((f) => f.module)).toEqual(
        ["broken.empty", "broken.missing", "broken.syntax", "broken.throws"]
      )
    }))

  it.live("a test whose id another file's test already has is kept, marked, not dropped", () =>
    Effect.gen(function*() {
      const found = yield* discover(["twins/"])
      expect(found.cases.map((c) => c.id)).toEqual(["twins.a.b.S.t", "twins.a.b.S.t"])
      expect(found.cases[0]!.problem).toBeUndefined()
      expect(found.cases[1]!.problem).toMatch(/its id is also the id of a test in twins\/a.*\.ducktape\.ts: rename/)
      // The same file selected twice is one case, not a clash.
      expect((yield* discover(["twins/a/b.ducktape.ts", "twins/a/b.ducktape.ts"])).cases).toHaveLength(1)
    }))

  it.live("every declared case shows up: parameters whose ids collide are kept, marked, not dropped", () =>
    Effect.gen(function*() {
      const found = yield* discover(["clash/"])
      expect(found.cases.map((c) => c.params)).toEqual([{ v: "a b" }, { v: "ab" }, { v: "日本" }, { v: "中文" }])
      expect(found.cases.map((c) => c.problem === undefined)).toEqual([true, false, true, false])
      expect(found.cases[3]!.problem).toMatch(/\{"v":"中文"\} give the same id as \{"v":"日本"\}/)
      // Selected twice, still each case once.
      expect((yield* discover(["clash/", "clash/params.ducktape.ts"])).cases).toHaveLength(4)
    }))

  it("an env gate not met names the variable and says it is unset, or what it is", () => {
    const gated = Test.make({ env: { NEEDS_IT: "1" } }, () => Effect.void)
    const where = { module: "m", file: "/x.ducktape.ts", suite: undefined, name: "t" }
    expect(Test.expand(gated, where, {})[0]!.ignored).toBe('needs NEEDS_IT="1" (it is unset)')
    expect(Test.expand(gated, where, { NEEDS_IT: "0" })[0]!.ignored).toBe('needs NEEDS_IT="1" (it is "0")')
  })

  it("derives module names from the path relative to the working directory", () => {
    expect(Discovery.moduleName("/p/examples/zookeeper.ducktape.ts", "/p")).toBe("examples.zookeeper")
    expect(Discovery.moduleName("/p/a/b/c.ducktape.mts", "/p")).toBe("a.b.c")
    expect(Discovery.moduleName("/p/other/custom-name.ts", "/p")).toBe("other.custom-name")
    expect(Discovery.moduleName("/q/x/y.ducktape.ts", "/p")).toBe("q.x.y")
    expect(Discovery.isTestFileName("a.ducktape.ts")).toBe(true)
    expect(Discovery.isTestFileName("a.test.ts")).toBe(false)
  })

  it.live("loads a file named explicitly whatever its name", () =>
    Effect.gen(function*() {
      expect(yield* ids(["other/custom-name.ts"])).toEqual(["other.custom-name.Custom.c"])
      expect(yield* ids([NodePath.join(root, "other/custom-name.ts")])).toEqual(["other.custom-name.Custom.c"])
    }))

  it.live("selects suites, tests, bare tests and cases by parameters", () =>
    Effect.gen(function*() {
      const file = "examples/alpha.ducktape.ts"
      expect(yield* ids([`${file}::Alpha`])).toEqual(alpha.slice(0, 4))
      expect(yield* ids([`${file}::Alpha.second`])).toEqual(alpha.slice(1, 4))
      expect(yield* ids([`${file}::solo`])).toEqual(["examples.alpha.solo"])
      expect(yield* ids([`${file}::Alpha.second@{"i":10}`])).toEqual(["examples.alpha.Alpha.second.i=10"])
      // declaration order, whatever the order in the symbol
      expect(yield* ids([`${file}::Alpha.second@[{"i":10},{"i":1}]`])).toEqual(
        ["examples.alpha.Alpha.second.i=1", "examples.alpha.Alpha.second.i=10"]
      )
      // key order does not matter, values compare as JSON
      expect(yield* ids([`examples/beta.ducktape.ts::Able.a@{"n":1,"name":"x y"}`])).toEqual([beta[1]])
      // several paths: given order, duplicates once
      expect(yield* ids([`${file}::solo`, "examples/beta.ducktape.ts::Zeta", `${file}::solo`, `${file}::Alpha.first`]))
        .toEqual(["examples.alpha.solo", "examples.beta.Zeta.z", "examples.alpha.Alpha.first"])
    }))

  it.live("explains a symbol that names nothing the file has", () =>
    Effect.gen(function*() {
      const file = "examples/alpha.ducktape.ts"
      const unknownSuite = yield* failure([`${file}::Nope`])
      expect(unknownSuite).toBeInstanceOf(Discovery.DiscoveryError)
      expect(unknownSuite.problem).toContain("has no suite or test named Nope")
      expect(unknownSuite.problem).toContain("Alpha (first, second)")
      expect(unknownSuite.problem).toContain("solo")
      const unknownTest = yield* failure([`${file}::Alpha.third`])
      expect(unknownTest.problem).toContain("suite Alpha has no test third; it has first, second")
      const noCase = yield* failure([`${file}::Alpha.second@{"i":3}`])
      expect(noCase.problem).toContain(`its cases are {"i":1}, {"i":2}, {"i":10}`)
      const notParametrized = yield* failure([`${file}::Alpha.first@{"i":1}`])
      expect(notParametrized.problem).toContain("has no parameters")
      expect(notParametrized.fix).toContain(`${file}::Alpha.first`)
    }))

  it.live("rejects invalid parameter JSON, naming the symbol and the JSON problem", () =>
    Effect.gen(function*() {
      const symbol = `examples/alpha.ducktape.ts::Alpha.second@{i:1}`
      const e = yield* failure([symbol])
      expect(e.problem).toContain(JSON.stringify(symbol))
      expect(e.problem).toMatch(/cannot parse the parameters \{i:1\} as JSON: .*property name/i)
      expect(e.message).toContain("fix: write the parameters as JSON")
      const notObject = yield* failure([`examples/alpha.ducktape.ts::Alpha.second@[1]`])
      expect(notObject.problem).toContain("must be a JSON object or a non-empty array of objects")
      // invalid in --exclude too
      const excluded = yield* failure(["examples"], { exclude: ["examples/alpha.ducktape.ts::Alpha@{"] })
      expect(excluded.problem).toMatch(/^--exclude: invalid symbol/)
    }))

  it.live("expands globs: * and ? within a directory, ** across directories, test files only", () =>
    Effect.gen(function*() {
      expect(yield* ids(["examples/*.ducktape.ts"])).toEqual([...alpha, ...beta])
      expect(yield* ids(["examples/b?ta.ducktape.ts"])).toEqual(beta)
      // picomatch's braces and classes within a segment, as shells and other tools read them
      expect(yield* ids(["examples/{alpha,beta}.ducktape.*"])).toEqual([...alpha, ...beta])
      expect(yield* ids(["examples/[b]eta.*"])).toEqual(beta)
      expect(yield* ids(["examples/**/*.ducktape.ts"])).toEqual([...alpha, ...beta, ...gamma])
      expect(yield* ids(["ex*/**"])).toEqual([...alpha, ...beta, ...gamma])
      // directories matched are walked; non-test files matched are not loaded (helper.ts would throw)
      expect(yield* ids(["examples/*"])).toEqual([...alpha, ...beta, ...gamma])
      expect(yield* ids(["examples/*.ducktape.ts::Zeta"])).toEqual(["examples.beta.Zeta.z"])
      const none = yield* failure(["examples/*.nothing.ts"])
      expect(none.problem).toBe("no file or directory matches examples/*.nothing.ts")
      const notTests = yield* failure(["examples/*.test.ts"])
      expect(notTests.problem).toContain("matches 1 file but no test file: notes.test.ts")
      const noSuchSuite = yield* failure(["examples/*.ducktape.ts::Nope"])
      expect(noSuchSuite.problem).toContain("no file that examples/*.ducktape.ts covers has Nope")
    }))

  it.live("applies --exclude to files, suites, tests and cases", () =>
    Effect.gen(function*() {
      expect(yield* ids(["examples"], { exclude: ["examples/beta.ducktape.ts", "examples/nested"] })).toEqual(alpha)
      expect(yield* ids(["examples"], {
        exclude: ["examples/alpha.ducktape.ts::Alpha.second@{\"i\":2}", "examples/*.ducktape.ts::Zeta", "examples/alpha.ducktape.ts::solo"]
      })).toEqual([alpha[0], alpha[1], alpha[3], ...beta.slice(1), ...gamma])
      // excluding a file that would fail to load keeps it from loading at all
      const found = yield* discover(["broken"], { exclude: ["broken/throws.ducktape.ts", "broken/syntax.ducktape.ts"] })
      expect(found.loadFailures.map((f) => f.module)).toEqual(["broken.empty", "broken.missing"])
      // a typo in an exclusion is an error, not a silent no-op
      const typo = yield* failure(["examples"], { exclude: ["examples/alpha.ducktape.ts::Alpah"] })
      expect(typo.problem).toMatch(/^--exclude: examples\/alpha.ducktape.ts has no suite or test named Alpah/)
      const missing = yield* failure(["examples"], { exclude: ["examples/nope.ducktape.ts"] })
      expect(missing.problem).toBe("--exclude: no such file or directory: examples/nope.ducktape.ts")
      const all = yield* failure(["examples/beta.ducktape.ts"], { exclude: ["examples/beta.ducktape.ts"] })
      expect(all.problem).toContain("no tests to run")
      expect(all.problem).toContain("minus --exclude examples/beta.ducktape.ts")
    }))

  it.live("--parameters replaces every test's cases with exactly that one", () =>
    Effect.gen(function*() {
      const found = yield* discover(["examples/alpha.ducktape.ts"], { parameters: { i: 7 } })
      expect(found.cases.map((c) => c.id)).toEqual([
        "examples.alpha.Alpha.first.i=7",
        "examples.alpha.Alpha.second.i=7",
        "examples.alpha.solo.i=7"
      ])
      expect(found.cases.every((c) => c.parametrized && c.params["i"] === 7)).toBe(true)
      // selection by parameters then applies to the replaced cases
      expect(yield* ids([`examples/alpha.ducktape.ts::Alpha.second@{"i":7}`], { parameters: { i: 7 } }))
        .toEqual(["examples.alpha.Alpha.second.i=7"])
    }))

  it.live("reports files that fail to load instead of skipping them, and loads the rest", () =>
    Effect.gen(function*() {
      const found = yield* discover(["broken"])
      expect(found.cases.map((c) => c.id)).toEqual(["broken.fine.Fine.ok"])
      const byModule = Object.fromEntries(found.loadFailures.map((f) => [f.module, f]))
      expect(Object.keys(byModule)).toEqual(["broken.empty", "broken.missing", "broken.syntax", "broken.throws"])
      expect(byModule["broken.empty"]!.error).toContain("no Test.suite/Test.make exports")
      expect(byModule["broken.missing"]!.error).toMatch(/cannot import: .*nope/)
      expect(byModule["broken.syntax"]!.error).toMatch(/cannot import: /)
      expect(byModule["broken.syntax"]!.error.length).toBeGreaterThan("cannot import: ".length + 5)
      expect(byModule["broken.throws"]!.error).toContain("boom at top level")
      expect(byModule["broken.throws"]).toMatchObject({
        file: NodePath.join(root, "broken/throws.ducktape.ts"),
        symbol: "broken/throws.ducktape.ts"
      })
      // a file named alone that fails is a result (a failed test), not "no tests to run"
      const alone = yield* discover(["broken/throws.ducktape.ts"])
      expect(alone.cases).toEqual([])
      expect(alone.loadFailures).toHaveLength(1)
    }))

  it.live("says what is missing: a path, or any test at all", () =>
    Effect.gen(function*() {
      const missing = yield* failure(["examples", "nope/"])
      expect(missing.problem).toBe("no such file or directory: nope/")
      expect(missing.fix).toContain(`resolved against the working directory (${root})`)
      const none = yield* failure(["emptydir", "nothing"])
      expect(none.problem).toBe("no tests to run: searched emptydir (0 test files), nothing (0 test files)")
      expect(none.fix).toContain("*.ducktape.ts")
    }))

  it.live("runs test-suite YAML files: import (with cycles), included, excluded per suite", () =>
    Effect.gen(function*() {
      // common.yml (imported first) selects Gamma; main excludes beta but also_able still includes Able
      expect(yield* ids(["suites/main.yml"])).toEqual([...gamma, ...alpha, ...beta.slice(1)])
      // common.yml imports main.yml first, whose own import of common.yml is the tolerated cycle
      expect(yield* ids(["suites/common.yml"])).toEqual([...alpha, ...gamma, ...beta.slice(1)])
      expect(yield* ids(["suites/params.yml"])).toEqual(["examples.alpha.Alpha.second.i=10", "examples.alpha.solo"])
      // --exclude reaches into suites
      expect(yield* ids(["suites/main.yml"], { exclude: ["examples/alpha.ducktape.ts::Alpha", "examples/nested"] }))
        .toEqual(["examples.alpha.solo", ...beta.slice(1)])
      // tests named on the command line come in addition to suites, whatever the suites exclude
      expect(yield* ids(["suites/params.yml", "examples/beta.ducktape.ts::Zeta"]))
        .toEqual(["examples.alpha.Alpha.second.i=10", "examples.alpha.solo", "examples.beta.Zeta.z"])
      expect(yield* ids(["suites/p*.yml"])).toEqual(["examples.alpha.Alpha.second.i=10", "examples.alpha.solo"])
    }))

  it.live("explains broken suite files with the file, the line and the fix", () =>
    Effect.gen(function*() {
      const empty = yield* failure(["suites/empty.yml"])
      expect(empty.problem).toBe("suites/empty.yml is empty")
      expect(empty.fix).toContain("my_suite:")
      expect((yield* failure(["suites/list.yml"])).problem).toBe(
        "suites/list.yml must be a mapping of suite names to tests, but it holds a list"
      )
      expect((yield* failure(["suites/emptysuite.yml"])).problem).toBe("suites/emptysuite.yml:3: suite s2 is empty")
      expect((yield* failure(["suites/nosuch.yml"])).problem).toBe(
        "suites/nosuch.yml:2: no such file or directory: ../examples/nope.ducktape.ts"
      )
      expect((yield* failure(["suites/excludesall.yml"])).problem).toBe(
        "suites/excludesall.yml:1: suite s excludes every test it includes"
      )
      expect((yield* failure(["suites/unknownkey.yml"])).problem).toBe(
        `suites/unknownkey.yml:2: suite s has an unknown key "include"`
      )
      const yaml = yield* failure(["suites/badyaml.yml"])
      expect(yaml.problem).toBe(
        "suites/badyaml.yml:3:5: a mapping inside a list item is not supported; if this is a symbol containing `: `, " +
          "quote it ('…')"
      )
      const withSymbol = yield* failure(["suites/main.yml::main"])
      expect(withSymbol.problem).toContain("a suite file takes no ::symbol")
    }))

  it.live("symbolOf gives a symbol that selects exactly its case again", () =>
    Effect.gen(function*() {
      const found = yield* discover(["examples"])
      const symbols = found.cases.map((c) => Discovery.symbolOf(c, root))
      expect(symbols).toContain("examples/alpha.ducktape.ts::Alpha.first")
      expect(symbols).toContain(`examples/alpha.ducktape.ts::Alpha.second@{"i":10}`)
      expect(symbols).toContain("examples/alpha.ducktape.ts::solo")
      expect(symbols).toContain(`examples/beta.ducktape.ts::Able.a@{"name":"x y","n":1}`)
      for (const c of found.cases) {
        const symbol = Discovery.symbolOf(c, root)
        expect(Either.getOrThrow(Discovery.parseSymbol(symbol))).toEqual({
          path: NodePath.relative(root, c.file),
          name: c.suite ?? c.name,
          test: c.suite === undefined ? undefined : c.name,
          params: c.parametrized ? [c.params] : undefined
        })
        expect(yield* ids([symbol])).toEqual([c.id])
      }
    }))

  it("parses symbols", () => {
    const parse = (s: string) => Either.getOrThrow(Discovery.parseSymbol(s))
    expect(parse("a/b.ducktape.ts")).toEqual({ path: "a/b.ducktape.ts", name: undefined, test: undefined, params: undefined })
    expect(parse("f.ts::S")).toEqual({ path: "f.ts", name: "S", test: undefined, params: undefined })
    expect(parse("f.ts::S.t@[{\"a\":[1,2]},{\"b\":\"x@y\"}]")).toEqual(
      { path: "f.ts", name: "S", test: "t", params: [{ a: [1, 2] }, { b: "x@y" }] }
    )
    for (const bad of ["::S", "f.ts::", "f.ts::S.", "f.ts::.t", "f.ts::S.t@", "f.ts::S.t@[]", "f.ts::S.t@null"]) {
      expect(Either.isLeft(Discovery.parseSymbol(bad)), bad).toBe(true)
    }
  })
})

describe("YAML subset", () => {
  const parse = (text: string) => Either.getOrThrow(Yaml.parse(text))
  const error = (text: string) => Either.getOrThrow(Either.flip(Yaml.parse(text)))
  const plain = (node: Yaml.Node): unknown =>
    node._tag === "Null" ? null : node._tag === "Scalar" ? node.value : node._tag === "List"
      ? node.items.map(plain)
      : Object.fromEntries(node.entries.map((e) => [e.key, plain(e.value)]))

  it("parses mappings, block and flow lists, quoted and plain strings, comments", () => {
    const doc = parse(`---
# a comment
import: other.yml   # trailing comment
a:
  - plain#value with # a comment
  - 'single ''quoted'' # not a comment'
  - "double \\"quoted\\" \\u00e9 \\\\"
  -
  - [x, 'y, z', "w"]
b: [ one,
     two, # comment inside a flow list
     [nested] ]
c:
  included: []
  excluded:
  - p
  - ~
"quoted key": v
d:
`)
    expect(plain(doc)).toEqual({
      import: "other.yml",
      a: ["plain#value with", "single 'quoted' # not a comment", "double \"quoted\" é \\", null, ["x", "y, z", "w"]],
      b: ["one", "two", ["nested"]],
      c: { included: [], excluded: ["p", null] },
      "quoted key": "v",
      d: null
    })
    expect(doc._tag === "Map" && doc.entries.map((e) => e.line)).toEqual([3, 4, 10, 13, 18, 19])
    expect(plain(parse("# only a comment\n\n"))).toBe(null)
    expect(plain(parse("just text"))).toBe("just text")
    expect(plain(parse("k: file.ts::S.t@{\"x\":1}"))).toEqual({ k: "file.ts::S.t@{\"x\":1}" })
  })

  it("reads full YAML where the old subset refused: block scalars, anchors, flow mappings, folded plain lines", () => {
    expect(plain(parse("a: |\n  text\n"))).toEqual({ a: "text\n" })
    expect(plain(parse("base: &b [x, y]\na: *b\n"))).toEqual({ base: ["x", "y"], a: ["x", "y"] })
    expect(plain(parse("a: {included: [x]}\n"))).toEqual({ a: { included: ["x"] } })
    expect(plain(parse("a:\n  - x\n    y\n"))).toEqual({ a: ["x y"] })
    expect(plain(parse("a:\n  - k: v\n"))).toEqual({ a: [{ k: "v" }] })
    expect(plain(parse("a: '1'\nb: 1\nc: '~'\n"))).toEqual({ a: "1", b: "1", c: "~" })
  })

  it("refuses what is not YAML, with the line and a hint", () => {
    const cases: ReadonlyArray<[string, number, RegExp]> = [
      ["a:\n\t- x\n", 2, /Tabs are not allowed.*spaces only/],
      ["a:\n  - 'unterminated\n", 3, /Missing closing 'quote/],
      ["a: 1\nb: 2\na: 3\n", 3, /duplicate key "a" \(first defined on line 1\)/],
      ["a: [x, y\n", 2, /end with a \]/],
      ["a: *ref\n", 1, /Unresolved alias|not defined/],
      ["a: b: c\n", 1, /Nested mappings.*quote a value that contains `: `/],
      ["a: 1\n---\nb: 2\n", 2, /several YAML documents/],
      ["a:\n    - x\n  - y\n", 3, /block sequence/],
      ["  a: 1\nb: 2\n", 2, /Unexpected/],
      ["a: \"bad \\q escape\"\n", 1, /Invalid escape sequence \\q/],
      ["a: [x,, y]\n", 1, /Unexpected ,/]
    ]
    for (const [text, line, reason] of cases) {
      const e = error(text)
      expect(e.line, text).toBe(line)
      expect(e.reason, text).toMatch(reason)
      expect(e.message).toMatch(/^line \d+, column \d+: /)
    }
  })
})
