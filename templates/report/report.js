// @ts-check
// The report page's script: plain ES2017 (no build step, no innerHTML), inlined into report.html and allowed by
// its Content-Security-Policy hash. Checked by `tsc --checkJs` in test/Report.test.ts.

/**
 * The data report.html carries in <script id="report-data">, as src/internal/reportHtml.ts writes it.
 * @typedef {"PASS" | "FAIL" | "FLAKY" | "IGNORE"} Status
 * @typedef {{ id: string, name: string, nodes: string[], startedAt: number, stoppedAt?: number, problems: string[], notes: string[] }} ServiceView
 * @typedef {{ kind: string, target: string, detail: string, appliedAt: number, healedAt?: number }} FaultView
 * @typedef {{ tag: string, message: string, detail: string }} FailureView
 * @typedef {{
 *   id: string, status: Status, module: string, suite: string, name: string, params: Array<[string, string]>,
 *   paramsText: string, description: string, summary: string, failure: FailureView | null,
 *   attempts: Array<{ status: Status, summary: string, duration: string }>, start: number, stop: number,
 *   seconds: number, duration: string, longDuration: string, data: string | null, dir: string, nodes: string[],
 *   nodesAllocated: number, nodesUsed: number, services: ServiceView[], faults: FaultView[], symbol: string, file: string
 * }} TestView
 * @typedef {{ sessionId: string, version: string, start: number, notRun: string[], tests: TestView[],
 *   rerun: { symbols: string, file: string } | null }} Model
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
    if (t.faults.length > 0) box.appendChild(section("Faults", timeline(t)));
    if (t.services.length > 0) box.appendChild(section("Services", services(t)));
    if (t.data !== null) box.appendChild(section("Data", h("pre", { class: "data", text: t.data })));
    return box;
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
      var to = pct(f.healedAt === undefined ? end : f.healedAt);
      var when = "+" + secs(f.appliedAt - t.start) + " \u2192 " + (f.healedAt === undefined ? "never healed" : "+" + secs(f.healedAt - t.start));
      var bar = h("div", { class: "tl-bar" + (f.healedAt === undefined ? " open" : ""), title: f.kind + " " + f.target + ": " + when + (f.detail ? "\n" + f.detail : "") });
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

  apply();
})();
