// The Symphonics ops dashboard: fetches api/summary and draws each panel (tables, and small SVG charts).
// No dependency and no CDN: the api-server may have no internet access. Every value from the database is
// written with textContent, never parsed as HTML.
"use strict";

(function () {
  const SVG_NS = "http://www.w3.org/2000/svg";
  const COLORS = {
    publish: "#2f6fde", reconcile: "#16a37f", ops: "#d97706",
    accepted: "#16a37f", late: "#d97706", refused: "#c81e1e",
    published: "#2f6fde", updated: "#7c3aed", rejected: "#c81e1e", invalid: "#e11d48",
    conflict_unresolved: "#d97706", changed_after_publish: "#a16207", failed_retryable: "#64748b",
    dead_letter: "#111827", p50: "#2f6fde", p95: "#c81e1e",
  };
  const REFRESH_MS = 30000;

  // Bidi controls (embeddings, overrides, isolates, marks) in partner or app text would reorder the page's own
  // text around them (U+202E shows "txt.exe" for "exe.txt"): each is shown as U+FFFD instead.
  const BIDI_CONTROLS = /[\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]/g;
  function plainText(value) {
    return value === null || value === undefined ? "" : String(value).replace(BIDI_CONTROLS, "\uFFFD");
  }

  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (key === "text") node.textContent = plainText(value); else node.setAttribute(key, value);
    }
    for (const child of children || []) node.appendChild(child);
    return node;
  }

  function svg(tag, attrs, text) {
    const node = document.createElementNS(SVG_NS, tag);
    for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, String(value));
    if (text !== undefined) node.textContent = plainText(text);
    return node;
  }

  const fmt = (n) => (n === null || n === undefined ? "—" : Number(n).toLocaleString("en-US"));
  const pct = (part, whole) => (whole ? `${Math.round((100 * part) / whole)}%` : "—");
  const ms = (n) => (n === null || n === undefined ? "—" : `${Math.round(n).toLocaleString("en-US")} ms`);
  function when(iso) {
    if (!iso) return "—";
    const d = new Date(iso);
    return d.toISOString().replace("T", " ").slice(0, 16) + " UTC";
  }
  // A duration in seconds, in the unit a person reads it in: s, min, h or d.
  function duration(seconds) {
    if (seconds === null || seconds === undefined) return "–";
    const units = [[86400, "d"], [3600, "h"], [60, "min"]];
    for (const [size, unit] of units) {
      if (Math.abs(seconds) >= size) return `${(seconds / size).toFixed(1)} ${unit}`;
    }
    return `${seconds.toFixed(1)} s`;
  }
  const plural = (n, one, many) => `${fmt(n)} ${n === 1 ? one : many}`;
  const hhmm = (iso) => new Date(iso).toISOString().slice(11, 16);

  // Integer ticks from 0: a step of 1, 2, 5, 10, 20, 50… so that at most 4 steps cover the maximum.
  function integerTicks(max) {
    const target = Math.max(1, Math.ceil(max));
    let step = 1;
    for (let magnitude = 1; ; magnitude *= 10) {
      const found = [1, 2, 5].map((m) => m * magnitude).find((candidate) => target / candidate <= 4);
      if (found) { step = found; break; }
    }
    const top = Math.ceil(target / step) * step;
    const ticks = [];
    for (let value = 0; value <= top; value += step) ticks.push(value);
    return { top, ticks };
  }

  // Width a chart label needs at the charts' 10 px font (generous: 6.2 px per character).
  const textWidth = (text) => Math.ceil(String(text).length * 6.2) + 4;

  function kpi(id, value, label) {
    return el("div", { class: "kpi", "data-kpi": id }, [
      el("div", { class: "value", text: value }),
      el("div", { class: "label", text: label }),
    ]);
  }

  function legend(keys) {
    return el("div", { class: "legend" }, keys.map((key) =>
      el("span", {}, [el("i", { style: `background:${COLORS[key] || "#999"}` }), document.createTextNode(key)])));
  }

  function table(headers, rows, numeric, mode) {
    const head = el("tr", {}, headers.map((h, i) => el("th", { class: numeric[i] ? "num" : "", text: h })));
    const body = rows.map((row) => el("tr", {}, row.map((cell, i) =>
      el("td", { class: numeric[i] ? "num" : "", text: cell === null || cell === undefined ? "—" : String(cell) }))));
    return el("div", { class: "table-wrap" }, [el("table", { class: mode || "" }, [el("thead", {}, [head]), el("tbody", {}, body)])]);
  }

  // A label cut to `max` characters with an ellipsis (the full text goes in a tooltip).
  const truncate = (text, max) => (String(text).length > max ? `${String(text).slice(0, max - 1)}…` : String(text));

  // Horizontal bars: items [{label, value, max?, color?, note?}]. Labels and notes get columns wide enough for
  // their text, up to a third of the chart each (a longer label is cut with an ellipsis, its full text in a
  // tooltip), so nothing is clipped by the chart's box, drawn over a bar, or pushes the bars out of the chart.
  function hbars(items, options) {
    const width = 460, row = 22, maxLabelChars = 24;
    const labels = items.map((it) => truncate(it.label, maxLabelChars));
    const labelWidth = Math.max(60, ...labels.map(textWidth)) + 6;
    const noteWidth = Math.max(...items.map((it) => textWidth(it.note || fmt(it.value)))) + 8;
    const top = Math.max(1, ...items.map((it) => Math.max(it.value, it.max || 0)));
    const span = Math.max(40, width - labelWidth - noteWidth);
    const chart = svg("svg", { viewBox: `0 0 ${width} ${items.length * row + 4}`, role: "img", class: "hbars",
      "aria-label": options.title || "bar chart" });
    items.forEach((it, i) => {
      const y = i * row + 2;
      const label = svg("g", { class: "bar-row" });
      label.appendChild(svg("title", {}, String(it.label)));
      label.appendChild(svg("text", { x: labelWidth - 6, y: y + 14, "text-anchor": "end", class: "bar-label" }, labels[i]));
      chart.appendChild(label);
      if (it.max) {
        chart.appendChild(svg("rect", { x: labelWidth, y: y + 3, width: (span * it.max) / top, height: 14,
          fill: "none", stroke: "#9aa5b1", "stroke-dasharray": "3 2", class: "cap" }));
      }
      chart.appendChild(svg("rect", { x: labelWidth, y: y + 3, width: Math.max(1, (span * it.value) / top), height: 14,
        fill: it.color || "#2f6fde", rx: 2 }));
      chart.appendChild(svg("text", { x: width - 2, y: y + 14, "text-anchor": "end" }, it.note || fmt(it.value)));
    });
    return chart;
  }

  // Vertical stacked bars: series [{label, values: {key: n}}], keys in stacking order; line: optional y value,
  // labelled above the plot (never over the bars). Integer ticks: these are counts.
  function stacked(series, keys, options) {
    const width = 720, height = 180, bottom = 20, top = options.line ? 18 : 8;
    const totals = series.map((s) => keys.reduce((sum, k) => sum + (s.values[k] || 0), 0));
    const scale = integerTicks(Math.max(1, options.line || 0, ...totals));
    const ymax = scale.top;
    const left = Math.max(24, textWidth(fmt(ymax)) + 6);
    const plotH = height - bottom - top, step = (width - left) / Math.max(1, series.length);
    const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": options.title || "chart" });
    scale.ticks.forEach((value) => {
      const y = top + plotH * (1 - value / ymax);
      chart.appendChild(svg("line", { x1: left, x2: width, y1: y, y2: y, stroke: "#e4e7eb" }));
      chart.appendChild(svg("text", { x: left - 4, y: y + 3, "text-anchor": "end" }, fmt(value)));
    });
    const labelEvery = Math.max(1, Math.ceil(Math.max(...series.map((s) => textWidth(s.label)), 1) / step));
    series.forEach((s, i) => {
      let y = top + plotH;
      keys.forEach((k) => {
        const v = s.values[k] || 0;
        if (!v) return;
        const h = (plotH * v) / ymax;
        y -= h;
        const bar = svg("rect", { x: left + i * step + 1, y, width: Math.max(1, step - 2), height: h, fill: COLORS[k] || "#999" });
        bar.appendChild(svg("title", {}, `${s.label} ${k}: ${v}`));
        chart.appendChild(bar);
      });
      if (i % labelEvery === 0) {
        chart.appendChild(svg("text", { x: left + i * step + step / 2, y: height - 6, "text-anchor": "middle" }, s.label));
      }
    });
    if (options.line) {
      const y = top + plotH * (1 - options.line / ymax);
      chart.appendChild(svg("line", { x1: left, x2: width, y1: y, y2: y, stroke: "#c81e1e", "stroke-dasharray": "4 3" }));
      chart.appendChild(svg("text", { x: width - 2, y: Math.max(10, y - 4), "text-anchor": "end", class: "line-label" },
        options.lineLabel || ""));
    }
    return chart;
  }

  // Lines: points [{label, values: {key: n|null}}].
  function lines(points, keys, options) {
    const width = 720, height = 172, bottom = 22, top = 8;
    const all = points.flatMap((p) => keys.map((k) => p.values[k]).filter((v) => v !== null && v !== undefined));
    const ymax = Math.max(1, ...all);
    const left = Math.max(50, textWidth(ms(ymax)) + 6);
    const plotH = height - bottom - top, step = (width - left) / Math.max(1, points.length - 1);
    const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": options.title || "chart" });
    [0, 0.5, 1].forEach((f) => {
      const y = top + plotH * (1 - f);
      chart.appendChild(svg("line", { x1: left, x2: width, y1: y, y2: y, stroke: "#e4e7eb" }));
      chart.appendChild(svg("text", { x: left - 4, y: y + 3, "text-anchor": "end" }, ms(ymax * f)));
    });
    keys.forEach((k) => {
      let d = "";
      points.forEach((p, i) => {
        const v = p.values[k];
        if (v === null || v === undefined) return;
        const x = left + i * step, y = top + plotH * (1 - v / ymax);
        d += `${d ? "L" : "M"}${x.toFixed(1)},${y.toFixed(1)} `;
        chart.appendChild(svg("circle", { cx: x, cy: y, r: 2.5, fill: COLORS[k] }));
      });
      if (d) chart.appendChild(svg("path", { d, fill: "none", stroke: COLORS[k], "stroke-width": 2 }));
    });
    const labelEvery = Math.max(3, Math.ceil(Math.max(...points.map((p) => textWidth(p.label)), 1) / step));
    points.forEach((p, i) => {
      // The first label starts at the axis, so it never runs into the y-axis ticks.
      if (i % labelEvery === 0) {
        chart.appendChild(svg("text", { x: left + i * step, y: height - 3, "text-anchor": i === 0 ? "start" : "middle" },
          p.label));
      }
    });
    return chart;
  }

  // Shares are ceilings, not slices: they may add up to more than 100%; reserves are floors kept for a class.
  function explainShares(limits) {
    const shares = Object.entries(limits.shares || {}).map(([name, share]) => `${name} ${Math.round(share * 100)}%`);
    const reserves = Object.entries(limits.reserves || {}).filter(([, r]) => r > 0)
      .map(([name, r]) => `${name} ${Math.round(r * 100)}%`);
    return `A share is a ceiling: the most of the day's ${fmt(limits.requests_per_day)} requests a class may use ` +
      `(${shares.join(", ")}), so shares may add up to more than 100%. A reserve is kept for a class: the others ` +
      `never use it (${reserves.length ? reserves.join(", ") : "none"}).`;
  }

  const KIND_LABELS = { scheduled: "scheduled", manual: "manual", backfill: "backfill",
    asset_triggered: "asset-triggered", dry_run: "dry run" };
  let runsKind = null;

  function runFilters(p) {
    const buttons = [[null, "all", p.total], ...Object.entries(p.by_kind).map(([kind, n]) => [kind, KIND_LABELS[kind] || kind, n])];
    return el("div", { class: "filters", role: "group", "aria-label": "run kind" }, buttons.map(([kind, label, n]) => {
      const button = el("button", { type: "button", class: "filter", "data-kind": kind || "all",
        "aria-pressed": String((kind || null) === (p.kind || null)), text: `${label} (${fmt(n)})` });
      button.addEventListener("click", () => loadRuns(kind));
      return button;
    }));
  }

  async function loadRuns(kind) {
    runsKind = kind;
    const query = kind ? `?kind=${encodeURIComponent(kind)}` : "";
    try {
      const response = await fetch(`api/runs${query}`, { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (!response.ok) throw new Error(`${response.status}`);
      show("runs", await response.json());
    } catch (err) {
      show("runs", { status: "error", message: `could not read the runs (${err.message})` });
    }
  }

  async function loadFailedRuns() {
    try {
      const response = await fetch("api/failed_runs", { credentials: "same-origin", headers: { Accept: "application/json" } });
      const panel = await response.json().catch(() => ({ status: "error", message: `${response.status}` }));
      show("failed_runs", response.ok ? panel : { status: "error", message: panel.detail || panel.message || `${response.status}` });
    } catch (err) {
      show("failed_runs", { status: "error", message: `could not read the failed runs (${err.message})` });
    }
    document.getElementById("panel-failed_runs").dataset.loaded = "true";
  }

  // -- panels --------------------------------------------------------------------------------------------

  // What the partner stated about the quota: a limit below the configured one (adopted), a floor while it runs.
  function partnerStatements(p) {
    const notes = [];
    if (p.partner_per_minute) {
      notes.push(`the partner grants ${fmt(p.partner_per_minute)} requests a minute (configured ${fmt(p.configured_minute_limit)}): adopted`);
    }
    if (p.partner_per_day) {
      notes.push(`the partner grants ${fmt(p.partner_per_day)} requests a day (configured ${fmt(p.configured_day_limit)}): adopted`);
    }
    if (p.partner_floor_until) {
      notes.push(`the partner asked us to wait until ${when(p.partner_floor_until)} (Retry-After): no request leaves before`);
    }
    return notes.map((text) => el("p", { class: "meta warn", "data-kpi": "quota.partner", text }));
  }

  const render = {
    quota(p, doc) {
      const body = [
        el("div", { class: "kpis" }, [
          kpi("quota.day_used", `${fmt(p.day_used)} / ${fmt(p.day_limit)}`, `today (since ${when(p.day_start)})`),
          kpi("quota.last_minute", `${fmt(p.last_minute)} / ${fmt(p.minute_limit)}`, "last minute"),
          ...p.classes.map((c) => kpi(`quota.${c.name}`, fmt(c.used_today),
            `${c.name} today (cap ${fmt(c.cap)}${c.checks ? `, ${fmt(c.checks)} connection tests` : ""})`)),
        ]),
        ...partnerStatements(p),
        hbars(p.classes.map((c) => ({ label: `${c.name} (share ${Math.round(c.share * 100)}%)`, value: c.used_today,
          max: c.cap, color: COLORS[c.name], note: `${fmt(c.used_today)} / ${fmt(c.cap)} (${pct(c.used_today, c.cap)})` })),
        { title: "requests today per class against its cap" }),
        el("p", { class: "meta explain", "data-explain": "shares", text: explainShares(doc.limits) }),
        legend(["publish", "reconcile", "ops"]),
        stacked(p.per_minute.map((m) => ({ label: hhmm(m.minute), values: m })), ["publish", "reconcile", "ops"],
          { title: "requests per minute", line: p.minute_limit, lineLabel: `limit ${fmt(p.minute_limit)}/min` }),
      ];
      return body;
    },
    breaker(p) {
      return [
        el("p", {}, [el("span", { class: `pill ${p.state}`, "data-kpi": "breaker.state", text: p.state })]),
        el("div", { class: "kpis" }, [
          kpi("breaker.failed_calls", `${fmt(p.failed_calls)} / ${fmt(p.threshold)}`, "calls in a row unavailable"),
          kpi("breaker.failed_attempts", fmt(p.failed_attempts), "attempts since last answer"),
        ]),
        table(["", ""], [
          ["last answer", when(p.last_answer_at)],
          ["last failure", when(p.last_failure_at)],
          ["open until", when(p.open_until)],
          ["cool-down", `${p.reset_seconds} s`],
        ], [false, false]),
      ];
    },
    backlog(p) {
      return [
        el("div", { class: "kpis" }, [
          kpi("backlog.backlog", fmt(p.backlog), "rows to work on"),
          kpi("backlog.eta", when(p.eta), "drained at the quota (ETA)"),
          kpi("backlog.total", fmt(p.total), "rows in the ledger"),
        ]),
        hbars(p.states.map((s) => ({ label: s.state, value: s.rows, color: COLORS[s.state] || "#64748b" })),
          { title: "ledger rows per state" }),
        el("p", { class: "meta", text: `ETA basis: ${p.eta_basis}` }),
      ];
    },
    ops_queue(p) {
      const body = [el("div", { class: "kpis" }, Object.entries(p.counts).map(([state, n]) =>
        kpi(`ops_queue.${state}`, fmt(n), state)))];
      body.push(table(["external id", "state", "reason", "error", "attempts", "since"],
        p.rows.map((r) => [r.external_id, r.state, r.state_reason, r.last_error_code || r.last_http_status,
          r.attempts, when(r.state_changed_at)]), [false, false, false, false, true, false]));
      return body;
    },
    runs(p) {
      const keys = ["published", "updated", "rejected", "invalid", "conflict_unresolved", "failed_retryable", "dead_letter"];
      // Runs that settled nothing (a backfill of quiet days, a dry run) would fill the chart with empty columns:
      // it shows the last 20 runs that settled rows, and says how many it left out.
      const settled = p.runs.filter((r) => keys.some((k) => r[k]));
      const charted = settled.slice(0, 20).reverse();
      const leftOut = p.runs.length - settled.length;
      return [
        runFilters(p),
        legend(keys),
        charted.length
          ? stacked(charted.map((r) => ({ label: when(r.started_at).slice(5, 16), values: r })), keys,
            { title: "outcomes per run (the last 20 that settled rows)" })
          : el("p", { class: "no-data", id: "runs-chart-empty", text: `none of the ${fmt(p.runs.length)} run(s) ` +
            "listed settled a row (published, updated, rejected…): nothing to chart" }),
        ...(leftOut > 0 ? [el("p", { class: "meta", id: "runs-chart-left-out", text: `${plural(leftOut,
          "listed run settled nothing and is", "listed runs settled nothing and are")} not charted (a backfill ` +
          "of quiet days, a dry run); the table lists every run" })] : []),
        el("p", { class: "meta", text: `${fmt(p.runs.length)} run(s) listed, newest first` +
          (p.runs.length >= p.shown_limit ? ` (the last ${p.shown_limit})` : "") }),
        el("div", { class: "scroll" }, [table(["run", "kind", "started", "duration", "published", "updated", "rejected",
          "invalid", "dead letter", "calls", "backlog"],
          p.runs.map((r) => [`${r.run_id}${r.kill_switch ? " (kill switch)" : ""}`, KIND_LABELS[r.kind] || r.kind,
            when(r.started_at), r.duration_seconds === null ? "running" : `${Math.round(r.duration_seconds)} s`,
            r.published, r.updated, r.rejected, r.invalid, r.dead_letter,
            r.calls_budget ? `${r.calls_spent} / ${r.calls_budget}` : r.calls_spent, r.backlog]),
          [false, false, false, true, true, true, true, true, true, true, true], "wrap runs")]),
      ];
    },
    failed_runs(p) {
      const rows = [];
      for (const run of p.runs) {
        const tasks = run.failed_tasks.length ? run.failed_tasks : [{ task_id: "—", error: "no failed task (run marked failed)" }];
        for (const task of tasks) {
          rows.push([run.dag_id, run.run_id, KIND_LABELS[run.run_type] || run.run_type, when(run.start_date),
            task.task_id, task.error]);
        }
      }
      return [
        el("p", { class: "meta", text: `${fmt(p.total)} failed run(s) of the Symphonics DAGs; the newest ${fmt(p.runs.length)}, as Airflow's API shows them to you` }),
        table(["DAG", "run", "type", "started", "failed task", "error"], rows,
          [false, false, false, false, false, false], "wrap errors"),
      ];
    },
    rejections(p) {
      const kinds = { validation: ["partner validation", "partner validation"], intervention: ["file", "files"],
        document: ["document", "documents"] };
      const byKind = p.refusals_by_kind.map((k) => {
        const [one, many] = kinds[k.rejection_kind] || [k.rejection_kind, k.rejection_kind];
        return `${plural(k.refusals, one, many)}${k.decided_by === "sync" ? " (our threshold)" : ""}`;
      });
      // Each reason's rows by where they were held: our local rules, the partner's validation, a rejected file.
      // A refusal by our own confidence threshold on a partner answer is ours, not the partner's.
      const split = (r) => [[r.invalid, "local", "local"],
        [r.rejected_validation - (r.decided_by_sync || 0), "partner", "partner"],
        [r.decided_by_sync || 0, "our threshold", "our threshold"],
        [r.rejected_files, "rejected file", "rejected files"]].filter(([n]) => n).map(([n, one, many]) => plural(n, one, many));
      return [
        el("p", { class: "meta", text: `${plural(p.refusals, "refusal", "refusals")} in the last ${p.window_days} days` +
          (byKind.length ? `: ${byKind.join(", ")}` : "") + " (analytics.rejections)" }),
        legend(["invalid", "rejected"]),
        hbars(p.reasons.map((r) => ({ label: r.reason, value: r.rows,
          color: r.invalid > r.rejected_validation + r.rejected_files ? COLORS.invalid : COLORS.rejected,
          note: `${fmt(r.rows)} (${split(r).join(", ")})` })),
        { title: "rows per rejection reason" }),
      ];
    },
    webhooks(p) {
      return [
        el("div", { class: "kpis" }, [
          kpi("webhooks.accepted", fmt(p.accepted), "accepted"),
          kpi("webhooks.late", fmt(p.late), "late (stored, polled)"),
          kpi("webhooks.refused", fmt(p.refused), "refused"),
          kpi("webhooks.unprocessed", fmt(p.unprocessed), "not yet applied"),
        ]),
        legend(["accepted", "late", "refused"]),
        stacked(p.hourly.map((h) => ({ label: hhmm(h.hour), values: h })), ["accepted", "late", "refused"],
          { title: "webhooks per hour" }),
        table(["rejection reason", "requests"], p.rejections.map((r) => [r.reason, r.requests]), [false, true]),
        el("p", { class: "meta", text: `last received ${when(p.last_received_at)}; unknown event types: ${fmt(p.unknown_event)}` }),
      ];
    },
    latency(p) {
      return [
        el("div", { class: "kpis" }, [
          kpi("latency.p50", ms(p.p50_ms), "p50"),
          kpi("latency.p95", ms(p.p95_ms), "p95"),
          kpi("latency.calls", fmt(p.calls), "replies"),
          kpi("latency.unavailable", fmt(p.unavailable), "no reply or 5xx"),
        ]),
        legend(["p50", "p95"]),
        lines(p.hourly.map((h) => ({ label: hhmm(h.hour), values: { p50: h.p50_ms, p95: h.p95_ms } })), ["p50", "p95"],
          { title: "latency per hour" }),
        table(["operation", "calls", "p50", "p95"], p.operations.map((o) => [o.operation, o.calls, ms(o.p50_ms), ms(o.p95_ms)]),
          [false, true, true, true]),
      ];
    },
    freshness(p) {
      const probeMs = (v) => (v === null || v === undefined ? "–" : `${v.toFixed(2)} ms`);
      return [
        el("div", { class: "kpis" }, [
          kpi("freshness.p50", duration(p.p50_s), "completed → created p50"),
          kpi("freshness.p95", duration(p.p95_s), "completed → created p95"),
          kpi("freshness.publishes", fmt(p.publishes), "creates"),
        ]),
        el("p", { class: "meta explain", "data-explain": "freshness", text: "Latency over the creates of the last " +
          "24 h whose completion also falls in the last 24 h: an older completion published now is a backlog " +
          "caught up, not latency, and is left out." }),
        table(["watcher", "last probe", "probe", "mean probe", "probes", "signals", "last signal", "errors", "last error"],
          p.watchers.map((w) => [w.watcher, when(w.last_probe_at), probeMs(w.last_probe_ms), probeMs(w.mean_probe_ms), w.probes,
            w.signals, when(w.last_signal_at), w.errors, w.last_error ? `${when(w.last_error_at)} ${w.last_error}` : "–"]),
          [false, false, true, true, true, true, false, true, false], "wrap freshness"),
      ];
    },
  };

  // The alerts panel: open episodes first (a condition still going on), then the recent alerts of the window.
  function renderAlerts(p) {
    const state = (a) => (a.open ? "open" : a.resolved_at ? "resolved" : a.episodic ? "—" : "raised");
    return [
      el("div", { class: "kpis" }, [
        kpi("alerts.open", fmt(p.open), "open episodes"),
        kpi("alerts.open_critical", fmt(p.open_critical), "of them critical"),
        kpi("alerts.raised", fmt(p.raised_in_window), `raised in the last ${p.window_days} days`),
      ]),
      table(["state", "severity", "alert", "message", "raised", "resolved", "sent to"],
        p.alerts.map((a) => [state(a), a.severity, a.kind, a.message, when(a.raised_at),
          a.open ? "open" : when(a.resolved_at), a.sent_to.length ? a.sent_to.join(", ") : "table and log"]),
        [false, false, false, false, false, false, false], "wrap alerts"),
      el("p", { class: "meta", text: p.alerts.length >= p.shown_limit ? `the newest ${p.shown_limit} shown` :
        "what each alert means and what to do: docs/RUNBOOK.md" }),
    ];
  }
  render.alerts = renderAlerts;

  function show(name, panel, doc) {
    const card = document.getElementById(`panel-${name}`);
    if (!card) return;
    const body = card.querySelector(".body");
    body.replaceChildren();
    card.dataset.status = panel.status;
    if (panel.status === "ok") {
      try {
        for (const node of render[name](panel, doc)) body.appendChild(node);
      } catch (err) {
        card.dataset.status = "error";
        body.replaceChildren(el("p", { class: "error", text: `could not draw this panel: ${err}` }));
      }
    } else if (panel.status === "no_data") {
      body.appendChild(el("p", { class: "no-data", text: `No data yet — ${panel.message || ""}` }));
    } else {
      body.appendChild(el("p", { class: "error", text: panel.message || "could not read the figures" }));
    }
  }

  async function load() {
    const error = document.getElementById("page-error");
    try {
      const response = await fetch("api/summary", { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (!response.ok) {
        const detail = await response.json().catch(() => ({}));
        throw new Error(`${response.status}: ${detail.detail || response.statusText}`);
      }
      const doc = await response.json();
      error.hidden = true;
      document.getElementById("generated").textContent = `figures of ${when(doc.generated_at)}`;
      const client = doc.limits.client_id ? ` · client id ${doc.limits.client_id}` : "";
      document.getElementById("limits-source").textContent = `limits from ${doc.limits.source}${client}`;
      for (const [name, panel] of Object.entries(doc.panels)) {
        if (name === "runs" && runsKind) continue;  // the filter the viewer picked stays
        show(name, panel, doc);
      }
      if (runsKind) await loadRuns(runsKind);
      await loadFailedRuns();
      await showDryRun();
      document.body.dataset.loaded = "true";
    } catch (err) {
      error.textContent = `The figures could not be loaded (${err.message}).`;
      error.hidden = false;
      document.body.dataset.loaded = "error";
    }
  }

  // -- a row's story: search, then its timeline ---------------------------------------------------------------

  async function getJson(url) {
    const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(`${response.status}: ${body.detail || response.statusText}`);
    return body;
  }

  function detailText(detail) {
    return Object.entries(detail).map(([key, value]) => `${key.replace(/_/g, " ")}: ${value}`).join(" · ");
  }

  async function showTimeline(externalId) {
    const target = document.getElementById("story-timeline");
    target.replaceChildren(el("p", { class: "no-data", text: `loading the story of ${externalId}…` }));
    try {
      const story = await getJson(`api/timeline?external_id=${encodeURIComponent(externalId)}`);
      const c = story.current;
      // The partner's word wins the headline: a published row whose file the partner rejected is "rejected".
      const now = (c.partner_status === "rejected"
        ? ["rejected by the partner", c.symphonics_id, `ledger: ${c.state}`]
        : [c.state, c.state_reason, c.symphonics_id, c.partner_status && `partner: ${c.partner_status}`]
      ).filter(Boolean).join(" · ");
      const items = story.events.map((event) => el("li", { class: `event ${event.kind}`, "data-kind": event.kind }, [
        el("span", { class: "at", text: event.at ? event.at.replace("T", " ").slice(0, 19) : "—" }),
        el("span", { class: "kind", text: event.kind.replace(/_/g, " ") }),
        el("span", { class: "title", text: event.title }),
        el("span", { class: "detail", text: detailText(event.detail) }),
      ]));
      const steps = (c.next_steps || []).map((step) => [step.type, step.status, step.estimated_completion && `by ${step.estimated_completion}`]
        .filter(Boolean).join(" "));
      const nextSteps = el("p", { class: "next-steps", id: "story-next-steps",
        text: steps.length ? `partner's next steps: ${steps.join(" · ")}` : "partner's next steps: none given" });
      const again = el("button", { type: "button", id: "check-again-row", text: "Check again now" });
      again.addEventListener("click", () => openCheckAgain([story.external_id]));
      target.replaceChildren(
        el("h3", { id: "story-title", text: `${story.external_id} — now ${now}` }),
        nextSteps,
        again,
        el("ol", { class: "timeline", id: "story-events" }, items),
      );
      target.dataset.externalId = story.external_id;
    } catch (err) {
      target.replaceChildren(el("p", { class: "error", text: `The story could not be loaded (${err.message}).` }));
    }
  }

  async function searchStory(event) {
    if (event) event.preventDefault();
    const key = document.getElementById("story-key").value.trim();
    const results = document.getElementById("story-results");
    document.getElementById("story-timeline").replaceChildren();
    if (!key) { results.replaceChildren(); return; }
    try {
      const found = await getJson(`api/search?key=${encodeURIComponent(key)}`);
      if (!found.rows.length) {
        results.replaceChildren(el("p", { class: "no-data", id: "story-none", text: `Nothing found for ${found.key}.` }));
        return;
      }
      const rows = found.rows.map((row) => {
        const open = el("button", { type: "button", class: "open-story", "data-external-id": row.external_id,
                                    text: row.external_id });
        open.addEventListener("click", () => showTimeline(row.external_id));
        return el("tr", {}, [el("td", {}, [open]), el("td", { text: row.symphonics_id || "—" }),
          el("td", { text: row.state }), el("td", { text: row.state_reason || "" }),
          el("td", { text: when(row.state_changed_at) })]);
      });
      results.replaceChildren(el("table", { class: "story-rows" }, [
        el("thead", {}, [el("tr", {}, ["external id", "Symphonics id", "state", "reason", "since"].map(
          (h) => el("th", { text: h })))]),
        el("tbody", {}, rows),
      ]));
      if (found.rows.length === 1) await showTimeline(found.rows[0].external_id);
    } catch (err) {
      results.replaceChildren(el("p", { class: "error", text: `The search failed (${err.message}).` }));
    }
  }

  document.getElementById("story-search").addEventListener("submit", searchStory);

  // -- the failed rows of one run ------------------------------------------------------------------------------

  async function showFailures(event) {
    if (event) event.preventDefault();
    const runId = document.getElementById("failures-run").value.trim();
    const body = document.getElementById("failures-body");
    const link = document.getElementById("failures-csv");
    link.hidden = true;
    if (!runId) { body.replaceChildren(); return; }
    try {
      const found = await getJson(`api/run_failures?run_id=${encodeURIComponent(runId)}`);
      link.href = `api/run_failures.csv?run_id=${encodeURIComponent(runId)}`;
      link.hidden = found.total === 0;
      if (!found.total) {
        body.replaceChildren(el("p", { class: "no-data", id: "failures-none", text: `No failed row in run ${runId}.` }));
        return;
      }
      const counts = Object.entries(found.by_reason).map(([key, n]) => `${key} (${fmt(n)})`).join(" · ");
      const rows = found.rows.map((r) => [r.external_id, r.ended_in, r.reason, r.error_code, r.http_status,
        r.state_now, r.state_detail]);
      const listing = table(["external id", "ended in", "reason", "error", "HTTP", "state now", "detail"], rows,
        [false, false, false, false, true, false, false], "wrap failures");
      const again = el("button", { type: "button", id: "check-again-failures",
        text: `Check these ${plural(Math.min(found.total, 500), "row", "rows")} again now` });
      again.addEventListener("click", () => openCheckAgain(found.rows.slice(0, 500).map((r) => r.external_id)));
      body.replaceChildren(el("p", { class: "explain", id: "failures-summary",
        text: `${plural(found.total, "failed row", "failed rows")}: ${counts}` }), again,
        el("div", { class: "scroll" }, [listing]));
      for (const cell of body.querySelectorAll("tbody td:first-child")) {
        cell.classList.add("link");
        cell.addEventListener("click", () => {
          document.getElementById("story-key").value = cell.textContent;
          searchStory();
          document.getElementById("panel-story").scrollIntoView();
        });
      }
    } catch (err) {
      body.replaceChildren(el("p", { class: "error", text: `The failed rows could not be loaded (${err.message}).` }));
    }
  }

  document.getElementById("failures-form").addEventListener("submit", showFailures);

  // -- a dry run's stored result ---------------------------------------------------------------------------------

  async function showDryRun(event) {
    if (event) event.preventDefault();
    const runId = document.getElementById("dry-run-id").value.trim();
    const body = document.getElementById("dry-run-body");
    const link = document.getElementById("dry-run-csv");
    const query = runId ? `?run_id=${encodeURIComponent(runId)}` : "";
    link.hidden = true;
    try {
      const response = await fetch(`api/dry_run${query}`, { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (response.status === 404) {  // only for a run id asked for: the latest answers 200, empty or not
        body.replaceChildren(el("p", { class: "no-data", id: "dry-run-none", text: `No stored dry run ${runId}.` }));
        return;
      }
      if (!response.ok) throw new Error(`${response.status}: ${response.statusText}`);
      const found = await response.json();
      if (!found.run_id) {
        body.replaceChildren(el("p", { class: "no-data", id: "dry-run-none", text: "No dry run yet: trigger " +
          "symphonics_publish with dry_run on (or Check again → Dry run) to see here what a run would send." }));
        return;
      }
      if (!found.rows.length) {
        body.replaceChildren(el("p", { class: "no-data", id: "dry-run-empty", text: `Dry run ${found.run_id} ` +
          `(${when(found.recorded_at)}) planned nothing: no row to create, PATCH, refuse or skip.` }));
        return;
      }
      link.href = `api/dry_run.csv?run_id=${encodeURIComponent(found.run_id)}`;
      link.hidden = false;
      const c = found.counts;
      const kpis = el("div", { class: "kpis" }, [
        kpi("dry_run.create", fmt(c.create), "to create"), kpi("dry_run.patch", fmt(c.patch), "to PATCH"),
        kpi("dry_run.refuse", fmt(c.refuse), "refused"), kpi("dry_run.skip", fmt(c.skip), "skipped"),
        kpi("dry_run.calls", fmt(found.calls), "calls needed"),
        kpi("dry_run.left", fmt(found.publish_left_today), "publish quota left today"),
        kpi("dry_run.eta", when(found.eta), "would finish (ETA)"),
      ]);
      const rows = found.rows.map((r) => [r.external_id, r.action, r.state, r.reason,
        r.fields ? r.fields.join(", ") : (r.new_documents !== null ? `${r.new_documents} new document(s)` : "")]);
      body.replaceChildren(
        el("p", { class: "explain", id: "dry-run-title", text: `${found.run_id}, stored ${when(found.recorded_at)}` }),
        kpis,
        el("div", { class: "scroll" }, [table(["external id", "action", "state", "reason", "fields / documents"], rows,
          [false, false, false, false, false], "wrap")]),
      );
    } catch (err) {
      body.replaceChildren(el("p", { class: "error", text: `The dry run could not be loaded (${err.message}).` }));
    }
  }

  document.getElementById("dry-run-form").addEventListener("submit", showDryRun);

  // -- "check again now": the cost first, then a run triggered through Airflow's API as the viewer -------------

  let checkAgainIds = [];

  async function openCheckAgain(externalIds) {
    checkAgainIds = externalIds;
    const dialog = document.getElementById("check-again-dialog");
    const cost = document.getElementById("check-again-cost");
    const result = document.getElementById("check-again-result");
    const confirm = document.getElementById("check-again-confirm");
    result.hidden = true;
    confirm.disabled = true;
    cost.replaceChildren(el("p", { class: "no-data", text: "working out the cost…" }));
    if (!dialog.open) dialog.showModal();
    try {
      const query = externalIds.map((id) => `external_id=${encodeURIComponent(id)}`).join("&");
      const c = await getJson(`api/check_again?${query}`);
      cost.replaceChildren(
        el("p", { class: "explain", text: `${plural(c.external_ids.length, "row", "rows")}: ${c.external_ids.slice(0, 5).join(", ")}${c.external_ids.length > 5 ? "…" : ""}` }),
        el("div", { class: "kpis" }, [
          kpi("check_again.calls", fmt(c.calls), "calls needed"),
          kpi("check_again.left", fmt(c.publish_left_today), "publish quota left today"),
          kpi("check_again.eta", when(c.eta), "would finish (ETA)"),
        ]),
        el("p", { class: "explain", id: "check-again-basis", text: `${fmt(c.calls_per_row)} requests per row (the last finished run's); `
          + "the run works on these rows only: the backlog waits for the next scheduled run." }),
      );
      confirm.disabled = false;
    } catch (err) {
      cost.replaceChildren(el("p", { class: "error", text: `The cost could not be worked out (${err.message}).` }));
    }
  }

  async function confirmCheckAgain() {
    const result = document.getElementById("check-again-result");
    const confirm = document.getElementById("check-again-confirm");
    confirm.disabled = true;
    try {
      const response = await fetch("api/check_again", {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify({ external_ids: checkAgainIds }),
      });
      const body = await response.json().catch(() => ({}));
      result.dataset.status = response.ok ? "ok" : "refused";
      result.textContent = response.ok
        ? `Run ${body.dag_run_id} of ${body.dag_id} triggered (${body.state}).`
        : `Refused (${response.status}): ${body.detail || response.statusText}. Nothing was started.`;
    } catch (err) {
      result.dataset.status = "error";
      result.textContent = `Not triggered (${err.message}).`;
    }
    result.hidden = false;
  }

  document.getElementById("check-again-confirm").addEventListener("click", confirmCheckAgain);
  document.getElementById("refresh").addEventListener("click", load);
  load();
  setInterval(load, REFRESH_MS);
})();
