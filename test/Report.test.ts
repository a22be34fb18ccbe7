import * as ChildProcess from "node:child_process"
import * as NodeCrypto from "node:crypto"
import * as NodeFs from "node:fs"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"
import * as NodeUrl from "node:url"
import { afterAll, describe, expect, it } from "@effect/vitest"
import { Effect, Either, Exit } from "effect"
import type { BrowserContext, Page } from "playwright-core"
import { chromium } from "playwright-core"
import * as Yaml from "yaml"
import * as Report from "../src/Report.js"
import type { FaultRecord, ServiceSummary, SessionResults, TestResult } from "../src/Results.js"
import { counts } from "../src/Results.js"
import { rerunPrefix } from "../src/internal/cli/rerun.js"

// ---------------------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------------------

const T0 = Date.UTC(2026, 0, 15, 9, 30, 0)
const hostile = "<script>alert(1)</script>"
const hostileMessage = `broker said <img src=x onerror=alert(2)> ]]> \u0001\u001b[31mred\u001b[0m & "quotes" 'too'`

const service = (over: Partial<ServiceSummary> & Pick<ServiceSummary, "name">): ServiceSummary => ({
  id: `1-${over.name}-0`,
  nodes: ["worker1"],
  startedAt: T0 + 100,
  stoppedAt: T0 + 9_000,
  problems: [],
  notes: [],
  ...over
})

const fault = (over: Partial<FaultRecord> & Pick<FaultRecord, "kind">): FaultRecord => ({
  target: "worker1",
  detail: "",
  appliedAt: T0 + 2_000,
  ...over
})

/** A result with every required field filled; `module`, `name` and params make the id, as the runner does. */
const result = (over: Partial<TestResult> & Pick<TestResult, "module" | "name" | "status">): TestResult => {
  const params = over.params ?? {}
  const suffix = Object.entries(params).map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`).join(".")
  const id = [over.module, over.suite, over.name].filter((s) => s !== undefined).join(".") + (suffix === "" ? "" : `.${suffix}`)
  const file = `tests/${over.module}.ducktape.ts`
  const start = over.startTime ?? T0
  const seconds = over.runTimeSeconds ?? 3.25
  return {
    testId: id,
    params,
    description: "",
    file,
    symbol: `${file}::${[over.suite, over.name].filter((s) => s !== undefined).join(".")}` +
      (Object.keys(params).length === 0 ? "" : `@${JSON.stringify(params)}`),
    summary: over.status === "PASS" || over.status === "FLAKY" ? "Test Passed" : "failed",
    attempts: [],
    startTime: start,
    stopTime: start + seconds * 1000,
    runTimeSeconds: seconds,
    resultsDir: `${id}/1`,
    nodesAllocated: 1,
    nodesUsed: 1,
    nodes: ["worker1"],
    services: [],
    faults: [],
    ...over
  }
}

const passed = result({
  module: "produce_test",
  suite: "Produce",
  name: "throughput",
  status: "PASS",
  params: { acks: 1, size: "1k" },
  description: "Produces a million records and measures the rate.",
  startTime: T0 + 11_000,
  runTimeSeconds: 75.5,
  nodesAllocated: 3,
  nodesUsed: 3,
  nodes: ["worker1", "worker2", "worker3"],
  data: { rate: 123.4, unit: "records/s", latencies: [1, 2, 3], "</script><script>alert(3)</script>": "<!-- x" },
  // no `allocations`, as in results written before they were recorded: the timeline uses its nodes and run time
  services: [service({ name: "Kafka", nodes: ["worker1", "worker2"], startedAt: T0 + 11_100, stoppedAt: T0 + 80_000, notes: ["leader moved to worker2 at +3.1 s"] })]
})

const hostileFail = result({
  module: "evil",
  suite: "Suite",
  name: hostile,
  status: "FAIL",
  params: { evil: hostile, cdata: "]]>" },
  summary: hostileMessage,
  failure: {
    tag: "RemoteCommandError",
    message: hostileMessage,
    detail: `${hostileMessage}\n    at step (tests/evil.ducktape.ts:10:5)\n    at </script> (x.ts:1:1)`
  },
  resultsDir: "evil/Suite/p=a b#1/1",
  startTime: T0,
  runTimeSeconds: 10,
  nodesAllocated: 2,
  nodesUsed: 2,
  nodes: ["worker1", "worker2"],
  allocations: [{ nodes: ["worker1", "worker2"], allocatedAt: T0, releasedAt: T0 + 10_400 }],
  data: { "</script>": "<!--" },
  services: [
    service({ name: "ZooKeeper", nodes: ["worker1", "worker2"], problems: ["worker2: process exited with 137"], notes: [hostile] })
  ],
  faults: [
    fault({ kind: "partition", target: "worker1|worker2", detail: "iptables DROP both ways", appliedAt: T0 + 2_000, healedAt: T0 + 6_000 }),
    fault({ kind: "kill", target: "worker2", detail: "SIGKILL zookeeper", appliedAt: T0 + 7_000 }),
    fault({ kind: "kill", target: "worker1", detail: "SIGKILL etcd, then restart", appliedAt: T0 + 7_500, outcome: "restarted", restartedAt: T0 + 8_250 })
  ]
})

const flaky = result({
  module: "produce_test",
  suite: "Produce",
  name: "restart",
  status: "FLAKY",
  attempts: [
    { status: "FAIL", summary: "timed out waiting for leader", runTimeSeconds: 30 },
    { status: "FAIL", summary: "connection refused", runTimeSeconds: 12 },
    { status: "PASS", summary: "Test Passed", runTimeSeconds: 8 }
  ],
  nodes: ["worker4"],
  allocations: [
    { nodes: ["worker4"], allocatedAt: T0 + 200, releasedAt: T0 + 30_300 },
    { nodes: ["worker5"], allocatedAt: T0 + 30_500, releasedAt: T0 + 42_600 },
    { nodes: ["worker4"], allocatedAt: T0 + 43_000, releasedAt: T0 + 51_200 }
  ],
  runTimeSeconds: 50
})

const ignored = result({ module: "produce_test", suite: "Produce", name: "on_tls", status: "IGNORE", summary: "marked ignore", nodesAllocated: 0, nodesUsed: 0, nodes: [], resultsDir: "" })

const plainFail = result({
  module: "consume_test",
  name: "lag",
  status: "FAIL",
  params: { partitions: 12 },
  summary: "lag stayed above 1000 for 30 seconds",
  failure: { tag: "WaitTimeout", message: "lag stayed above 1000 for 30 seconds", detail: "WaitTimeout: lag stayed above 1000 for 30 seconds" },
  nodes: ["worker3"],
  allocations: [{ nodes: ["worker3"], allocatedAt: T0 + 200, releasedAt: T0 + 3_600 }],
  data: 42
})

const session = (over: Partial<SessionResults> = {}): SessionResults => ({
  sessionId: "2026-01-15--003",
  frameworkVersion: "0.1.0",
  startTime: T0,
  stopTime: T0 + 125_500,
  runTimeSeconds: 125.5,
  clusterNumNodes: 5,
  parallelism: 2,
  argv: ["tests/"],
  interrupted: true,
  notRun: ["consume_test.never_started"],
  results: [passed, hostileFail, flaky, ignored, plainFail],
  ...over
})

const full = session()

const tmp = NodeFs.mkdtempSync(NodePath.join(NodeOs.tmpdir(), `report-test-${process.pid}-`))
afterAll(() => NodeFs.rmSync(tmp, { recursive: true, force: true }))

const sh = (file: string, args: ReadonlyArray<string>) =>
  ChildProcess.spawnSync(file, args, { encoding: "utf8" })

const hasXmllint = sh("xmllint", ["--version"]).status === 0

// ---------------------------------------------------------------------------------------------------------
// report.txt
// ---------------------------------------------------------------------------------------------------------

describe("the end-of-run summary", () => {
  it("stays short however many tests ran: counts, failures' first lines, the rerun command, where the report is", () => {
    const many = Array.from({ length: 2000 }, (_, i) =>
      result({ module: "t", suite: "T", name: `case${i}`, status: i % 2 === 0 ? "PASS" : "FAIL", summary: `wrong ${i}\nsecond line ${i}` }))
    const argv = ["DUCKTAPE_LAB=1", "tests/", "--cluster-file", "lab/cluster.json", "--subsets", "2", "--subset", "1"]
    const s = Report.summary({ ...full, argv, rerun: rerunPrefix(argv), results: many }, {
      rerunFile: "results/x/rerun-failed.yml",
      reportFile: "results/x/report.txt"
    })
    const lines = s.split("\n")
    expect(lines.length).toBeLessThan(40)
    expect(s).toMatch(/2000 tests in .*: 1000 passed, 0 flaky, 1000 failed, 0 ignored/)
    expect(s).toContain("  t.T.case1: wrong 1\n")
    expect(s).not.toContain("second line")
    expect(s).toContain("… and 980 more (in the full report)")
    // The rerun repeats the environment gate and the cluster, not the selection (paths, shards).
    expect(s).toContain("  DUCKTAPE_LAB=1 npx ducktape --cluster-file lab/cluster.json results/x/rerun-failed.yml\n")
    expect(s).toContain("full report: results/x/report.txt")
    const local = ["--cluster", "localhost:3", "x.ducktape.ts"]
    expect(Report.text({ ...full, argv: local, rerun: rerunPrefix(local) })).toMatch(/^  npx ducktape --cluster localhost:3 <results dir>/m)
    // A session from before the CLI recorded its rerun command still says how to rerun.
    expect(Report.text({ ...full, argv: local })).toMatch(/^  npx ducktape <results dir>/m)
  })
})

describe("text", () => {
  const txt = Report.text(full, { rerunFile: "results/2026-01-15--003/rerun-failed.yml" })

  it("has ducktape's header with the counts", () => {
    expect(txt).toContain("SESSION REPORT (ALL TESTS)")
    expect(txt).toMatch(/ducktape version: +0\.1\.0/)
    expect(txt).toMatch(/session_id: +2026-01-15--003/)
    expect(txt).toMatch(/run time: +2 minutes 5\.500 seconds/)
    expect(txt).toMatch(/tests run: +5\n/)
    expect(txt).toMatch(/passed: +1\n/)
    expect(txt).toMatch(/flaky: +1\n/)
    expect(txt).toMatch(/failed: +2\n/)
    expect(txt).toMatch(/ignored: +1\n/)
    expect(txt).toMatch(/not run: +1\n/)
    expect(txt).toContain("interrupted")
  })

  it("has one block per test with status, run time, summary, data, services and faults", () => {
    expect(txt).toContain("test_id:    produce_test.Produce.throughput.acks=1.size=1k")
    expect(txt).toContain("run time:   1 minute 15.500 seconds")
    expect(txt).toContain("params:     acks=1, size=1k")
    expect(txt).toContain('"rate": 123.4')
    expect(txt).toContain("note: leader moved to worker2 at +3.1 s")
    expect(txt).toContain("problem: worker2: process exited with 137")
    expect(txt).toContain("fault partition on worker1|worker2 at +2.000s, healed at +6.000s: iptables DROP both ways")
    expect(txt).toContain("fault kill on worker2 at +7.000s, never healed")
    // A kill is not healed: the report says what followed it.
    expect(txt).toContain("fault kill on worker1 at +7.500s, restarted at +8.250s: SIGKILL etcd, then restart")
    expect(txt).toContain("marked ignore")
    expect(txt).toContain("1. FAIL after 30.000 seconds: timed out waiting for leader")
    // a passing test's "Test Passed" is not repeated, as in ducktape
    const passBlock = txt.slice(txt.indexOf("test_id:    produce_test.Produce.throughput"))
    expect(passBlock.slice(0, passBlock.indexOf("-".repeat(100)))).not.toContain("Test Passed")
    expect(txt.split("\n").filter((l) => /^=+$/.test(l)).every((l) => l.length === 100)).toBe(true)
  })

  it("lists the failed symbols quoted for a shell, and both rerun forms", () => {
    const section = txt.slice(txt.indexOf("FAILED TEST SYMBOLS"))
    expect(section).toContain(`  'tests/consume_test.ducktape.ts::lag@{"partitions":12}'`)
    expect(section).toContain(`npx ducktape 'tests/evil.ducktape.ts::Suite.${hostile}@`)
    expect(section).toContain("npx ducktape results/2026-01-15--003/rerun-failed.yml")
    expect(section).not.toContain("throughput")
    // the shell quoting holds: the command line splits back into exactly the symbols
    const line = section.split("\n").find((l) => l.trimStart().startsWith("npx ducktape 'tests"))!
    const argv = sh("/bin/sh", ["-c", `printf '%s\\n' ${line.trim().slice("npx ducktape ".length)}`]).stdout.trim().split("\n")
    expect(argv).toEqual([hostileFail.symbol, plainFail.symbol])
  })

  it("drops colour codes and makes other control characters visible instead of sending them to the terminal", () => {
    expect(txt).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f]/)
    expect(txt).toContain("]]> \\u0001red & \"quotes\"")
  })

  it("has no symbols section when nothing failed, and truncates huge data", () => {
    const big = result({ module: "m", name: "big", status: "PASS", data: { blob: "x".repeat(50_000) } })
    const t = Report.text(session({ results: [big], notRun: [], interrupted: false }))
    expect(t).not.toContain("FAILED TEST SYMBOLS")
    expect(t.length).toBeLessThan(10_000)
    expect(t).toContain("more characters; the whole value is in m.big/1/data.json")
  })
})

// ---------------------------------------------------------------------------------------------------------
// report.json
// ---------------------------------------------------------------------------------------------------------

describe("json", () => {
  it("round-trips through decodeJson", () => {
    const decoded = Report.decodeJson(Report.json(full))
    expect(Either.isRight(decoded)).toBe(true)
    expect(Either.getOrThrow(decoded)).toEqual(full)
  })

  it("is pretty and never fails on data JSON cannot hold", () => {
    const cyclic: Record<string, unknown> = { n: 10n }
    cyclic.self = cyclic
    const r = result({ module: "m", name: "cyclic", status: "PASS", data: cyclic })
    const text = Report.json(session({ results: [r] }))
    expect(text).toContain('\n  "sessionId": "2026-01-15--003"')
    const back = Either.getOrThrow(Report.decodeJson(text))
    expect(back.results[0]?.data).toEqual({ n: "10", self: "[Circular]" })
  })

  it("explains why a file is not a report", () => {
    const notJson = Report.decodeJson("{ nope", "old/report.json")
    const wrongShape = Report.decodeJson(JSON.stringify({ sessionId: 3 }), "old/report.json")
    for (const e of [notJson, wrongShape]) {
      expect(Either.isLeft(e)).toBe(true)
      const err = Either.getLeft(e)
      expect(err._tag === "Some" && err.value._tag).toBe("ReportError")
      expect(err._tag === "Some" && err.value.message).toMatch(/^old\/report\.json is not a ducktape report\.json: /)
    }
  })
})

// ---------------------------------------------------------------------------------------------------------
// report.xml
// ---------------------------------------------------------------------------------------------------------

// The schema Jenkins' xUnit plugin validates JUnit files against (junit-10.xsd, jenkinsci/xunit-plugin,
// MIT License, Copyright (c) 2014 Gregory Boissinot), reproduced element for element.
const junitXsd = `<?xml version="1.0" encoding="UTF-8" ?>
<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">
  <xs:simpleType name="SUREFIRE_TIME"><xs:restriction base="xs:string">
    <xs:pattern value="(([0-9]{0,3},)*[0-9]{3}|[0-9]{0,3})*(\\.[0-9]*)?"/></xs:restriction></xs:simpleType>
  <xs:complexType name="rerunType" mixed="true"><xs:sequence>
    <xs:element name="stackTrace" type="xs:string" minOccurs="0"/>
    <xs:element name="system-out" type="xs:string" minOccurs="0"/>
    <xs:element name="system-err" type="xs:string" minOccurs="0"/></xs:sequence>
    <xs:attribute name="message" type="xs:string"/><xs:attribute name="type" type="xs:string" use="required"/></xs:complexType>
  <xs:element name="failure"><xs:complexType mixed="true">
    <xs:attribute name="type" type="xs:string"/><xs:attribute name="message" type="xs:string"/></xs:complexType></xs:element>
  <xs:element name="error"><xs:complexType mixed="true">
    <xs:attribute name="type" type="xs:string"/><xs:attribute name="message" type="xs:string"/></xs:complexType></xs:element>
  <xs:element name="skipped"><xs:complexType mixed="true">
    <xs:attribute name="type" type="xs:string"/><xs:attribute name="message" type="xs:string"/></xs:complexType></xs:element>
  <xs:element name="properties"><xs:complexType><xs:sequence>
    <xs:element ref="property" minOccurs="0" maxOccurs="unbounded"/></xs:sequence></xs:complexType></xs:element>
  <xs:element name="property"><xs:complexType>
    <xs:attribute name="name" type="xs:string" use="required"/><xs:attribute name="value" type="xs:string" use="required"/></xs:complexType></xs:element>
  <xs:element name="system-err" type="xs:string"/>
  <xs:element name="system-out" type="xs:string"/>
  <xs:element name="rerunFailure" type="rerunType"/><xs:element name="rerunError" type="rerunType"/>
  <xs:element name="flakyFailure" type="rerunType"/><xs:element name="flakyError" type="rerunType"/>
  <xs:element name="testcase"><xs:complexType><xs:sequence><xs:choice minOccurs="0" maxOccurs="unbounded">
    <xs:element ref="skipped"/><xs:element ref="error"/><xs:element ref="failure"/>
    <xs:element ref="rerunFailure" minOccurs="0" maxOccurs="unbounded"/><xs:element ref="rerunError" minOccurs="0" maxOccurs="unbounded"/>
    <xs:element ref="flakyFailure" minOccurs="0" maxOccurs="unbounded"/><xs:element ref="flakyError" minOccurs="0" maxOccurs="unbounded"/>
    <xs:element ref="system-out"/><xs:element ref="system-err"/></xs:choice></xs:sequence>
    <xs:attribute name="name" type="xs:string" use="required"/><xs:attribute name="time" type="xs:string"/>
    <xs:attribute name="classname" type="xs:string"/><xs:attribute name="group" type="xs:string"/></xs:complexType></xs:element>
  <xs:element name="testsuite"><xs:complexType><xs:choice minOccurs="0" maxOccurs="unbounded">
    <xs:element ref="testsuite"/><xs:element ref="properties"/><xs:element ref="testcase"/>
    <xs:element ref="system-out"/><xs:element ref="system-err"/></xs:choice>
    <xs:attribute name="name" type="xs:string" use="required"/><xs:attribute name="tests" type="xs:string" use="required"/>
    <xs:attribute name="failures" type="xs:string" use="required"/><xs:attribute name="errors" type="xs:string" use="required"/>
    <xs:attribute name="group" type="xs:string"/><xs:attribute name="time" type="SUREFIRE_TIME"/>
    <xs:attribute name="skipped" type="xs:string"/><xs:attribute name="timestamp" type="xs:string"/>
    <xs:attribute name="hostname" type="xs:string"/><xs:attribute name="id" type="xs:string"/>
    <xs:attribute name="package" type="xs:string"/><xs:attribute name="file" type="xs:string"/>
    <xs:attribute name="log" type="xs:string"/><xs:attribute name="url" type="xs:string"/></xs:complexType></xs:element>
  <xs:element name="testsuites"><xs:complexType><xs:sequence>
    <xs:element ref="testsuite" minOccurs="0" maxOccurs="unbounded"/></xs:sequence>
    <xs:attribute name="name" type="xs:string"/><xs:attribute name="time" type="SUREFIRE_TIME"/>
    <xs:attribute name="tests" type="xs:string"/><xs:attribute name="failures" type="xs:string"/>
    <xs:attribute name="errors" type="xs:string"/></xs:complexType></xs:element>
</xs:schema>
`

// test/setup/globalSetup.ts installs libxml2-utils: without xmllint the schema checks fail, saying so, not skip.
describe("junit (checked with xmllint, from libxml2-utils)", () => {
  it("has xmllint to check with", () => {
    expect(hasXmllint, "xmllint is missing: apt-get install -y libxml2-utils (test/setup/globalSetup.ts installs it)").toBe(true)
  })

  const xmlPath = NodePath.join(tmp, "junit.xml")
  const xsdPath = NodePath.join(tmp, "junit-10.xsd")
  NodeFs.writeFileSync(xmlPath, Report.junit(full))
  NodeFs.writeFileSync(xsdPath, junitXsd)
  const xpath = (expr: string) => {
    const r = sh("xmllint", ["--xpath", expr, xmlPath])
    expect(r.stderr).toBe("")
    return r.stdout.replace(/\n$/, "")
  }

  it("is well-formed and valid against Jenkins' JUnit schema", () => {
    const r = sh("xmllint", ["--noout", "--schema", xsdPath, xmlPath])
    expect(r.stderr.trim()).toBe(`${xmlPath} validates`)
    expect(r.status).toBe(0)
  })

  it("has one suite per module and suite, with counts", () => {
    expect(xpath("string(/testsuites/@tests)")).toBe("6")
    expect(xpath("string(/testsuites/@failures)")).toBe("2")
    expect(xpath("string(/testsuites/@errors)")).toBe("1")
    expect(xpath("count(/testsuites/testsuite)")).toBe("4")
    const suite = "/testsuites/testsuite[@name='produce_test.Produce']"
    expect(xpath(`string(${suite}/@tests)`)).toBe("3")
    expect(xpath(`string(${suite}/@failures)`)).toBe("0")
    expect(xpath(`string(${suite}/@skipped)`)).toBe("1")
    expect(xpath(`string(${suite}/@time)`)).toBe("128.750")
    expect(xpath(`string(${suite}/testcase[@name='throughput.acks=1.size=1k']/@time)`)).toBe("75.500")
    expect(xpath(`string(${suite}/testcase[@name='on_tls']/skipped/@message)`)).toBe("marked ignore")
    expect(xpath("count(//failure)")).toBe("2")
    expect(xpath("string(/testsuites/testsuite[@name='not run']/testcase/@name)")).toBe("consume_test.never_started")
  })

  it("reports FLAKY as passed with the earlier attempts in system-out", () => {
    const tc = "//testcase[@name='restart']"
    expect(xpath(`count(${tc}/failure)`)).toBe("0")
    expect(xpath(`string(${tc}/system-out)`)).toContain("FLAKY: passed on attempt 3 after 2 failed attempts")
    expect(xpath(`string(${tc}/system-out)`)).toContain("attempt 1: FAIL after 30.000 seconds: timed out waiting for leader")
  })

  it("carries hostile strings intact, minus the characters XML cannot hold", () => {
    const clean = hostileMessage.replace(/[\u0001\u001b]/g, "")
    expect(xpath("string(//testcase[@classname='evil.Suite']/failure/@message)")).toBe(clean)
    expect(xpath("string(//testcase[@classname='evil.Suite']/failure/@type)")).toBe("RemoteCommandError")
    expect(xpath("string(//testcase[@classname='evil.Suite']/failure)")).toContain("at </script> (x.ts:1:1)")
    expect(xpath("string(//testcase[@classname='evil.Suite']/@name)")).toBe(`${hostile}.evil=${hostile}.cdata=]]>`)
  })
})

// ---------------------------------------------------------------------------------------------------------
// rerun-failed.yml and merge
// ---------------------------------------------------------------------------------------------------------

describe("rerunSuite", () => {
  it("is YAML of { sessionId: [failed symbols] }, read back by a YAML parser", () => {
    const weird = result({ module: "w", name: "t", status: "FAIL", symbol: "w.ts::t@{\"s\":\"a\\u0085b\u2028c\u007f\\\"\"}" })
    const yml = Report.rerunSuite(session({ results: [...full.results, weird] }))!
    expect(Yaml.parse(yml)).toEqual({ "2026-01-15--003": [hostileFail.symbol, plainFail.symbol, weird.symbol] })
  })

  it("written into a directory, names its tests relative to that directory, as suite files are read", () => {
    const fail = result({ module: "m", name: "t", status: "FAIL", symbol: `${NodePath.resolve("tests/m.ducktape.ts")}::t` })
    const dir = NodePath.resolve("results", "2026-01-15--003")
    const yml = Report.rerunSuite(session({ results: [fail] }), dir)!
    expect(Yaml.parse(yml)).toEqual({ "2026-01-15--003": ["../../tests/m.ducktape.ts::t"] })
  })

  it("is undefined when nothing failed", () => {
    expect(Report.rerunSuite(session({ results: [passed, flaky, ignored] }))).toBeUndefined()
  })
})

describe("merge", () => {
  it("concatenates shards, later results win, times span all, notRun excludes what ran", () => {
    const { failure: _failure, ...rest } = plainFail
    const plainPass: TestResult = { ...rest, status: "PASS", summary: "Test Passed" }
    const a = session({
      sessionId: "s1", startTime: T0, stopTime: T0 + 50_000, interrupted: false,
      notRun: ["consume_test.lag.partitions=12", "x.y"],
      results: [passed, plainPass]
    })
    const b = session({ sessionId: "s2", startTime: T0 - 5_000, stopTime: T0 + 20_000, interrupted: true, notRun: ["x.y", "z"], results: [plainFail, flaky] })
    const m = Report.merge([a, b])
    expect(m.results.map((r) => r.testId)).toEqual([passed.testId, plainFail.testId, flaky.testId])
    expect(m.results[1]?.status).toBe("FAIL")
    expect(counts(m.results)).toMatchObject({ total: 3, passed: 1, failed: 1, flaky: 1 })
    expect(m.startTime).toBe(T0 - 5_000)
    expect(m.stopTime).toBe(T0 + 50_000)
    expect(m.runTimeSeconds).toBe(55)
    expect(m.notRun).toEqual(["x.y", "z"])
    expect(m.interrupted).toBe(true)
    expect(m.sessionId).toBe("s1+s2")
    expect(Either.isRight(Report.decodeJson(Report.json(m)))).toBe(true)
  })

  it("keeps every run of a --repeat session: a failed run is not hidden by a later pass", () => {
    const run1: TestResult = { ...plainFail, resultsDir: `${plainFail.resultsDir}/1` }
    const { failure: _failure, ...rest } = plainFail
    const run2: TestResult = { ...rest, status: "PASS", summary: "Test Passed", resultsDir: `${plainFail.resultsDir}/2` }
    const m = Report.merge([session({ sessionId: "s1", results: [run1, run2] })])
    expect(m.results.map((r) => r.status)).toEqual(["FAIL", "PASS"])
    expect(counts(m.results)).toMatchObject({ total: 2, failed: 1 })
  })
})

// ---------------------------------------------------------------------------------------------------------
// writeAll
// ---------------------------------------------------------------------------------------------------------

describe("writeAll", () => {
  it.live("writes every report, leaves no temporary files, and removes a stale rerun file", () =>
    Effect.gen(function*() {
      const dir = NodePath.join(tmp, "write")
      const paths = yield* Report.writeAll(dir, full)
      expect([...paths].map((p) => NodePath.basename(p)).sort()).toEqual(
        ["report.html", "report.json", "report.txt", "report.xml", "rerun-failed.yml", "timeline.svg"]
      )
      expect(NodeFs.readdirSync(dir).sort()).toEqual(["report.html", "report.json", "report.txt", "report.xml", "rerun-failed.yml", "timeline.svg"])
      expect(NodeFs.readFileSync(NodePath.join(dir, "report.txt"), "utf8")).toContain("rerun-failed.yml")
      const again = yield* Report.writeAll(dir, session({ results: [passed], notRun: [] }))
      expect(again).toHaveLength(5)
      expect(NodeFs.readdirSync(dir).sort()).toEqual(["report.html", "report.json", "report.txt", "report.xml", "timeline.svg"])
    }))

  it.live("fails with a ReportError naming the path when the directory cannot be written", () =>
    Effect.gen(function*() {
      const file = NodePath.join(tmp, "not-a-dir")
      NodeFs.writeFileSync(file, "")
      const exit = yield* Effect.exit(Report.writeAll(NodePath.join(file, "sub"), full))
      expect(Exit.isFailure(exit)).toBe(true)
      if (Exit.isFailure(exit) && exit.cause._tag === "Fail") {
        expect(exit.cause.error._tag).toBe("ReportError")
        expect(exit.cause.error.message).toContain("not-a-dir")
      } else {
        expect.fail("expected a typed failure")
      }
    }))
})

// ---------------------------------------------------------------------------------------------------------
// report.html in a real headless Chromium
// ---------------------------------------------------------------------------------------------------------

describe("the report page's templates", () => {
  const templates = NodePath.join(NodePath.dirname(NodeUrl.fileURLToPath(import.meta.url)), "..", "templates", "report")

  it("report.js type-checks as browser code (tsc --checkJs, DOM types, no Node globals)", () => {
    const config = NodePath.join(tmp, "tsconfig.report-js.json")
    NodeFs.writeFileSync(config, JSON.stringify({
      compilerOptions: {
        noEmit: true, allowJs: true, checkJs: true, target: "ES2022", lib: ["ES2022", "DOM"], types: [],
        strict: true, noImplicitAny: false, skipLibCheck: true
      },
      files: [NodePath.join(templates, "report.js")]
    }))
    const tsc = NodePath.join(NodePath.dirname(NodeUrl.fileURLToPath(import.meta.url)), "..", "node_modules", "typescript", "bin", "tsc")
    const run = sh(process.execPath, [tsc, "-p", config])
    expect(run.stdout + run.stderr).toBe("")
    expect(run.status).toBe(0)
  })

  it("renders into one page with the script and style inline, allowed by the CSP's hash", () => {
    const page = Report.html(full)
    const script = NodeFs.readFileSync(NodePath.join(templates, "report.js"), "utf8")
    expect(page).toContain(`<script>${script}</script>`)
    expect(page).toContain(NodeFs.readFileSync(NodePath.join(templates, "report.css"), "utf8"))
    const hash = NodeCrypto.createHash("sha256").update(script, "utf8").digest("base64")
    expect(page).toContain(`script-src 'sha256-${hash}'`)
    // every mustache tag was filled: none is left outside the inlined script and style
    expect(page.replace(/<script[^>]*>[^]*?<\/script>|<style>[^]*?<\/style>/g, "")).not.toMatch(/\{\{|\}\}/)
  })
})


const chromiumPath = "/usr/bin/chromium"
const hasChromium = NodeFs.existsSync(chromiumPath)

describe.skipIf(!hasChromium)("html in headless Chromium (apt-get install -y chromium if this is skipped)", () => {
  const dir = NodePath.join(tmp, "html")
  let context: BrowserContext | undefined
  let page: Page
  afterAll(async () => {
    await context?.close()
  })
  const requests: Array<string> = []
  const dialogs: Array<string> = []
  const errors: Array<string> = []

  const visibleStatuses = () =>
    page.$$eval("tr.test-row", (rows) =>
      rows.filter((r) => !(r as unknown as { hidden: boolean }).hidden).map((r) => r.getAttribute("data-status")))

  it("opens from disk with the counts in view and touches no network", async () => {
    await Effect.runPromise(Report.writeAll(dir, full))
    context = await chromium.launchPersistentContext(NodeFs.mkdtempSync(NodePath.join(tmp, "profile-")), {
      executablePath: chromiumPath,
      headless: true,
      viewport: { width: 1400, height: 900 },
      args: [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"
      ]
    })
    page = context.pages()[0] ?? await context.newPage()
    // a local file renders in milliseconds; a broken page should fail fast, not after Playwright's 30 s
    page.setDefaultTimeout(5_000)
    page.on("request", (r) => requests.push(r.url()))
    page.on("dialog", (d) => {
      dialogs.push(d.message())
      void d.dismiss()
    })
    page.on("pageerror", (e) => errors.push(e.message))
    page.on("console", (m) => {
      if (m.type() === "error" || m.type() === "warning") errors.push(m.text())
    })
    await page.goto(NodeUrl.pathToFileURL(NodePath.join(dir, "report.html")).href)

    const card = (cls: string) => page.textContent(`.card.${cls} .num`)
    expect(await card("total")).toBe("5")
    expect(await card("PASS")).toBe("1")
    expect(await card("FAIL")).toBe("2")
    expect(await card("FLAKY")).toBe("1")
    expect(await card("IGNORE")).toBe("1")
    expect(await card("NOTRUN")).toBe("1")
    expect(await page.textContent("button.filter.FAIL .n")).toBe("2")
    expect(await page.textContent(".meta")).toContain("2 minutes 5.500 seconds")
    expect(await visibleStatuses()).toEqual(["FAIL", "FAIL", "FLAKY", "IGNORE", "PASS"])
    expect(await page.textContent(".extra-box.notrun")).toContain("consume_test.never_started")
    expect(await page.textContent(".extra-box.rerun")).toContain(`npx ducktape ${NodePath.join(dir, "rerun-failed.yml")}`)
  })

  it("shows only failed rows under the FAIL filter, and filters by text", async () => {
    await page.click("button.filter.FAIL")
    expect(await visibleStatuses()).toEqual(["FAIL", "FAIL"])
    expect(await page.textContent("#shown")).toBe("Showing 2 of 5 tests")
    await page.click("button.filter.ALL")
    await page.fill("#search", "THROUGHPUT")
    expect(await visibleStatuses()).toEqual(["PASS"])
    await page.fill("#search", "no such test anywhere")
    expect(await visibleStatuses()).toEqual([])
    expect(await page.isVisible("tr.empty-row")).toBe(true)
    await page.fill("#search", "")
    expect(await visibleStatuses()).toHaveLength(5)
  })

  it("expands a failed row to its message, detail, faults, services and file links", async () => {
    const row = page.locator("tr.test-row", { hasText: "alert(1)" })
    await row.click()
    const detail = page.locator("tr.test-row.open + tr.detail-row")
    expect(await detail.isVisible()).toBe(true)
    expect(await detail.locator(".failure-msg").innerText()).toContain("broker said <img src=x onerror=alert(2)> ]]> \\u0001red & \"quotes\"")
    expect(await detail.locator("pre.failure-detail").innerText()).toContain("at </script> (x.ts:1:1)")
    expect(await detail.locator(".tl-bar").count()).toBe(3)
    expect(await detail.locator(".tl-when").last().innerText()).toBe("+7.50 s, restarted at +8.25 s")
    expect(await detail.locator(".tl-bar.open").count()).toBe(1)
    expect(await detail.locator(".tl-when").first().innerText()).toBe("+2.00 s → +6.00 s")
    expect(await detail.locator("table.services").innerText()).toContain("problem: worker2: process exited with 137")

    // resolved by the browser, then turned back into paths: `#` and the space must survive as part of the name
    const hrefs = await detail.locator(".links a").evaluateAll((as) => as.map((a) => (a as unknown as { href: string }).href))
    const testDir = NodePath.join(dir, "evil/Suite/p=a b#1/1")
    expect(hrefs.map((h) => NodeUrl.fileURLToPath(h))).toEqual([
      `${testDir}/`,
      NodePath.join(testDir, "test_log.info"),
      NodePath.join(testDir, "test_log.debug"),
      NodePath.join(testDir, "data.json")
    ])
    await row.click()
    expect(await detail.count()).toBe(0)
  })

  it("shows hostile strings as text: no dialog, no injected element, no script error", async () => {
    expect(await page.locator("tr.test-row .tname", { hasText: hostile }).count()).toBe(1)
    expect(await page.locator(".chip", { hasText: `evil=${hostile}` }).count()).toBe(1)
    await page.click("#expand-all")
    expect(await page.locator("pre.data", { hasText: "</script><script>alert(3)</script>" }).count()).toBe(1)
    expect(await page.$$eval("script", (s) => s.length)).toBe(2)
    expect(await page.$$eval("img, iframe, object, embed", (s) => s.length)).toBe(0)
    expect(dialogs).toEqual([])
    expect(errors).toEqual([])
  })

  it("has JUnit XML a browser's XML parser accepts", async () => {
    const xml = NodeFs.readFileSync(NodePath.join(dir, "report.xml"), "utf8")
    const parsed = await page.evaluate((text) => {
      interface Doc { getElementsByTagName(name: string): { length: number } }
      const Parser = (globalThis as unknown as { DOMParser: new() => { parseFromString(s: string, t: string): Doc } }).DOMParser
      const doc = new Parser().parseFromString(text, "application/xml")
      return {
        error: doc.getElementsByTagName("parsererror").length,
        cases: doc.getElementsByTagName("testcase").length,
        failures: doc.getElementsByTagName("failure").length,
        skipped: doc.getElementsByTagName("skipped").length
      }
    }, xml)
    expect(parsed).toEqual({ error: 0, cases: 6, failures: 2, skipped: 1 })
  })

  it("lists a big session a page at a page, with filters over all of it", async () => {
    const many = Array.from({ length: 300 }, (_, i) =>
      result({ module: "many", name: `t${i}`, status: i === 280 ? "FAIL" : "PASS", summary: i === 280 ? "late failure" : "Test Passed" }))
    const bigDir = NodePath.join(tmp, "html-big")
    await Effect.runPromise(Report.writeAll(bigDir, session({ results: many, notRun: [], interrupted: false })))
    const big = await context!.newPage()
    big.setDefaultTimeout(5_000)
    await big.goto(NodeUrl.pathToFileURL(NodePath.join(bigDir, "report.html")).href)
    expect(await big.locator("tr.test-row").count()).toBe(250)
    expect(await big.textContent("#shown")).toContain("the first 250 are listed")
    await big.click("button.filter.FAIL")
    expect(await big.locator("tr.test-row").allInnerTexts()).toEqual([expect.stringContaining("late failure")])
    await big.click("button.filter.ALL")
    await big.click("text=Show all 300")
    expect(await big.locator("tr.test-row").count()).toBe(300)
    await big.close()
  })

  // ---- the session timeline ----------------------------------------------------------------------------

  /** Every bar the timeline should draw: one per node per allocation (or, without allocations, per node over the run). */
  const expectedBars = full.results.flatMap((r) =>
    (r.allocations ?? (r.nodes.length === 0 ? [] : [{ nodes: r.nodes, allocatedAt: r.startTime, releasedAt: r.stopTime }]))
      .flatMap((a) => a.nodes.map((node) => ({ id: r.testId, status: r.status, node, from: a.allocatedAt, to: a.releasedAt })))
  )
  const timelineNodes = ["worker1", "worker2", "worker3", "worker4", "worker5"]

  interface Scale { from: number; to: number; left: number; width: number; top: number; row: number; x: number; y: number }
  const scale = async (): Promise<Scale> => {
    const canvas = page.locator("canvas.tl-canvas")
    const box = (await canvas.boundingBox())!
    const n = async (name: string) => Number(await canvas.getAttribute(`data-${name}`))
    return { from: await n("from"), to: await n("to"), left: await n("left"), width: await n("width"), top: await n("top"), row: await n("row"), x: box.x, y: box.y }
  }
  /** Page coordinates of time `ms` on `node`'s row, a little below the row's top (clear of service ticks and faults). */
  const at = (s: Scale, ms: number, node: string) => ({
    x: s.x + s.left + ((ms - s.from) / (s.to - s.from)) * s.width,
    y: s.y + s.top + timelineNodes.indexOf(node) * s.row + 8
  })
  const pixel = (x: number, y: number): Promise<[number, number, number]> =>
    page.evaluate(`(() => {
      const c = document.querySelector("canvas.tl-canvas"), b = c.getBoundingClientRect(), r = devicePixelRatio
      // read through a copy made for reading, not the page's canvas (reading that often makes Chrome warn)
      const copy = document.createElement("canvas")
      copy.width = 1
      copy.height = 1
      const g = copy.getContext("2d", { willReadFrequently: true })
      g.drawImage(c, Math.floor((${x} - b.left) * r), Math.floor((${y} - b.top) * r), 1, 1, 0, 0, 1, 1)
      const d = g.getImageData(0, 0, 1, 1).data
      return [d[0], d[1], d[2]]
    })()`)
  const statusColour = async (status: string): Promise<[number, number, number]> => {
    const hex = (await page.evaluate(`getComputedStyle(document.documentElement).getPropertyValue("--${status === "PASS" ? "pass" : status === "FAIL" ? "fail" : status === "FLAKY" ? "flaky" : "ignore"}").trim()`)) as string
    return [1, 3, 5].map((i) => Number.parseInt(hex.slice(i, i + 2), 16)) as [number, number, number]
  }

  it("draws each test's bars on the nodes it held, from allocation to release, in its status's colour", async () => {
    await page.click("#collapse-all")
    await page.locator("#timeline").scrollIntoViewIfNeeded()
    await page.mouse.move(0, 0)
    expect(await page.textContent("#tl-summary")).toContain("5 tests on 5 nodes, 9 node holds")
    const s = await scale()
    expect([s.from, s.to]).toEqual([full.startTime, full.stopTime])
    expect(expectedBars).toHaveLength(9)
    for (const b of expectedBars) {
      const colour = await statusColour(b.status)
      const start = at(s, b.from, b.node)
      const end = at(s, b.to, b.node)
      // just inside both ends: the bar's colour; 3 px outside: not (nothing else is on that node then)
      expect(await pixel(start.x + 1.5, start.y), `${b.id} on ${b.node} at its start`).toEqual(colour)
      expect(await pixel(end.x - 1.5, end.y), `${b.id} on ${b.node} at its end`).toEqual(colour)
      if (b.from > full.startTime) expect(await pixel(start.x - 3, start.y)).not.toEqual(colour)
      expect(await pixel(end.x + 3, end.y)).not.toEqual(colour)
    }
  })

  it("names the test and node under the mouse, and a click on a bar opens that test's row", async () => {
    await page.locator("#timeline").scrollIntoViewIfNeeded()
    const s = await scale()
    const flakyRetry = expectedBars.find((b) => b.id === flaky.testId && b.node === "worker5")!
    const mid = at(s, (flakyRetry.from + flakyRetry.to) / 2, "worker5")
    await page.mouse.move(mid.x, mid.y)
    const tip = await page.textContent("#tl-tip")
    expect(tip).toContain(flaky.testId)
    expect(tip).toContain("FLAKY, attempt 2 on worker5: +30.5 s → +42.6 s")
    const partition = at(s, T0 + 4_000, "worker2")
    await page.mouse.move(partition.x, partition.y + 7)
    expect(await page.textContent("#tl-tip")).toContain("partition on worker2: +2.00 s → +6.00 s")

    await page.fill("#search", "no such test")
    await page.mouse.click(mid.x, mid.y)
    const row = page.locator("tr.test-row.target")
    expect(await row.getAttribute("data-id")).toBe(flaky.testId)
    expect(await page.isVisible("tr.test-row.target + tr.detail-row")).toBe(true)
    expect(await page.inputValue("#search")).toBe("")
    const box = (await row.boundingBox())!
    expect(box.y >= 0 && box.y + box.height <= page.viewportSize()!.height).toBe(true)
  })

  it("zooms to a dragged time window and back to the whole session", async () => {
    await page.locator("#timeline").scrollIntoViewIfNeeded()
    let s = await scale()
    const a = at(s, T0 + 25_000, "worker4")
    const b = at(s, T0 + 45_000, "worker4")
    await page.mouse.move(a.x, a.y)
    await page.mouse.down()
    await page.mouse.move(b.x, b.y, { steps: 4 })
    await page.mouse.up()
    s = await scale()
    expect(Math.abs(s.from - (T0 + 25_000))).toBeLessThan(200)
    expect(Math.abs(s.to - (T0 + 45_000))).toBeLessThan(200)
    expect(await page.textContent("#tl-window")).toMatch(/^window: \+2\d\.\d s → \+4\d\.\d s of 2m 06s$/)
    // only what overlaps the window is drawn: flaky's three attempts and passed's three nodes
    expect(await page.getAttribute("canvas.tl-canvas", "data-drawn")).toBe("6")
    const retry = at(s, T0 + 36_000, "worker5")
    expect(await pixel(retry.x, retry.y)).toEqual(await statusColour("FLAKY"))
    const before = s
    await page.click("#tl-zoom-in")
    s = await scale()
    // the middle half of the window
    expect(s.to - s.from).toBeCloseTo((before.to - before.from) / 2, 2)
    expect(s.from + s.to).toBeCloseTo(before.from + before.to, 2)
    await page.click("#tl-reset")
    s = await scale()
    expect([s.from, s.to]).toEqual([full.startTime, full.stopTime])
    expect(await page.getAttribute("canvas.tl-canvas", "data-drawn")).toBe("9")
    await page.locator("#timeline").screenshot({ path: NodePath.join(process.cwd(), "scratch", "timeline.png") })
    expect(errors).toEqual([])
  })

  it("fits the timeline to a resized window, bars still where their times say", async () => {
    const wide = await scale()
    await page.setViewportSize({ width: 1000, height: 900 })
    // A function, not a string: the page's CSP forbids eval, which a string predicate needs.
    await page.waitForFunction((w) => Number((globalThis as any).document.querySelector("canvas.tl-canvas")?.getAttribute("data-width")) < w, wide.width)
    const s = await scale()
    expect(wide.width - s.width).toBe(400)
    await page.locator("#timeline").scrollIntoViewIfNeeded()
    const b = expectedBars.find((x) => x.id === plainFail.testId)!
    const mid = at(await scale(), (b.from + b.to) / 2, b.node)
    expect(await pixel(mid.x, mid.y)).toEqual(await statusColour("FAIL"))
    await page.setViewportSize({ width: 1400, height: 900 })
    await page.waitForFunction((w) => Number((globalThis as any).document.querySelector("canvas.tl-canvas")?.getAttribute("data-width")) === w, wide.width)
  })

  it("writes timeline.svg beside the report: well-formed, one titled bar per node held, placed by its times", async () => {
    const text = NodeFs.readFileSync(NodePath.join(dir, "timeline.svg"), "utf8")
    const parsed = (await page.evaluate(`(() => {
      const doc = new DOMParser().parseFromString(${JSON.stringify(text)}, "image/svg+xml")
      const svg = doc.documentElement
      return {
        error: doc.getElementsByTagName("parsererror").length,
        start: Number(svg.getAttribute("data-start")), stop: Number(svg.getAttribute("data-stop")),
        left: Number(svg.getAttribute("data-left")), width: Number(svg.getAttribute("data-width")),
        bars: Array.from(doc.querySelectorAll("rect.bar")).map((r) => ({
          cls: r.getAttribute("class"), x: Number(r.getAttribute("x")), w: Number(r.getAttribute("width")),
          title: r.querySelector("title").textContent
        }))
      }
    })()`)) as {
      error: number; start: number; stop: number; left: number; width: number
      bars: Array<{ cls: string; x: number; w: number; title: string }>
    }
    expect(parsed.error).toBe(0)
    expect([parsed.start, parsed.stop]).toEqual([full.startTime, full.stopTime])
    expect(parsed.bars).toHaveLength(expectedBars.length)
    const px = (ms: number) => parsed.left + ((ms - parsed.start) / (parsed.stop - parsed.start)) * parsed.width
    for (const b of expectedBars) {
      const match = parsed.bars.filter((r) => r.title.startsWith(`${b.id} (${b.status}`) && r.title.includes(` on ${b.node}: `) &&
        Math.abs(r.x - px(b.from)) < 0.1 && Math.abs(r.x + r.w - px(b.to)) < 0.1)
      expect(match, `${b.id} on ${b.node}`).toHaveLength(1)
      expect(match[0]!.cls).toBe(`bar ${b.status}`)
    }
    expect(text).not.toContain("<script")
    expect(text).toContain("&lt;script&gt;alert(1)&lt;/script&gt;")
  })

  it("made no request outside file:// and renders readably (screenshot in scratch/report.png)", async () => {
    await page.click("#collapse-all")
    await page.locator("tr.test-row", { hasText: "alert(1)" }).click()
    await page.locator("tr.test-row", { hasText: "restart" }).click()
    await page.screenshot({ path: NodePath.join(process.cwd(), "scratch", "report.png"), fullPage: true })
    expect(requests.length).toBeGreaterThan(0)
    expect(requests.filter((u) => !u.startsWith("file://"))).toEqual([])
  })
})
