// @ts-check
// The report page's script: plain ES2017 (no build step, no innerHTML), inlined into report.html and allowed by
// its Content-Security-Policy hash. Checked by `tsc --checkJs` in test/Report.test.ts.

/**
 * The data report.html carries in <script id="report-data">, as src/internal/reportHtml.ts writes it.
 * @typedef {"PASS" | "FAIL" | "FLAKY" | "IGNORE"} Status
 * @typedef {{ id: string, name: string, nodes: string[], startedAt: number, stoppedAt?: number, problems: string[], notes: string[] }} ServiceView
 * @typedef {{ kind: string, target: string, detail: string, appliedAt: number, healedAt?: number, outcome?: string, restartedAt?: number }} FaultView
 * @typedef {{ tag: string, message: string, detail: string }} FailureView
 * @typedef {{
 *   id: string, status: Status, module: string, suite: string, name: string, params: Array<[string, string]>,
 *   paramsText: string, description: string, summary: string, failure: FailureView | null,
 *   attempts: Array<{ status: Status, summary: string, duration: string }>, start: number, stop: number,
 *   seconds: number, duration: string, longDuration: string, data: string | null, dir: string, nodes: string[],
 *   nodesAllocated: number, nodesUsed: number, services: ServiceView[], faults: FaultView[], symbol: string, file: string,
 *   histories?: HistoryView[]
 * }} TestView
 * @typedef {{ name: string, file: string, model: string | null, verdict: string | null, ops: number,
 *   outcomes: { ok: number, fail: number, info: number }, failingOp: number | null,
 *   lanes: string | null, latency: string | null, rate: string | null }} HistoryView
 * @typedef {{ t: number, node: number, from: number, to: number, status: Status, attempt: number }} Bar
 * @typedef {{ t: number, node: number, from: number, to?: number, until: number, kind: string }} FaultMark
 * @typedef {{ t: number, node: number, at: number, start: boolean, service: string }} Tick
 * @typedef {{ start: number, stop: number, nodes: string[], bars: Bar[], faults: FaultMark[], ticks: Tick[] }} Timeline
 * @typedef {{ start: number, stop: number, nodes: string[], bars: number[][], faults: number[][], ticks: number[][] }} CompactTimeline
 * @typedef {{ sessionId: string, version: string, start: number, notRun: string[], tests: TestView[],
 *   timeline: CompactTimeline, rerun: { symbols: string, file: string } | null }} Model
 * @typedef {{ row: HTMLElement, detail: HTMLElement, cell: HTMLElement, toggle: HTMLElement }} Ui
 * @typedef {{ t: TestView, i: number, open: boolean, ui: Ui | null, filled: boolean, hay: string }} Entry
 */
(function () {
  "use strict";
  /** @type {Model} */
  var model = JSON.parse(byId("report-data").textContent || "null");
  var tests = model.tests;
  var STATUSES = ["FAIL", "FLAKY", "IGNORE", "PASS"];
  var selected = {};
  var query = "";
  var sort = { key: "status", dir: 1 };

  /** @param {string} id */
  function byId(id) {
    var e = document.getElementById(id);
    if (!e) throw new Error("report.html: no element #" + id);
    return e;
  }

  /**
   * An element with properties (text, class, onclick, or attributes) and children (nodes or strings).
   * @param {string} tag
   * @param {Record<string, any> | null} [props]
   * @param {Array<Node | string | null | undefined | false>} [children]
   * @returns {HTMLElement}
   */
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

  /** @param {number} ms */
  function secs(ms) {
    var s = ms / 1000;
    if (Math.abs(s) < 10) return s.toFixed(2) + " s";
    if (Math.abs(s) < 120) return s.toFixed(1) + " s";
    return Math.floor(s / 60) + "m " + String(Math.round(s % 60)).padStart(2, "0") + "s";
  }

  /** @param {string} dir @param {string} file */
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
  var filterBox = byId("status-filters");
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
  var search = /** @type {HTMLInputElement} */ (byId("search"));
  search.addEventListener("input", function () { query = search.value.trim().toLowerCase(); refilter(); });

  // ---- table ---------------------------------------------------------------------------------------------
  // Rows are built when first shown and at most "limit" are in the page at once: a browser lays out a table of
  // thousands of rows in seconds, and nobody reads past the first screens without filtering.
  var PAGE = 250;
  var limit = PAGE;
  var tbody = byId("rows");
  var emptyRow = h("tr", { class: "empty-row" }, [h("td", { colspan: "5", class: "empty", text: "No test matches these filters." })]);
  var moreCell = h("td", { colspan: "5", class: "more" });
  var moreRow = h("tr", { class: "more-row" }, [moreCell]);
  var attached = [];

  /** @type {Entry[]} */
  var entries = tests.map(function (t, i) {
    return { t: t, i: i, open: false, ui: null, filled: false,
      hay: [t.id, t.paramsText, t.summary, t.failure ? t.failure.message : "", t.nodes.join(" "), t.description, t.symbol, t.status]
        .join("\n").toLowerCase() };
  });

  /**
   * The entry's rows, built when first needed.
   * @param {Entry} entry
   * @returns {Ui}
   */
  function build(entry) {
    if (entry.ui) return entry.ui;
    var t = entry.t;
    var toggle = h("button", { type: "button", class: "toggle", "aria-expanded": "false", "aria-label": "Show details", text: "\u25B6" });
    var testCell = h("td", { class: "test" }, [
      toggle,
      h("span", { class: "tname", text: t.name }),
      h("div", { class: "tmod", text: t.suite ? t.module + " \u203A " + t.suite : t.module })
    ]);
    var oneLine = t.status === "PASS" ? "" : ((t.failure ? t.failure.message : t.summary) || "").split("\n")[0];
    if (t.status === "FLAKY") oneLine = "passed after " + (t.attempts.length - 1) + " failed attempt" + (t.attempts.length === 2 ? "" : "s");
    if (oneLine) testCell.appendChild(h("div", { class: "tsum " + t.status, text: oneLine, title: oneLine }));
    var paramCell = h("td", { class: "params" }, t.params.length === 0 ? [h("span", { class: "none", text: "\u2014" })]
      : t.params.map(function (p) { return h("span", { class: "chip", text: p[0] + "=" + p[1] }); }));
    var row = h("tr", { class: "test-row", "data-status": t.status, "data-id": t.id }, [
      h("td", {}, [h("span", { class: "badge " + t.status, text: t.status })]),
      testCell,
      paramCell,
      h("td", { class: "dur", text: t.duration, title: t.longDuration }),
      h("td", { class: "nodes mono", text: t.nodes.length ? t.nodes.join(", ") : "\u2014" })
    ]);
    var cell = h("td", { colspan: "5" });
    var detail = h("tr", { class: "detail-row", hidden: "hidden" }, [cell]);
    row.addEventListener("click", function (ev) {
      var target = /** @type {Element | null} */ (ev.target);
      if (target && target.closest && target.closest("a")) return;
      setOpen(entry, !entry.open);
    });
    entry.ui = { row: row, detail: detail, cell: cell, toggle: toggle };
    return entry.ui;
  }

  /** @param {Entry} entry @param {boolean} open */
  function setOpen(entry, open) {
    var ui = build(entry);
    entry.open = open;
    if (open && !entry.filled) { ui.cell.appendChild(details(entry.t)); entry.filled = true; }
    ui.row.classList.toggle("open", open);
    ui.toggle.setAttribute("aria-expanded", open ? "true" : "false");
    ui.toggle.textContent = open ? "\u25BC" : "\u25B6";
    ui.detail.hidden = !open;
  }

  /** @param {Entry} entry */
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
    attached.forEach(function (e) { var ui = build(e); frag.appendChild(ui.row); frag.appendChild(ui.detail); });
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
    byId("shown").textContent = (matching.length === tests.length
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
  byId("expand-all").addEventListener("click", function () {
    attached.forEach(function (e) { setOpen(e, true); });
  });
  byId("collapse-all").addEventListener("click", function () {
    entries.forEach(function (e) { if (e.open) setOpen(e, false); });
  });

  // ---- details -------------------------------------------------------------------------------------------
  function section(title, body) { return h("section", {}, [h("h4", { text: title }), body]); }

  /** @param {TestView} t */
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
    (t.histories || []).forEach(function (hv) { box.appendChild(section("History: " + hv.name, history(t, hv))); });
    if (t.faults.length > 0) box.appendChild(section("Faults", timeline(t)));
    if (t.services.length > 0) box.appendChild(section("Services", services(t)));
    if (t.data !== null) box.appendChild(section("Data", h("pre", { class: "data", text: t.data })));
    return box;
  }

  /**
   * A history's summary and its pictures. The SVG is the framework's own (any text of a test's in it is escaped);
   * it goes through the XML parser, never the HTML one, and SVG in a document runs no script under this page's CSP.
   * @param {TestView} t
   * @param {HistoryView} hv
   */
  function history(t, hv) {
    var o = hv.outcomes;
    var line = hv.ops + " ops (" + o.ok + " ok, " + o.fail + " fail, " + o.info + " info)" +
      (hv.verdict === null ? "" : " — " + (hv.model || "") + ": " +
        (hv.verdict === "Valid" ? "linearizable" : hv.verdict === "Invalid" ? "NOT linearizable (op " + hv.failingOp + " cannot be placed; outlined in black, the prefix before it in green)" : "unknown (a limit was hit)"));
    /** @type {Array<Node>} */
    var parts = [h("p", { class: "history-summary " + (hv.verdict || "none").toLowerCase(), text: line }),
      h("div", { class: "links" }, [h("a", { href: href(t.dir + "/" + hv.file.replace(/\/[^\/]*$/, ""), hv.file.replace(/^.*\//, "")), text: hv.file })])];
    [["lanes", hv.lanes], ["latency", hv.latency], ["rate", hv.rate]].forEach(function (p) {
      var text = p[1];
      if (text === null) { parts.push(h("p", { class: "muted", text: p[0] + ": picture not found beside the history" })); return; }
      var doc = new DOMParser().parseFromString(String(text), "image/svg+xml");
      var root = doc.documentElement;
      if (root.nodeName !== "svg") return;
      var svg = /** @type {Element} */ (document.importNode(root, true));
      svg.setAttribute("class", "history-plot " + p[0]);
      parts.push(svg);
    });
    return h("div", { class: "history" }, parts);
  }

  function shellQuote(s) {
    return /^[A-Za-z0-9_@%+=:,.\/-]+$/.test(s) ? s : "'" + s.replace(/'/g, "'\\''") + "'";
  }

  /** @param {TestView} t */
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

  /** @param {TestView} t */
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

  // ---- session timeline ------------------------------------------------------------------------------------
  // One row per node; each test a bar on every node it held, from allocation to release. Drawn on a canvas:
  // 2,000 tests on 50 nodes are ~5,000 bars and ~10,000 service ticks, which as SVG elements took over a second to
  // build and lay out (measured), and a canvas draws in milliseconds. Hover and click find the mark under the
  // mouse by arithmetic (per node, marks sorted by time, binary search). The canvas carries its scale in data-*
  // attributes (window, left edge, width, row height) so that a test can locate any bar.
  var TL = decodeTimeline(model.timeline);
  var TL_LEFT = 120, TL_ROW = 18, TL_TOP = 22, TL_RIGHT = 12, TL_MIN_SPAN = 100, TL_PICK_PX = 3;
  var tlBox = /** @type {HTMLDetailsElement} */ (byId("timeline"));
  var tlChart = byId("tl-chart");
  var tlTip = byId("tl-tip");
  var tlCanvas = /** @type {HTMLCanvasElement} */ (document.createElement("canvas"));
  var tlOverlay = /** @type {HTMLCanvasElement} */ (document.createElement("canvas"));
  tlCanvas.className = "tl-canvas";
  tlOverlay.className = "tl-overlay";
  tlChart.appendChild(tlCanvas);
  tlChart.appendChild(tlOverlay);
  var tlWin = { from: TL.start, to: TL.stop };
  var tlWidth = 300;
  /** @type {{ x0: number, t0: number, clientX: number } | null} */
  var brush = null;
  var hovered = -1;

  /** Indices of the marks on each node, sorted by start time. @param {Array<{ node: number }>} marks @param {(m: any) => number} key */
  function byNode(marks, key) {
    /** @type {number[][]} */
    var rows = TL.nodes.map(function () { return []; });
    marks.forEach(function (m, i) { rows[m.node].push(i); });
    rows.forEach(function (r) { r.sort(function (a, b) { return key(marks[a]) - key(marks[b]); }); });
    return rows;
  }
  /** @param {FaultMark} f */
  function faultEnd(f) { return f.to === undefined ? f.until : f.to; }
  var barRows = byNode(TL.bars, function (b) { return b.from; });
  var tickRows = byNode(TL.ticks, function (k) { return k.at; });
  var faultRows = byNode(TL.faults, function (f) { return f.from; });
  /** @type {Record<number, number[]>} */
  var barsOfTest = {};
  TL.bars.forEach(function (b, i) { (barsOfTest[b.t] = barsOfTest[b.t] || []).push(i); });

  /**
   * The timeline from the page's tuples (see compact in src/internal/reportTimeline.ts).
   * @param {CompactTimeline} c
   * @returns {Timeline}
   */
  function decodeTimeline(c) {
    var s = c.start;
    return {
      start: c.start, stop: c.stop, nodes: c.nodes,
      bars: c.bars.map(function (b) {
        return { t: b[0], node: b[1], from: s + b[2], to: s + b[3], status: tests[b[0]].status, attempt: b[4] };
      }),
      faults: c.faults.map(function (f) {
        /** @type {FaultMark} */
        var m = { t: f[0], node: f[1], from: s + f[2], until: s + f[4], kind: tests[f[0]].faults[f[5]].kind };
        if (f[3] >= 0) m.to = s + f[3];
        return m;
      }),
      ticks: c.ticks.map(function (k) {
        return { t: k[0], node: k[1], at: s + k[2], start: k[3] === 1, service: tests[k[0]].services[k[4]].name };
      })
    };
  }

  /** @param {number} ms */
  function offset(ms) { return "+" + secs(ms - TL.start); }

  /** A round step for about `count` axis ticks over `span` ms. @param {number} span @param {number} count */
  function tickStep(span, count) {
    var steps = [10, 20, 50, 100, 200, 500, 1e3, 2e3, 5e3, 1e4, 15e3, 3e4, 6e4, 12e4, 3e5, 6e5, 9e5, 18e5, 36e5, 72e5, 216e5, 432e5, 864e5];
    for (var k = 0; k < steps.length; k++) if (span / steps[k] <= count) return steps[k];
    return Math.ceil(span / count / 864e5) * 864e5;
  }

  /** @param {number} ms */
  function xOf(ms) { return TL_LEFT + (ms - tlWin.from) / (tlWin.to - tlWin.from) * tlWidth; }
  /** @param {number} ms */
  function clampX(ms) { return Math.min(TL_LEFT + tlWidth, Math.max(TL_LEFT, xOf(ms))); }
  /** @param {number} x */
  function timeOfX(x) { return tlWin.from + (Math.min(tlWidth, Math.max(0, x - TL_LEFT)) / tlWidth) * (tlWin.to - tlWin.from); }

  /** Sizes a canvas for the screen's pixel ratio; returns its context in CSS pixels. @param {HTMLCanvasElement} c @param {number} w @param {number} h */
  function sized(c, w, h) {
    var ratio = window.devicePixelRatio || 1;
    c.width = Math.round(w * ratio);
    c.height = Math.round(h * ratio);
    c.style.width = w + "px";
    c.style.height = h + "px";
    var g = /** @type {CanvasRenderingContext2D} */ (c.getContext("2d"));
    g.setTransform(ratio, 0, 0, ratio, 0, 0);
    return g;
  }

  function drawTimeline() {
    drawnWidth = tlChart.clientWidth;
    tlWidth = Math.max(300, drawnWidth - TL_LEFT - TL_RIGHT);
    var w = TL_LEFT + tlWidth + TL_RIGHT, hgt = TL_TOP + TL.nodes.length * TL_ROW + 2;
    var css = getComputedStyle(document.documentElement);
    /** @param {string} name */
    function v(name) { return css.getPropertyValue(name).trim(); }
    var colour = { PASS: v("--pass"), FAIL: v("--fail"), FLAKY: v("--flaky"), IGNORE: v("--ignore") };
    var g = sized(tlCanvas, w, hgt);
    sized(tlOverlay, w, hgt);
    ["from", "to"].forEach(function (k) { tlCanvas.setAttribute("data-" + k, String(k === "from" ? tlWin.from : tlWin.to)); });
    tlCanvas.setAttribute("data-left", String(TL_LEFT));
    tlCanvas.setAttribute("data-width", String(tlWidth));
    tlCanvas.setAttribute("data-top", String(TL_TOP));
    tlCanvas.setAttribute("data-row", String(TL_ROW));
    var font = "11px system-ui, sans-serif";
    g.font = font;
    g.textBaseline = "middle";
    // rows and node names
    TL.nodes.forEach(function (n, i) {
      var y = TL_TOP + i * TL_ROW;
      if (i % 2 === 1) { g.fillStyle = v("--soft"); g.fillRect(TL_LEFT, y, tlWidth, TL_ROW); }
      g.fillStyle = v("--fg");
      g.textAlign = "right";
      g.fillText(n.length > 18 ? n.slice(0, 17) + "\u2026" : n, TL_LEFT - 8, y + TL_ROW / 2);
    });
    // time axis
    var span = tlWin.to - tlWin.from;
    var step = tickStep(span, Math.max(2, Math.floor(tlWidth / 90)));
    g.textAlign = "center";
    for (var at = Math.ceil((tlWin.from - TL.start) / step) * step + TL.start; at <= tlWin.to; at += step) {
      var x = Math.round(xOf(at)) + 0.5;
      g.fillStyle = v("--line");
      g.fillRect(x, TL_TOP - 4, 1, hgt - TL_TOP + 4);
      g.fillStyle = v("--muted");
      g.fillText(offset(at), Math.min(w - 30, Math.max(TL_LEFT + 20, x)), 9);
    }
    // bars, with their test's name where it fits
    // one fill colour at a time: switching it per bar was a third of the drawing time
    var drawn = 0;
    STATUSES.forEach(function (status) {
      g.fillStyle = colour[status];
      TL.bars.forEach(function (b) {
        if (b.status !== status || b.to < tlWin.from || b.from > tlWin.to) return;
        var x0 = clampX(b.from), x1 = clampX(b.to);
        g.fillRect(x0, TL_TOP + b.node * TL_ROW + 2, Math.max(1, x1 - x0 - 0.5), TL_ROW - 4);
        drawn++;
      });
    });
    g.fillStyle = "#fff";
    g.textAlign = "left";
    TL.bars.forEach(function (b) {
      if (b.to < tlWin.from || b.from > tlWin.to) return;
      var x0 = clampX(b.from), x1 = clampX(b.to), y = TL_TOP + b.node * TL_ROW + 2;
      if (x1 - x0 > 60) {
        var name = tests[b.t].name, fits = Math.floor((x1 - x0 - 8) / 6.2);
        // maxWidth: a name never runs past its bar's end, whatever the font
        g.fillText(name.length > fits ? name.slice(0, Math.max(1, fits - 1)) + "\u2026" : name, x0 + 4, y + (TL_ROW - 4) / 2, x1 - x0 - 8);
      }
    });
    tlCanvas.setAttribute("data-drawn", String(drawn));
    // faults along the bottom of their nodes' rows, service starts and stops as ticks along the top
    // (a fault never healed is drawn to its test's end; its tooltip says it was never healed)
    g.fillStyle = v("--fault");
    TL.faults.forEach(function (f) {
      var to = faultEnd(f);
      if (to < tlWin.from || f.from > tlWin.to) return;
      var x0 = clampX(f.from);
      g.fillRect(x0, TL_TOP + f.node * TL_ROW + TL_ROW - 6, Math.max(3, clampX(to) - x0), 5);
    });
    [true, false].forEach(function (start) {
      g.fillStyle = start ? v("--accent") : v("--muted");
      TL.ticks.forEach(function (k) {
        if (k.start !== start || k.at < tlWin.from || k.at > tlWin.to) return;
        g.fillRect(xOf(k.at) - 1, TL_TOP + k.node * TL_ROW, 2, 7);
      });
    });
    byId("tl-window").textContent = (tlWin.from === TL.start && tlWin.to === TL.stop ? "whole session: " : "window: ") +
      offset(tlWin.from) + " \u2192 " + offset(tlWin.to) + " of " + secs(TL.stop - TL.start);
    hovered = -1;
  }

  /** @param {number} a @param {number} b */
  function setWindow(a, b) {
    var lo = Math.max(TL.start, Math.min(a, b)), hi = Math.min(TL.stop, Math.max(a, b));
    if (hi - lo < TL_MIN_SPAN) { var mid = (lo + hi) / 2; lo = Math.max(TL.start, mid - TL_MIN_SPAN / 2); hi = Math.min(TL.stop, lo + TL_MIN_SPAN); }
    tlWin = { from: lo, to: hi };
    drawTimeline();
  }

  /**
   * The index (in `marks`) of the mark on a row nearest to time `t`, within `tol` ms, or -1.
   * @param {number[]} row @param {any[]} marks @param {(m: any) => number} from @param {(m: any) => number} to
   * @param {number} t @param {number} tol
   */
  function nearest(row, marks, from, to, t, tol) {
    var lo = 0, hi = row.length;
    while (lo < hi) { var mid = (lo + hi) >> 1; if (from(marks[row[mid]]) <= t + tol) lo = mid + 1; else hi = mid; }
    var best = -1, bestD = Infinity;
    // marks on one node hardly overlap: the few before the search point are the only candidates
    for (var k = lo - 1; k >= 0 && k >= lo - 8; k--) {
      var m = marks[row[k]], d = t < from(m) ? from(m) - t : t > to(m) ? t - to(m) : 0;
      if (d <= tol && d < bestD) { best = row[k]; bestD = d; }
    }
    return best;
  }

  /** What is under the mouse: { kind, i } or null. @param {MouseEvent} ev */
  function pick(ev) {
    var box = tlCanvas.getBoundingClientRect();
    var x = ev.clientX - box.left, y = ev.clientY - box.top;
    var node = Math.floor((y - TL_TOP) / TL_ROW);
    if (x < TL_LEFT || x > TL_LEFT + tlWidth || node < 0 || node >= TL.nodes.length) return null;
    var inRow = y - TL_TOP - node * TL_ROW;
    var t = timeOfX(x), tol = TL_PICK_PX * (tlWin.to - tlWin.from) / tlWidth;
    if (inRow >= TL_ROW - 7) {
      var f = nearest(faultRows[node], TL.faults, function (m) { return m.from; },
        faultEnd, t, tol);
      if (f >= 0) return { kind: "fault", i: f };
    }
    if (inRow <= 7) {
      var k = nearest(tickRows[node], TL.ticks, function (m) { return m.at; }, function (m) { return m.at; }, t, tol);
      if (k >= 0) return { kind: "tick", i: k };
    }
    var b = nearest(barRows[node], TL.bars, function (m) { return m.from; }, function (m) { return m.to; }, t, tol);
    return b >= 0 ? { kind: "bar", i: b } : null;
  }

  /** What a mark stands for, in words. @param {{ kind: string, i: number }} p */
  function describeMark(p) {
    if (p.kind === "bar") {
      var b = TL.bars[p.i];
      return tests[b.t].id + "\n" + b.status + (b.attempt > 1 ? ", attempt " + b.attempt : "") + " on " + TL.nodes[b.node] + ": " +
        offset(b.from) + " \u2192 " + offset(b.to) + " (" + secs(b.to - b.from) + ")\nclick: show the test";
    }
    if (p.kind === "fault") {
      var f = TL.faults[p.i];
      return f.kind + " on " + TL.nodes[f.node] + ": " + offset(f.from) + " \u2192 " + (f.to === undefined ? "never healed" : offset(f.to)) +
        "\nin " + tests[f.t].id;
    }
    var k = TL.ticks[p.i];
    return k.service + (k.start ? " started" : " stopped") + " on " + TL.nodes[k.node] + " at " + offset(k.at) + "\nin " + tests[k.t].id;
  }

  /** Outlines every bar of test `t` (or none) on the overlay, with the brush if one is being dragged. @param {number} t @param {number} [brushTo] */
  function drawOverlay(t, brushTo) {
    var g = /** @type {CanvasRenderingContext2D} */ (tlOverlay.getContext("2d"));
    var ratio = window.devicePixelRatio || 1;
    g.setTransform(1, 0, 0, 1, 0, 0);
    g.clearRect(0, 0, tlOverlay.width, tlOverlay.height);
    g.setTransform(ratio, 0, 0, ratio, 0, 0);
    if (t >= 0) {
      g.strokeStyle = getComputedStyle(document.documentElement).getPropertyValue("--fg").trim();
      g.lineWidth = 1.5;
      (barsOfTest[t] || []).forEach(function (i) {
        var b = TL.bars[i];
        if (b.to < tlWin.from || b.from > tlWin.to) return;
        var x0 = clampX(b.from), x1 = clampX(b.to);
        g.strokeRect(x0 - 0.5, TL_TOP + b.node * TL_ROW + 1.5, Math.max(2, x1 - x0) + 1, TL_ROW - 3);
      });
    }
    if (brush && brushTo !== undefined) {
      g.fillStyle = "rgba(9, 105, 218, .15)";
      g.fillRect(Math.min(brush.x0, brushTo), 0, Math.abs(brushTo - brush.x0), tlOverlay.height / ratio);
    }
  }

  tlOverlay.addEventListener("mousemove", function (ev) {
    if (brush) return;
    var p = pick(ev);
    var t = p && p.kind === "bar" ? TL.bars[p.i].t : p ? (p.kind === "fault" ? TL.faults[p.i] : TL.ticks[p.i]).t : -1;
    if (t !== hovered) { drawOverlay(t); hovered = t; }
    tlOverlay.style.cursor = p && p.kind === "bar" ? "pointer" : "crosshair";
    if (!p) { tlTip.hidden = true; return; }
    tlTip.textContent = describeMark(p);
    tlTip.hidden = false;
    tlTip.style.left = Math.max(0, Math.min(window.innerWidth - 390, ev.clientX + 14)) + "px";
    tlTip.style.top = (ev.clientY + 16) + "px";
  });
  tlOverlay.addEventListener("mouseleave", function () {
    if (brush) return;
    tlTip.hidden = true;
    drawOverlay(-1);
    hovered = -1;
  });
  tlOverlay.addEventListener("mousedown", function (ev) {
    if (ev.button !== 0) return;
    ev.preventDefault();
    var left = tlCanvas.getBoundingClientRect().left;
    brush = { x0: ev.clientX - left, t0: timeOfX(ev.clientX - left), clientX: ev.clientX };
    tlTip.hidden = true;
    var down = ev;
    /** @param {MouseEvent} move */
    function moved(move) { drawOverlay(-1, Math.min(TL_LEFT + tlWidth, Math.max(TL_LEFT, move.clientX - left))); }
    /** @param {MouseEvent} up */
    function done(up) {
      window.removeEventListener("mousemove", moved);
      window.removeEventListener("mouseup", done);
      var b = brush;
      brush = null;
      drawOverlay(-1);
      if (b && Math.abs(up.clientX - b.clientX) >= 4) { setWindow(b.t0, timeOfX(up.clientX - left)); return; }
      var p = pick(down);
      if (p && p.kind === "bar") reveal(TL.bars[p.i].t);
    }
    window.addEventListener("mousemove", moved);
    window.addEventListener("mouseup", done);
  });
  byId("tl-zoom-in").addEventListener("click", function () {
    var mid = (tlWin.from + tlWin.to) / 2, quarter = (tlWin.to - tlWin.from) / 4;
    setWindow(mid - quarter, mid + quarter);
  });
  byId("tl-zoom-out").addEventListener("click", function () {
    var mid = (tlWin.from + tlWin.to) / 2, span = tlWin.to - tlWin.from;
    setWindow(mid - span, mid + span);
  });
  byId("tl-reset").addEventListener("click", function () { setWindow(TL.start, TL.stop); });
  // Redrawn when its box changes width (a window resize, a scroll bar appearing once the table is filled in):
  // observers run after layout and before paint, so the page never shows a stretched chart.
  var drawnWidth = -1;
  if (typeof ResizeObserver === "function") {
    new ResizeObserver(function () {
      if (tlBox.open && !tlBox.hidden && tlChart.clientWidth !== drawnWidth) drawTimeline();
    }).observe(tlChart);
  }
  tlBox.addEventListener("toggle", function () { if (tlBox.open) drawTimeline(); });

  /** Shows test `i`'s row, open, whatever the filters hid: where a click on its bar leads. @param {number} i */
  function reveal(i) {
    selected = {};
    query = "";
    search.value = "";
    var order = sorted();
    for (var k = 0; k < order.length; k++) if (order[k].i === i && k >= limit) limit = k + 1;
    apply();
    var entry = entries[i];
    setOpen(entry, true);
    var row = build(entry).row;
    Array.prototype.forEach.call(document.querySelectorAll("tr.test-row.target"), function (r) { r.classList.remove("target"); });
    row.classList.add("target");
    row.scrollIntoView({ block: "center" });
  }

  if (TL.nodes.length === 0) tlBox.hidden = true;
  else {
    byId("tl-summary").textContent = "\u2014 " + tests.length + " test" + (tests.length === 1 ? "" : "s") + " on " +
      TL.nodes.length + " node" + (TL.nodes.length === 1 ? "" : "s") + ", " + TL.bars.length + " node holds";
  }

  // ---- not run, rerun --------------------------------------------------------------------------------------
  var extra = byId("extra");
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

  // The timeline first: its width is known before the table is filled in, so asking for it lays out a short page
  // (drawn after apply(), the same question cost a layout of the whole table: ~150 ms at 2,000 tests).
  if (TL.nodes.length > 0) drawTimeline();
  apply();
})();
