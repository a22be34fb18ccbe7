import * as NodeCrypto from "node:crypto"
import type { SessionResults, TestResult } from "../Results.js"
import { counts } from "../Results.js"
import {
  byStatus,
  failedSymbols,
  isoTime,
  longDuration,
  paramsText,
  shortDuration,
  stringify,
  truncate,
  withoutAnsi
} from "./reportFormat.js"
import * as Shell from "../Shell.js"

// The page is one file: data as JSON in a non-executed <script type="application/json">, rendered by the inline
// script below with textContent and setAttribute only, so no string from a test is ever parsed as HTML. A
// Content-Security-Policy allows only that one script (by hash) and no network at all.

/** Per test, big values are cut so that one chatty test cannot make the page unusable; the files keep all. */
const maxData = 64_000
const maxDetail = 64_000

const escapeHtml = (s: string): string =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&#39;")

/** JSON safe inside <script>: `<` `>` `&` and the JS line separators are written as \u escapes. */
const jsonForScript = (value: unknown): string =>
  (stringify(value) ?? "null").replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`)

/**
 * What a person should see of a string: no ANSI colour codes, and other control characters as `\uXXXX`, as in
 * report.txt, instead of the blank boxes a browser draws for them.
 */
const shown = (s: string): string =>
  withoutAnsi(s).replace(/\r\n/g, "\n").replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, (c) =>
    `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`)

/** Applies `shown` to every string in the view, except paths that links are made of. */
const shownDeep = (value: unknown, key = ""): unknown =>
  typeof value === "string"
    ? key === "dir" ? value : shown(value)
    : Array.isArray(value)
    ? value.map((v) => shownDeep(v))
    : value !== null && typeof value === "object"
    ? Object.fromEntries(Object.entries(value).map(([k, v]) => [k, shownDeep(v, k)]))
    : value

const viewOf = (r: TestResult) => {
  const data = r.data === undefined ? undefined : stringify(r.data, 2)
  return {
    id: r.testId,
    status: r.status,
    module: r.module,
    suite: r.suite ?? "",
    name: r.name,
    params: Object.entries(r.params).map(([k, v]) => [k, typeof v === "string" ? v : stringify(v) ?? "undefined"]),
    paramsText: paramsText(r.params),
    description: r.description,
    summary: truncate(r.summary, maxDetail),
    failure: r.failure === undefined
      ? null
      : { tag: r.failure.tag, message: truncate(r.failure.message, maxDetail), detail: truncate(r.failure.detail, maxDetail) },
    attempts: r.attempts.map((a) => ({ status: a.status, summary: truncate(a.summary, 2000), duration: shortDuration(a.runTimeSeconds) })),
    start: r.startTime,
    stop: r.stopTime,
    seconds: r.runTimeSeconds,
    duration: shortDuration(r.runTimeSeconds),
    longDuration: longDuration(r.runTimeSeconds),
    data: data === undefined ? null : truncate(data, maxData, "; the whole value is in data.json"),
    dir: r.resultsDir,
    nodes: r.nodes,
    nodesAllocated: r.nodesAllocated,
    nodesUsed: r.nodesUsed,
    services: r.services,
    faults: r.faults,
    symbol: r.symbol,
    file: r.file
  }
}

const card = (cls: string, n: number, label: string) =>
  `<div class="card ${cls}"><div class="num">${n}</div><div class="label">${label}</div></div>`

/** report.html: one self-contained page. */
export const html = (session: SessionResults, options: { readonly rerunFile?: string } = {}): string => {
  const c = counts(session.results)
  const symbols = failedSymbols(session.results)
  const view = {
    sessionId: session.sessionId,
    version: session.frameworkVersion,
    start: session.startTime,
    notRun: session.notRun,
    tests: byStatus(session.results).map((r) => shownDeep(viewOf(r))),
    rerun: symbols.length === 0 ? null : {
      symbols: `npx ducktape ${symbols.map(Shell.quote).join(" ")}`,
      file: `npx ducktape ${
        options.rerunFile === undefined ? `<results dir>/${session.sessionId}/rerun-failed.yml` : Shell.quote(options.rerunFile)
      }`
    }
  }
  const scriptHash = NodeCrypto.createHash("sha256").update(script, "utf8").digest("base64")
  const csp = `default-src 'none'; style-src 'unsafe-inline'; img-src data:; script-src 'sha256-${scriptHash}'`
  const id = escapeHtml(session.sessionId)
  const cards = [
    card("total", c.total, "tests"),
    card("PASS", c.passed, "passed"),
    card("FAIL", c.failed, "failed"),
    card("FLAKY", c.flaky, "flaky"),
    card("IGNORE", c.ignored, "ignored"),
    ...(session.notRun.length > 0 ? [card("NOTRUN", session.notRun.length, "not run")] : [])
  ].join("")
  const verdict = c.failed > 0 || session.notRun.length > 0 ? "bad" : "good"
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${c.failed > 0 ? `✗ ${c.failed} failed` : "✓ passed"} · ducktape ${id}</title>
<style>${style}</style>
</head>
<body>
<header class="top ${verdict}">
  <div class="title-row">
    <h1>ducktape report</h1>
    <span class="session">session <code>${id}</code></span>
  </div>
  <div class="meta">
    <span>started <time id="started" datetime="${escapeHtml(isoTime(session.startTime))}">${escapeHtml(isoTime(session.startTime))}</time></span>
    <span>run time <b>${escapeHtml(longDuration(session.runTimeSeconds))}</b></span>
    <span>cluster <b>${session.clusterNumNodes}</b> node${session.clusterNumNodes === 1 ? "" : "s"}</span>
    <span>parallelism <b>${session.parallelism}</b></span>
    <span>ducktape-effect ${escapeHtml(session.frameworkVersion)}</span>
  </div>
  ${session.interrupted ? `<div class="banner">This session was interrupted: tests that had not started are not in this report.</div>` : ""}
  <div class="cards">${cards}</div>
</header>
<main>
  <div class="toolbar" role="toolbar" aria-label="Filters">
    <div class="status-filters" id="status-filters"></div>
    <input id="search" type="search" placeholder="Filter by test id, parameter, message, node…" aria-label="Filter tests" autocomplete="off">
    <button type="button" class="plain" id="expand-all">Expand all</button>
    <button type="button" class="plain" id="collapse-all">Collapse all</button>
  </div>
  <div class="shown" id="shown" aria-live="polite"></div>
  <table class="tests" id="tests">
    <thead><tr>
      <th class="c-status" data-sort="status" scope="col">Status</th>
      <th class="c-test" data-sort="id" scope="col">Test</th>
      <th class="c-params" scope="col">Parameters</th>
      <th class="c-dur" data-sort="seconds" scope="col">Duration</th>
      <th class="c-nodes" scope="col">Nodes</th>
    </tr></thead>
    <tbody id="rows"></tbody>
  </table>
  <div id="extra"></div>
  <noscript><p class="banner">This report is drawn by an inline script; enable JavaScript, or read report.txt next to this file.</p></noscript>
</main>
<footer>Also in this directory: <a href="report.txt">report.txt</a> · <a href="report.json">report.json</a> · <a href="report.xml">report.xml</a></footer>
<script type="application/json" id="report-data">${jsonForScript(view)}</script>
<script>${script}</script>
</body>
</html>
`
}

const style = `
:root {
  --bg: #f5f6f8; --panel: #ffffff; --fg: #1f2328; --muted: #656d76; --line: #d8dee4; --soft: #f6f8fa;
  --pass: #1a7f37; --pass-bg: #dafbe1; --fail: #cf222e; --fail-bg: #ffebe9; --flaky: #9a6700; --flaky-bg: #fff8c5;
  --ignore: #57606a; --ignore-bg: #eaeef2; --accent: #0969da; --fault: #8250df;
  --mono: ui-monospace, SFMono-Regular, "SF Mono", Menlo, Consolas, "Liberation Mono", monospace;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #0d1117; --panel: #161b22; --fg: #e6edf3; --muted: #8d96a0; --line: #30363d; --soft: #1c2128;
    --pass: #3fb950; --pass-bg: #12261e; --fail: #f85149; --fail-bg: #2d1214; --flaky: #d29922; --flaky-bg: #2b2111;
    --ignore: #8d96a0; --ignore-bg: #21262d; --accent: #4493f8; --fault: #a371f7;
  }
}
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg); font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
code, pre, .mono { font-family: var(--mono); font-size: 12.5px; }
a { color: var(--accent); }
header.top { background: var(--panel); border-bottom: 1px solid var(--line); padding: 18px 28px 20px; border-top: 5px solid var(--pass); }
header.top.bad { border-top-color: var(--fail); }
.title-row { display: flex; align-items: baseline; gap: 16px; flex-wrap: wrap; }
h1 { font-size: 22px; margin: 0; font-weight: 650; }
.session code { font-size: 14px; background: var(--soft); padding: 2px 6px; border-radius: 4px; }
.meta { color: var(--muted); margin-top: 6px; display: flex; flex-wrap: wrap; gap: 6px 18px; }
.meta b { color: var(--fg); font-weight: 600; }
.banner { margin-top: 12px; padding: 8px 12px; border-radius: 6px; background: var(--flaky-bg); color: var(--flaky); border: 1px solid currentColor; }
.cards { display: flex; gap: 12px; margin-top: 16px; flex-wrap: wrap; }
.card { min-width: 110px; padding: 10px 16px; border-radius: 8px; background: var(--soft); border: 1px solid var(--line); border-left: 5px solid var(--ignore); }
.card .num { font-size: 26px; font-weight: 700; line-height: 1.1; font-variant-numeric: tabular-nums; }
.card .label { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
.card.total { border-left-color: var(--accent); }
.card.PASS { border-left-color: var(--pass); } .card.PASS .num { color: var(--pass); }
.card.FAIL { border-left-color: var(--fail); } .card.FAIL .num { color: var(--fail); }
.card.FLAKY { border-left-color: var(--flaky); } .card.FLAKY .num { color: var(--flaky); }
.card.NOTRUN { border-left-color: var(--fail); }
main { padding: 18px 28px 8px; max-width: 1600px; }
.toolbar { display: flex; gap: 10px; align-items: center; flex-wrap: wrap; }
.status-filters { display: flex; gap: 6px; flex-wrap: wrap; }
button { font: inherit; cursor: pointer; }
.filter { border: 1px solid var(--line); background: var(--panel); color: var(--fg); border-radius: 999px; padding: 4px 12px; display: inline-flex; gap: 7px; align-items: center; }
.filter .n { font-variant-numeric: tabular-nums; background: var(--soft); border-radius: 999px; padding: 0 7px; font-size: 12px; }
.filter:hover { border-color: var(--muted); }
.filter[aria-pressed="true"] { color: #fff; border-color: transparent; }
.filter[aria-pressed="true"] .n { background: rgba(255,255,255,.25); }
.filter.PASS[aria-pressed="true"] { background: var(--pass); } .filter.FAIL[aria-pressed="true"] { background: var(--fail); }
.filter.FLAKY[aria-pressed="true"] { background: var(--flaky); } .filter.IGNORE[aria-pressed="true"] { background: var(--ignore); }
.filter.ALL[aria-pressed="true"] { background: var(--accent); }
.filter:disabled { opacity: .45; cursor: default; }
#search { flex: 1 1 280px; min-width: 200px; padding: 6px 10px; border: 1px solid var(--line); border-radius: 6px; background: var(--panel); color: var(--fg); font: inherit; }
button.plain { border: 1px solid var(--line); background: var(--panel); color: var(--fg); border-radius: 6px; padding: 5px 10px; }
.shown { color: var(--muted); margin: 10px 2px 6px; font-size: 13px; }
table.tests { width: 100%; border-collapse: separate; border-spacing: 0; background: var(--panel); border: 1px solid var(--line); border-radius: 8px; overflow: hidden; table-layout: fixed; }
table.tests th { text-align: left; font-weight: 600; font-size: 12px; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); background: var(--soft); padding: 8px 10px; border-bottom: 1px solid var(--line); user-select: none; }
table.tests th[data-sort] { cursor: pointer; }
table.tests th[data-sort]:hover { color: var(--fg); }
th .arrow { font-size: 10px; margin-left: 4px; }
.c-status { width: 92px; } .c-params { width: 24%; } .c-dur { width: 96px; text-align: right !important; } .c-nodes { width: 15%; }
table.tests td { padding: 8px 10px; border-bottom: 1px solid var(--line); vertical-align: top; overflow-wrap: anywhere; }
tr.test-row { cursor: pointer; }
tr.test-row:hover td { background: var(--soft); }
tr.test-row.open td { background: var(--soft); border-bottom-color: transparent; }
td.dur { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.badge { display: inline-block; font-size: 11px; font-weight: 700; letter-spacing: .04em; padding: 2px 8px; border-radius: 999px; }
.badge.PASS { color: var(--pass); background: var(--pass-bg); } .badge.FAIL { color: var(--fail); background: var(--fail-bg); }
.badge.FLAKY { color: var(--flaky); background: var(--flaky-bg); } .badge.IGNORE { color: var(--ignore); background: var(--ignore-bg); }
.toggle { border: 0; background: none; color: var(--muted); padding: 0 6px 0 0; font-size: 11px; vertical-align: 1px; }
.tname { font-weight: 600; }
.tmod { color: var(--muted); font-size: 12px; }
.tsum { color: var(--fail); font-size: 12.5px; margin-top: 2px; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.tsum.IGNORE { color: var(--ignore); } .tsum.FLAKY { color: var(--flaky); }
.chip { display: inline-block; font-family: var(--mono); font-size: 12px; background: var(--soft); border: 1px solid var(--line); border-radius: 4px; padding: 0 5px; margin: 0 4px 3px 0; }
.none { color: var(--muted); }
tr.detail-row > td { background: var(--soft); padding: 4px 16px 16px 40px; }
.detail section { margin-top: 12px; }
.detail h4 { margin: 0 0 6px; font-size: 12px; text-transform: uppercase; letter-spacing: .05em; color: var(--muted); }
.detail pre { margin: 0; background: var(--panel); border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px; max-height: 420px; overflow: auto; white-space: pre-wrap; overflow-wrap: anywhere; }
.failure-msg { font-weight: 600; color: var(--fail); margin-bottom: 6px; white-space: pre-wrap; overflow-wrap: anywhere; }
.failure-msg .tag { font-family: var(--mono); font-size: 12px; color: var(--fg); background: var(--fail-bg); border-radius: 4px; padding: 1px 6px; margin-right: 8px; }
.kv { display: grid; grid-template-columns: max-content 1fr; gap: 3px 14px; }
.kv dt { color: var(--muted); } .kv dd { margin: 0; overflow-wrap: anywhere; }
.links a { margin-right: 14px; font-family: var(--mono); font-size: 12.5px; }
ol.attempts { margin: 0; padding-left: 22px; }
ol.attempts li { margin: 2px 0; }
table.services { border-collapse: collapse; width: 100%; background: var(--panel); border: 1px solid var(--line); border-radius: 6px; }
table.services th, table.services td { text-align: left; padding: 5px 10px; border-bottom: 1px solid var(--line); vertical-align: top; font-size: 13px; }
table.services th { font-size: 11px; text-transform: uppercase; color: var(--muted); }
.problem { color: var(--fail); } .note { color: var(--fg); }
ul.plain { margin: 0; padding-left: 18px; }
.timeline { background: var(--panel); border: 1px solid var(--line); border-radius: 6px; padding: 8px 12px 10px; }
.tl-row { display: grid; grid-template-columns: minmax(140px, 26%) 1fr 150px; gap: 10px; align-items: center; min-height: 24px; }
.tl-label { font-size: 12.5px; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.tl-label b { color: var(--fault); }
.tl-track { position: relative; height: 14px; background: var(--soft); border-radius: 3px; }
.tl-axis .tl-track { background: none; height: 16px; }
.tl-tick { position: absolute; top: 0; white-space: nowrap; font-size: 11px; color: var(--muted); transform: translateX(-50%); }
.tl-tick.first { transform: none; } .tl-tick.last { transform: translateX(-100%); }
.tl-bar { position: absolute; top: 0; bottom: 0; min-width: 3px; border-radius: 3px; background: var(--fault); }
.tl-bar.open { background: repeating-linear-gradient(45deg, var(--fail), var(--fail) 5px, var(--fail-bg) 5px, var(--fail-bg) 10px); }
.tl-when { font-size: 12px; color: var(--muted); font-variant-numeric: tabular-nums; white-space: nowrap; }
td.more { text-align: center; color: var(--muted); padding: 12px !important; }
td.more button { margin: 0 6px; }
.empty { text-align: center; color: var(--muted); padding: 28px !important; }
.extra-box { margin-top: 18px; background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 12px 16px; }
.extra-box h3 { margin: 0 0 8px; font-size: 14px; }
.extra-box pre { margin: 6px 0 0; background: var(--soft); border-radius: 6px; padding: 8px 10px; white-space: pre-wrap; overflow-wrap: anywhere; }
footer { color: var(--muted); font-size: 12.5px; padding: 14px 28px 28px; }
`

// Plain ES2017, no template literals, no innerHTML. Kept as String.raw so its backslashes reach the browser.
const script = String.raw`
(function () {
  "use strict";
  var model = JSON.parse(document.getElementById("report-data").textContent);
  var tests = model.tests;
  var STATUSES = ["FAIL", "FLAKY", "IGNORE", "PASS"];
  var selected = {};
  var query = "";
  var sort = { key: "status", dir: 1 };

  function h(tag, props, children) {
    var e = document.createElement(tag);
    if (props) {
      Object.keys(props).forEach(function (k) {
        var v = props[k];
        if (v === null || v === undefined || v === false) return;
        if (k === "text") e.textContent = String(v);
        else if (k === "class") e.className = v;
        else if (k === "onclick") e.addEventListener("click", v);
        else e.setAttribute(k, String(v));
      });
    }
    (children || []).forEach(function (c) {
      if (c === null || c === undefined || c === false) return;
      e.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
    });
    return e;
  }

  function secs(ms) {
    var s = ms / 1000;
    if (Math.abs(s) < 10) return s.toFixed(2) + " s";
    if (Math.abs(s) < 120) return s.toFixed(1) + " s";
    return Math.floor(s / 60) + "m " + String(Math.round(s % 60)).padStart(2, "0") + "s";
  }

  function href(dir, file) {
    var parts = dir.split("/").map(function (p) { return encodeURIComponent(p); });
    var base = parts.join("/");
    if (base !== "" && base.charAt(base.length - 1) !== "/") base += "/";
    return base + (file ? encodeURIComponent(file) : "");
  }

  var started = document.getElementById("started");
  if (started && isFinite(model.start) && model.start > 0) started.textContent = new Date(model.start).toLocaleString();

  // ---- filters -------------------------------------------------------------------------------------------
  var countBy = { FAIL: 0, FLAKY: 0, IGNORE: 0, PASS: 0 };
  tests.forEach(function (t) { countBy[t.status] = (countBy[t.status] || 0) + 1; });
  var filterBox = document.getElementById("status-filters");
  var allButton = h("button", { type: "button", class: "filter ALL", "aria-pressed": "true", "data-status": "ALL",
    onclick: function () { selected = {}; refilter(); } }, ["All", h("span", { class: "n", text: tests.length })]);
  filterBox.appendChild(allButton);
  var statusButtons = STATUSES.map(function (s) {
    var b = h("button", { type: "button", class: "filter " + s, "aria-pressed": "false", "data-status": s,
      title: "Show only " + s + " tests (click more statuses to combine)", disabled: countBy[s] === 0 ? "disabled" : null,
      onclick: function () { if (selected[s]) delete selected[s]; else selected[s] = true; refilter(); } },
      [s, h("span", { class: "n", text: countBy[s] })]);
    filterBox.appendChild(b);
    return b;
  });
  var search = document.getElementById("search");
  search.addEventListener("input", function () { query = search.value.trim().toLowerCase(); refilter(); });

  // ---- table ---------------------------------------------------------------------------------------------
  // Rows are built when first shown and at most "limit" are in the page at once: a browser lays out a table of
  // thousands of rows in seconds, and nobody reads past the first screens without filtering.
  var PAGE = 250;
  var limit = PAGE;
  var tbody = document.getElementById("rows");
  var emptyRow = h("tr", { class: "empty-row" }, [h("td", { colspan: "5", class: "empty", text: "No test matches these filters." })]);
  var moreCell = h("td", { colspan: "5", class: "more" });
  var moreRow = h("tr", { class: "more-row" }, [moreCell]);
  var attached = [];

  var entries = tests.map(function (t, i) {
    return { t: t, i: i, open: false, row: null, detail: null, cell: null, toggle: null, filled: false,
      hay: [t.id, t.paramsText, t.summary, t.failure ? t.failure.message : "", t.nodes.join(" "), t.description, t.symbol, t.status]
        .join("\n").toLowerCase() };
  });

  function build(entry) {
    if (entry.row) return;
    var t = entry.t;
    entry.toggle = h("button", { type: "button", class: "toggle", "aria-expanded": "false", "aria-label": "Show details", text: "\u25B6" });
    var testCell = h("td", { class: "test" }, [
      entry.toggle,
      h("span", { class: "tname", text: t.name }),
      h("div", { class: "tmod", text: t.suite ? t.module + " \u203A " + t.suite : t.module })
    ]);
    var oneLine = t.status === "PASS" ? "" : ((t.failure ? t.failure.message : t.summary) || "").split("\n")[0];
    if (t.status === "FLAKY") oneLine = "passed after " + (t.attempts.length - 1) + " failed attempt" + (t.attempts.length === 2 ? "" : "s");
    if (oneLine) testCell.appendChild(h("div", { class: "tsum " + t.status, text: oneLine, title: oneLine }));
    var paramCell = h("td", { class: "params" }, t.params.length === 0 ? [h("span", { class: "none", text: "\u2014" })]
      : t.params.map(function (p) { return h("span", { class: "chip", text: p[0] + "=" + p[1] }); }));
    entry.row = h("tr", { class: "test-row", "data-status": t.status, "data-id": t.id }, [
      h("td", {}, [h("span", { class: "badge " + t.status, text: t.status })]),
      testCell,
      paramCell,
      h("td", { class: "dur", text: t.duration, title: t.longDuration }),
      h("td", { class: "nodes mono", text: t.nodes.length ? t.nodes.join(", ") : "\u2014" })
    ]);
    entry.cell = h("td", { colspan: "5" });
    entry.detail = h("tr", { class: "detail-row", hidden: "hidden" }, [entry.cell]);
    entry.row.addEventListener("click", function (ev) {
      if (ev.target && ev.target.closest && ev.target.closest("a")) return;
      setOpen(entry, !entry.open);
    });
  }

  function setOpen(entry, open) {
    build(entry);
    entry.open = open;
    if (open && !entry.filled) { entry.cell.appendChild(details(entry.t)); entry.filled = true; }
    entry.row.classList.toggle("open", open);
    entry.toggle.setAttribute("aria-expanded", open ? "true" : "false");
    entry.toggle.textContent = open ? "\u25BC" : "\u25B6";
    entry.detail.hidden = !open;
  }

  function matches(entry) {
    if (Object.keys(selected).length > 0 && !selected[entry.t.status]) return false;
    return query === "" || entry.hay.indexOf(query) >= 0;
  }

  function sorted() {
    var rank = function (s) { return STATUSES.indexOf(s); };
    return entries.slice().sort(function (a, b) {
      var d = 0;
      if (sort.key === "status") d = rank(a.t.status) - rank(b.t.status);
      else if (sort.key === "id") d = a.t.id < b.t.id ? -1 : a.t.id > b.t.id ? 1 : 0;
      else if (sort.key === "seconds") d = a.t.seconds - b.t.seconds;
      return d * sort.dir || a.i - b.i;
    });
  }

  function apply() {
    var matching = sorted().filter(matches);
    attached = matching.slice(0, limit);
    var frag = document.createDocumentFragment();
    attached.forEach(function (e) { build(e); frag.appendChild(e.row); frag.appendChild(e.detail); });
    if (matching.length === 0) frag.appendChild(emptyRow);
    if (matching.length > attached.length) {
      var rest = matching.length - attached.length;
      moreCell.textContent = "";
      moreCell.appendChild(h("button", { type: "button", class: "plain", text: "Show " + Math.min(PAGE, rest) + " more",
        onclick: function () { limit += PAGE; apply(); } }));
      moreCell.appendChild(h("button", { type: "button", class: "plain", text: "Show all " + matching.length,
        onclick: function () { limit = matching.length; apply(); } }));
      moreCell.appendChild(document.createTextNode(" " + rest + " more match" + (rest === 1 ? "" : "es") + " below"));
      frag.appendChild(moreRow);
    }
    tbody.textContent = "";
    tbody.appendChild(frag);

    var anySelected = Object.keys(selected).length > 0;
    allButton.setAttribute("aria-pressed", anySelected ? "false" : "true");
    statusButtons.forEach(function (b) { b.setAttribute("aria-pressed", selected[b.getAttribute("data-status")] ? "true" : "false"); });
    document.getElementById("shown").textContent = (matching.length === tests.length
      ? "Showing all " + tests.length + " test" + (tests.length === 1 ? "" : "s") + " \u2014 click a row for details"
      : "Showing " + matching.length + " of " + tests.length + " tests") +
      (matching.length > attached.length ? " (the first " + attached.length + " are listed)" : "");
    Array.prototype.forEach.call(document.querySelectorAll("th[data-sort]"), function (th) {
      var old = th.querySelector(".arrow");
      if (old) old.remove();
      if (th.getAttribute("data-sort") === sort.key) th.appendChild(h("span", { class: "arrow", text: sort.dir > 0 ? "\u25B2" : "\u25BC" }));
    });
  }

  function refilter() { limit = PAGE; apply(); }

  Array.prototype.forEach.call(document.querySelectorAll("th[data-sort]"), function (th) {
    th.addEventListener("click", function () {
      var key = th.getAttribute("data-sort");
      sort = { key: key, dir: sort.key === key ? -sort.dir : (key === "seconds" ? -1 : 1) };
      apply();
    });
  });
  document.getElementById("expand-all").addEventListener("click", function () {
    attached.forEach(function (e) { setOpen(e, true); });
  });
  document.getElementById("collapse-all").addEventListener("click", function () {
    entries.forEach(function (e) { if (e.open) setOpen(e, false); });
  });

  // ---- details -------------------------------------------------------------------------------------------
  function section(title, body) { return h("section", {}, [h("h4", { text: title }), body]); }

  function details(t) {
    var box = h("div", { class: "detail" });
    if (t.failure) {
      box.appendChild(section("Failure", h("div", {}, [
        h("div", { class: "failure-msg" }, [h("span", { class: "tag", text: t.failure.tag }), t.failure.message]),
        t.failure.detail && t.failure.detail !== t.failure.message ? h("pre", { class: "failure-detail", text: t.failure.detail }) : null
      ])));
    } else if (t.status !== "PASS" && !(t.status === "FLAKY" && t.summary === "Test Passed")) {
      box.appendChild(section(t.status === "IGNORE" ? "Why it was ignored" : "Summary", h("div", { class: "summary", text: t.summary })));
    }
    if (t.attempts.length > 1) {
      box.appendChild(section("Attempts", h("ol", { class: "attempts" }, t.attempts.map(function (a) {
        return h("li", {}, [h("span", { class: "badge " + a.status, text: a.status }), " " + a.duration + " \u2014 " + a.summary.split("\n")[0]]);
      }))));
    }
    if (t.description) box.appendChild(section("Description", h("div", { text: t.description })));

    var kv = h("dl", { class: "kv" });
    function pair(k, v) { kv.appendChild(h("dt", { text: k })); kv.appendChild(h("dd", {}, [v])); }
    pair("test id", h("code", { text: t.id }));
    pair("file", h("code", { text: t.file }));
    pair("rerun", h("code", { text: "npx ducktape " + shellQuote(t.symbol) }));
    if (isFinite(t.start) && t.start > 0) pair("started", new Date(t.start).toLocaleString());
    pair("run time", t.longDuration);
    pair("nodes", t.nodesUsed + " used of " + t.nodesAllocated + " allocated" + (t.nodes.length ? " (" + t.nodes.join(", ") + ")" : ""));
    box.appendChild(section("Test", kv));

    if (t.dir) {
      var links = [h("a", { href: href(t.dir, ""), text: t.dir + "/" })];
      links.push(h("a", { href: href(t.dir, "test_log.info"), text: "test_log.info" }));
      links.push(h("a", { href: href(t.dir, "test_log.debug"), text: "test_log.debug" }));
      if (t.data !== null) links.push(h("a", { href: href(t.dir, "data.json"), text: "data.json" }));
      box.appendChild(section("Results", h("div", { class: "links" }, links)));
    }
    if (t.faults.length > 0) box.appendChild(section("Faults", timeline(t)));
    if (t.services.length > 0) box.appendChild(section("Services", services(t)));
    if (t.data !== null) box.appendChild(section("Data", h("pre", { class: "data", text: t.data })));
    return box;
  }

  function shellQuote(s) {
    return /^[A-Za-z0-9_@%+=:,.\/-]+$/.test(s) ? s : "'" + s.replace(/'/g, "'\\''") + "'";
  }

  function services(t) {
    return h("table", { class: "services" }, [
      h("thead", {}, [h("tr", {}, ["Service", "Nodes", "Ran", "Notes and problems"].map(function (c) { return h("th", { text: c }); }))]),
      h("tbody", {}, t.services.map(function (s) {
        var items = s.problems.map(function (p) { return h("li", { class: "problem", text: "problem: " + p }); })
          .concat(s.notes.map(function (n) { return h("li", { class: "note", text: n }); }));
        var ran = secs(s.startedAt - t.start) + " \u2192 " + (s.stoppedAt === undefined ? "end" : secs(s.stoppedAt - t.start));
        return h("tr", {}, [
          // Collected logs live in <test dir>/<service id>/<node>/.
          h("td", {}, [h("b", { text: s.name }), h("div", { class: "tmod mono" }, [t.dir ? h("a", { href: href(t.dir, s.id + "/"), text: s.id + "/" }) : h("span", { text: s.id })])]),
          h("td", { class: "mono", text: s.nodes.join(", ") || "\u2014" }),
          h("td", { class: "mono", text: ran }),
          h("td", {}, [items.length ? h("ul", { class: "plain" }, items) : h("span", { class: "none", text: "\u2014" })])
        ]);
      }))
    ]);
  }

  function timeline(t) {
    var end = Math.max(t.stop, t.start + 1);
    t.faults.forEach(function (f) { end = Math.max(end, f.appliedAt, f.healedAt === undefined ? 0 : f.healedAt); });
    var span = end - t.start;
    function pct(ms) { return Math.min(100, Math.max(0, (ms - t.start) / span * 100)); }
    var box = h("div", { class: "timeline" });
    var axis = h("div", { class: "tl-track" });
    [0, 0.25, 0.5, 0.75, 1].forEach(function (p, k) {
      var tick = h("span", { class: "tl-tick" + (k === 0 ? " first" : k === 4 ? " last" : ""), text: secs(span * p) });
      tick.style.left = (p * 100) + "%";
      axis.appendChild(tick);
    });
    box.appendChild(h("div", { class: "tl-row tl-axis" }, [h("div", { class: "tl-label none", text: "since test start" }), axis, h("div")]));
    t.faults.forEach(function (f) {
      var from = pct(f.appliedAt);
      // A one-shot fault (a kill) is never healed: its bar runs to its restart, or is a mark at the kill.
      var oneShot = f.outcome !== undefined;
      var to = pct(oneShot ? (f.restartedAt === undefined ? f.appliedAt : f.restartedAt) : f.healedAt === undefined ? end : f.healedAt);
      var when = "+" + secs(f.appliedAt - t.start) + (oneShot
        ? ", " + f.outcome + (f.restartedAt === undefined ? "" : " at +" + secs(f.restartedAt - t.start))
        : " \u2192 " + (f.healedAt === undefined ? "never healed" : "+" + secs(f.healedAt - t.start)));
      var bar = h("div", { class: "tl-bar" + (!oneShot && f.healedAt === undefined ? " open" : ""), title: f.kind + " " + f.target + ": " + when + (f.detail ? "\n" + f.detail : "") });
      bar.style.left = from + "%";
      bar.style.width = Math.max(0, to - from) + "%";
      box.appendChild(h("div", { class: "tl-row fault" }, [
        h("div", { class: "tl-label", title: f.detail || (f.kind + " " + f.target) }, [h("b", { text: f.kind }), " " + f.target]),
        h("div", { class: "tl-track" }, [bar]),
        h("div", { class: "tl-when", text: when })
      ]));
    });
    return box;
  }

  // ---- not run, rerun --------------------------------------------------------------------------------------
  var extra = document.getElementById("extra");
  if (model.notRun.length > 0) {
    extra.appendChild(h("div", { class: "extra-box notrun" }, [
      h("h3", { text: model.notRun.length + " selected test" + (model.notRun.length === 1 ? " was" : "s were") + " not run" }),
      h("ul", { class: "plain mono" }, model.notRun.map(function (id) { return h("li", { text: id }); }))
    ]));
  }
  if (model.rerun) {
    extra.appendChild(h("div", { class: "extra-box rerun" }, [
      h("h3", { text: "Rerun the failed tests" }),
      h("pre", { text: model.rerun.symbols }),
      h("pre", { text: model.rerun.file })
    ]));
  }

  apply();
})();
`
