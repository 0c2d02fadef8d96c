// portway console: polls /console/api/state and draws it. Every value goes
// into the DOM as text (el() makes text nodes), never as markup.
"use strict";

(function () {
  const POLL_MS = 2000;
  const SVG = "http://www.w3.org/2000/svg";
  let recentFilter = "all";
  let drawer = null; // {kind: "trace"|"logs", id, container}
  let drawerTimer = null;
  let last = null;

  // el(tag, attrs, ...children): attrs may hold class, title, data-*, on*
  // handlers and any plain attribute; children are nodes or text.
  function el(tag, attrs, ...children) {
    const n = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "class") n.className = v;
      else if (k.startsWith("on")) n.addEventListener(k.slice(2), v);
      else n.setAttribute(k, String(v));
    }
    for (const c of children.flat(Infinity)) {
      if (c === undefined || c === null || c === false) continue;
      n.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return n;
  }
  const $ = (id) => document.getElementById(id);

  function micros(us) {
    if (us === undefined || us === null) return "–";
    if (us < 1000) return us + " µs";
    if (us < 1e6) return (us / 1000).toFixed(us < 10000 ? 2 : 1) + " ms";
    return (us / 1e6).toFixed(2) + " s";
  }
  function rate(r) { return r ? (r < 10 ? r.toFixed(2) : r.toFixed(1)) + "/s" : "0/s"; }
  function pct(x) { return (x * 100).toFixed(x && x < 0.01 ? 2 : 1) + "%"; }
  function ago(ms) {
    const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
    if (s < 60) return s + " s ago";
    if (s < 3600) return Math.floor(s / 60) + " min ago";
    return Math.floor(s / 3600) + " h ago";
  }
  function clock(ms) { return new Date(ms).toLocaleTimeString([], { hour12: false }); }
  function badge(state) { return el("span", { class: "pill s-" + state }, state || "–"); }

  function spark(per) {
    const w = 90, h = 18, max = Math.max(1, ...per);
    const pts = per.map((v, i) => (i * w / (per.length - 1)).toFixed(1) + "," + (h - 1 - (v / max) * (h - 2)).toFixed(1)).join(" ");
    const s = document.createElementNS(SVG, "svg");
    s.setAttribute("class", "spark"); s.setAttribute("width", w); s.setAttribute("height", h);
    s.setAttribute("viewBox", "0 0 " + w + " " + h);
    const p = document.createElementNS(SVG, "polyline");
    p.setAttribute("points", pts);
    s.append(p);
    return s;
  }

  // statCells are the last-minute columns of a row: rate, p50, p99, 4xx, 5xx %, sparkline.
  function statCells(s) {
    if (!s || !s.requests) {
      return [el("td", { class: "num dim" }, "0/s"), el("td", { class: "num dim p50" }, "–"), el("td", { class: "num dim p99" }, "–"),
        el("td", { class: "num dim" }, "–"), el("td", { class: "num dim" }, "–"), el("td", {}, "")];
    }
    return [
      el("td", { class: "num", title: s.requests + " requests" }, rate(s.ratePerSec)),
      el("td", { class: "num p50" }, micros(s.p50Micros)),
      el("td", { class: "num p99" }, micros(s.p99Micros)),
      el("td", { class: "num" + (s.errors4xx ? " warn" : "") }, s.errors4xx),
      el("td", { class: "num" + (s.errors5xx ? " bad" : "") }, pct(s.errorRate)),
      el("td", {}, spark(s.perSecond || [])),
    ];
  }
  const statHeads = () => [el("th", { class: "num" }, "req/s"), el("th", { class: "num" }, "p50"), el("th", { class: "num" }, "p99"),
    el("th", { class: "num" }, "4xx"), el("th", { class: "num" }, "5xx"), el("th", {}, "60 s")];

  function table(heads, rows, emptyText) {
    if (!rows.length) return el("div", { class: "empty" }, emptyText);
    return el("table", {}, el("thead", {}, el("tr", {}, heads)), el("tbody", {}, rows));
  }

  function renderHeader(st) {
    const e = st.endpoints || {};
    $("endpoints").replaceChildren(...[
      e.apiUrl ? el("span", {}, "api ", el("code", {}, e.apiUrl)) : null,
      e.tokenUrl ? el("span", {}, "token ", el("code", {}, e.tokenUrl)) : null,
      st.problems && st.problems.length ? el("span", { class: "problems" }, st.problems.join("; ")) : null].filter(Boolean));
    const live = $("live");
    live.className = "pill pill-ok";
    live.textContent = "live · " + clock(st.nowUnixMillis);
  }

  function renderKPIs(st) {
    let targets = 0, healthy = 0, failing = 0;
    for (const g of st.targetGroups || []) for (const t of g.targets) {
      targets++;
      if (t.state === "healthy") healthy++;
      else if (t.state === "unhealthy" || t.state === "unavailable") failing++;
    }
    let deploying = 0, failedDeploys = 0;
    for (const s of st.services || []) for (const d of s.deployments || []) {
      if (d.rolloutState === "IN_PROGRESS") deploying++;
      if (d.rolloutState === "FAILED") failedDeploys++;
    }
    const refused = (st.clients || []).filter((c) => c.result !== "allow").reduce((n, c) => n + c.stats.requests, 0);
    const t = st.totals || {};
    const kpi = (label, value, cls) => el("div", { class: "kpi" }, el("div", { class: "v " + (cls || "") }, value), el("div", { class: "l" }, label));
    $("kpis").replaceChildren(
      kpi("requests / s", rate(t.ratePerSec)),
      kpi("requests, 60 s", t.requests || 0),
      kpi("5xx, 60 s", t.errors5xx || 0, t.errors5xx ? "bad" : ""),
      kpi("4xx, 60 s", t.errors4xx || 0, t.errors4xx ? "warn" : ""),
      kpi("refused tokens, 60 s", refused, refused ? "warn" : ""),
      kpi("targets healthy", healthy + " / " + targets, failing ? "bad" : healthy < targets ? "warn" : "ok"),
      kpi("deployments in progress", deploying + (failedDeploys ? " (" + failedDeploys + " failed)" : ""), failedDeploys ? "bad" : deploying ? "warn" : ""));
  }

  function nodeState(s, health) {
    if (health === "unhealthy" || health === "unavailable" || (s && s.errorRate > 0.05)) return "node n-bad";
    if (health && health !== "healthy") return "node n-warn";
    if (s && s.errors4xx > s.requests / 2) return "node n-warn";
    return "node n-ok";
  }
  function metricLine(s) {
    if (!s || !s.requests) return "idle";
    return rate(s.ratePerSec) + " · p50 " + micros(s.p50Micros) + " · p99 " + micros(s.p99Micros) + (s.errors5xx ? " · 5xx " + pct(s.errorRate) : "");
  }

  function renderPath(st) {
    const col = (title, nodes) => el("div", { class: "col" }, el("div", { class: "col-h" }, title), nodes.length ? nodes : el("div", { class: "empty" }, "none"));
    const byClient = new Map();
    for (const c of st.clients || []) {
      const k = c.client || "(no client id)";
      const v = byClient.get(k) || { ok: 0, refused: 0 };
      if (c.result === "allow") v.ok += c.stats.requests; else v.refused += c.stats.requests;
      byClient.set(k, v);
    }
    const clients = [...byClient].map(([k, v]) => el("div", { class: v.refused ? (v.ok ? "node n-warn" : "node n-bad") : "node n-ok" },
      el("div", { class: "t", title: k }, k), el("div", { class: "m" }, v.ok + " allowed · " + v.refused + " refused")));
    const routes = (st.routes || []).map((r) => el("div", { class: nodeState(r.stats) },
      el("div", { class: "t", title: r.stage + " " + r.method + " " + r.resource }, r.method + " /" + r.stage + r.resource),
      el("div", { class: "m" }, metricLine(r.stats))));
    const listeners = (st.listeners || []).map((l) => {
      const n = (st.routes || []).filter((r) => r.listener === l.address).length;
      return el("div", { class: "node n-ok" }, el("div", { class: "t" }, l.protocol + " " + (l.address || ":" + l.port)),
        el("div", { class: "m" }, "→ " + (l.targetGroup || "?") + " · " + n + " route" + (n === 1 ? "" : "s")));
    });
    const groups = (st.targetGroups || []).map((g) => {
      const h = g.targets.filter((t) => t.state === "healthy").length;
      return el("div", { class: h === g.targets.length && h ? "node n-ok" : h ? "node n-warn" : "node n-bad" },
        el("div", { class: "t" }, g.name), el("div", { class: "m" }, h + "/" + g.targets.length + " healthy"));
    });
    const tasks = [];
    for (const g of st.targetGroups || []) for (const t of g.targets) {
      tasks.push(el("div", { class: nodeState(t.stats, t.state) },
        el("div", { class: "t", title: t.task || "" }, t.id + ":" + t.port + (t.service ? " (" + t.service + ")" : "")),
        el("div", { class: "m" }, t.state + " · " + metricLine(t.stats))));
    }
    $("path").replaceChildren(col("Clients", clients), col("Gateway routes", routes), col("NLB listeners", listeners),
      col("Target groups", groups), col("Targets (tasks)", tasks));
  }

  function renderRoutes(st) {
    const rows = (st.routes || []).map((r) => el("tr", { class: "route", "data-route": r.stage + " " + r.method + " " + r.resource },
      el("td", {}, r.stage), el("td", {}, r.method), el("td", {}, el("code", {}, r.resource)),
      el("td", { class: "dim", title: r.integration || "" }, r.listener ? "nlb " + r.listener : (r.integration || "").slice(0, 40)),
      statCells(r.stats)));
    $("routes").replaceChildren(table([el("th", {}, "stage"), el("th", {}, "method"), el("th", {}, "resource"), el("th", {}, "integration"), statHeads()],
      rows, "no routes"));
  }

  function lastCheck(c) {
    if (!c) return el("span", { class: "dim" }, "no check yet");
    let what = c.Result;
    if (c.StatusCode) what += " " + c.StatusCode;
    if (c.Error) what += ": " + c.Error;
    return el("span", { title: new Date(c.Time).toISOString() },
      el("span", { class: c.Result === "success" ? "ok" : "bad" }, what), " · " + c.LatencyMillis.toFixed(1) + " ms · " + ago(Date.parse(c.Time)));
  }

  function renderTargets(st) {
    const out = [];
    for (const g of st.targetGroups || []) {
      out.push(el("h3", {}, g.name, g.error ? el("span", { class: "bad" }, " " + g.error) : null));
      const rows = g.targets.map((t) => el("tr", { class: "target", "data-target": t.id + ":" + t.port },
        el("td", {}, el("code", {}, t.id + ":" + t.port)),
        el("td", {}, t.task ? el("span", { title: t.task }, (t.service || "") + " " + t.task.slice(0, 8)) : el("span", { class: "dim" }, "–")),
        el("td", {}, badge(t.state)),
        el("td", { class: "wrap reason" }, t.reason ? el("code", {}, t.reason) : null, t.reason && t.description ? " " : null, t.description || (t.reason ? "" : "–")),
        el("td", { class: "wrap check" }, lastCheck(t.lastCheck)),
        el("td", { class: "num" }, t.activeConnections + " / " + t.connections),
        statCells(t.stats),
        el("td", {}, t.task ? el("button", { class: "link", type: "button", onclick: () => openLogs(t.task, "") }, "logs") : null)));
      out.push(table([el("th", {}, "target"), el("th", {}, "task"), el("th", {}, "state"), el("th", {}, "reason"), el("th", {}, "last check"),
        el("th", { class: "num", title: "active / since registered" }, "conns"), statHeads(), el("th", {}, "")], rows, "no targets registered"));
    }
    $("targets").replaceChildren(...(out.length ? out : [el("div", { class: "empty" }, "no target groups")]));
  }

  function renderDeployments(st) {
    const tasks = st.tasks || [];
    const out = (st.services || []).map((s) => {
      const deps = (s.deployments || []).map((d) => el("tr", {},
        el("td", {}, el("code", { title: d.id }, d.id.replace("ecs-svc/", "…").slice(0, 10))), el("td", {}, d.status),
        el("td", {}, (d.taskDefinition || "").split("/").pop()),
        el("td", { class: "num" }, d.runningCount + "/" + d.desiredCount + (d.pendingCount ? " (+" + d.pendingCount + ")" : "")),
        el("td", {}, badge(d.rolloutState)),
        el("td", { class: "num" + (d.failedTasks ? " bad" : "") }, d.failedTasks),
        el("td", { class: "wrap" }, d.rolloutStateReason || "")));
      // Why it is stuck: the newest failed tasks of the service, with the load balancer's word.
      const failed = tasks.filter((t) => t.service === s.name && t.lastStatus === "STOPPED" && (t.stopCode || t.targetHealth)).slice(0, 3);
      const why = failed.map((t) => el("div", { class: "why" },
        el("code", {}, t.taskId.slice(0, 8)), " ", t.stoppedReason || t.stopCode || "stopped",
        t.targetHealth ? el("div", { class: "dim" }, "target: " + t.targetHealth) : null,
        " ", el("button", { class: "link", type: "button", onclick: () => openLogs(t.taskId, "") }, "logs")));
      // And its targets that are not healthy now (a new task stuck in initial, a failing one).
      const sick = [];
      for (const g of st.targetGroups || []) for (const t of g.targets) {
        if (t.service === s.name && t.state !== "healthy") sick.push(t);
      }
      const sickRows = sick.map((t) => el("div", { class: "why target-why", "data-target": t.id + ":" + t.port },
        "target ", el("code", {}, t.id + ":" + t.port), " ", badge(t.state), " ", t.description || t.reason || "",
        t.lastCheck ? el("div", { class: "dim" }, "last check: ", lastCheck(t.lastCheck)) : null,
        t.task ? el("button", { class: "link", type: "button", onclick: () => openLogs(t.task, "") }, "logs") : null));
      return el("div", { class: "svc", "data-service": s.name },
        el("div", { class: "svc-h" }, el("span", { class: "name" }, s.name),
          el("span", { class: "dim" }, "desired " + s.desiredCount + " · running " + s.runningCount + " · pending " + s.pendingCount)),
        s.lastFailure ? el("div", { class: "why" }, "last failure: " + s.lastFailure) : null,
        table([el("th", {}, "deployment"), el("th", {}, "status"), el("th", {}, "task def"), el("th", { class: "num" }, "running"),
          el("th", {}, "rollout"), el("th", { class: "num" }, "failed"), el("th", {}, "reason")], deps, "no deployments"),
        sickRows, why,
        el("ul", { class: "events" }, (s.events || []).slice(0, 4).map((e) => el("li", {}, el("span", { class: "mono" }, clock(Date.parse(e.createdAt))), " " + e.message))));
    });
    $("deployments").replaceChildren(...(out.length ? out : [el("div", { class: "empty" }, "no services")]));
  }

  function renderClients(st) {
    const rows = (st.clients || []).map((c) => el("tr", { class: "client" + (c.result === "allow" ? "" : " refused"), "data-client": c.client, "data-result": c.result },
      el("td", {}, el("code", {}, c.client || "(none)")),
      el("td", {}, el("span", { class: "pill s-" + (c.result === "allow" ? "allow" : "unhealthy") }, c.result)),
      el("td", { class: "num" }, c.stats.requests),
      el("td", { class: "num" }, rate(c.stats.ratePerSec)),
      el("td", { class: "wrap reason" }, c.reason || ""),
      el("td", { class: "dim" }, c.stats.lastUnix ? ago(c.stats.lastUnix * 1000) : "")));
    $("clients").replaceChildren(table([el("th", {}, "client id"), el("th", {}, "decision"), el("th", { class: "num" }, "requests"),
      el("th", { class: "num" }, "rate"), el("th", {}, "reason"), el("th", {}, "last")], rows, "no authorized methods called in the last minute"));
  }

  function renderRecent(st) {
    const filters = [["all", "all"], ["err", "errors"], ["slow", "slowest"]];
    $("recent-filter").replaceChildren(...filters.map(([k, label]) => el("button", { type: "button", class: recentFilter === k ? "on" : "",
      onclick: () => { recentFilter = k; if (last) renderRecent(last); } }, label)));
    let rs = (st.recent || []).slice();
    if (recentFilter === "err") rs = rs.filter((r) => r.status >= 400);
    if (recentFilter === "slow") rs.sort((a, b) => b.durationMicros - a.durationMicros);
    $("recent-sub").textContent = st.tracing ? "newest first, from the trace store" : "(tracing is off)";
    const rows = rs.map((r) => el("tr", { class: "req st-" + r.status },
      el("td", { class: "mono" }, clock(r.startUnixMicros / 1000)),
      el("td", {}, el("button", { class: "link mono", type: "button", title: "trace " + r.traceId, onclick: () => openTrace(r.requestId || r.traceId) }, (r.requestId || r.traceId).slice(0, 13))),
      el("td", {}, r.method), el("td", { title: r.path }, el("code", {}, r.route && r.route !== "-" ? r.route : r.path)),
      el("td", { class: "num " + (r.status >= 500 ? "bad" : r.status >= 400 ? "warn" : "ok") }, r.status),
      el("td", { class: "num" }, micros(r.durationMicros)),
      el("td", { class: "dim" }, r.client || ""),
      el("td", { class: "dim" }, r.target || "")));
    $("recent").replaceChildren(table([el("th", {}, "time"), el("th", {}, "request"), el("th", {}, "method"), el("th", {}, "route"),
      el("th", { class: "num" }, "status"), el("th", { class: "num" }, "latency"), el("th", {}, "client"), el("th", {}, "target")], rows, "no requests yet"));
  }

  function renderTasks(st) {
    const rows = (st.tasks || []).map((t) => el("tr", { class: "task", "data-task": t.taskId },
      el("td", {}, el("code", { title: t.taskId }, t.taskId.slice(0, 12))), el("td", {}, t.service), el("td", {}, badge(t.lastStatus)),
      el("td", {}, el("code", {}, t.ip || "")),
      el("td", {}, (t.containers || []).map((c) => el("span", { class: "mono" }, el("button", { class: "link", type: "button", title: "log tail", onclick: () => openLogs(t.taskId, c.name) }, c.name),
        " " + c.lastStatus.toLowerCase() + (c.exitCode !== null && c.exitCode !== undefined ? " exit " + c.exitCode : "") + (c.healthStatus ? " " + c.healthStatus.toLowerCase() : "") + "  "))),
      el("td", { class: "wrap" }, t.stopCode ? el("code", {}, t.stopCode) : null, t.stopCode ? " " : null, t.stoppedReason || "", t.targetHealth ? el("div", { class: "dim" }, t.targetHealth) : null),
      el("td", { class: "dim" }, t.startedAt ? ago(Date.parse(t.startedAt)) : "")));
    $("tasks").replaceChildren(table([el("th", {}, "task"), el("th", {}, "service"), el("th", {}, "status"), el("th", {}, "address"),
      el("th", {}, "containers (click: log tail)"), el("th", {}, "stopped reason"), el("th", {}, "started")], rows, "no tasks"));
  }

  function render(st) {
    last = st;
    const parts = [renderHeader, renderKPIs, renderPath, renderRoutes, renderTargets, renderDeployments, renderClients, renderRecent, renderTasks];
    for (const p of parts) {
      try { p(st); } catch (e) { console.error(p.name, e); }
    }
  }

  async function poll() {
    try {
      const res = await fetch("/console/api/state", { credentials: "same-origin", cache: "no-store" });
      if (res.status === 401) throw new Error("logged out: open the console login URL again");
      if (!res.ok) throw new Error("state: HTTP " + res.status);
      render(await res.json());
    } catch (e) {
      const live = $("live");
      live.className = "pill pill-bad";
      live.textContent = "stale · " + e.message;
    }
    setTimeout(poll, POLL_MS);
  }

  // The drawer: a trace or a log tail.
  function openDrawer(title) {
    $("drawer-title").textContent = title;
    $("drawer").hidden = false;
  }
  function closeDrawer() {
    drawer = null;
    clearTimeout(drawerTimer);
    $("drawer").hidden = true;
    $("drawer-body").replaceChildren();
  }

  async function openTrace(id) {
    clearTimeout(drawerTimer);
    drawer = { kind: "trace", id };
    openDrawer("Trace " + id);
    $("drawer-body").replaceChildren(el("div", { class: "empty" }, "loading…"));
    try {
      const res = await fetch("/traces/" + encodeURIComponent(id), { credentials: "same-origin", cache: "no-store" });
      const body = await res.json();
      if (!res.ok) throw new Error(body.error || "HTTP " + res.status);
      if (drawer && drawer.id === id) $("drawer-body").replaceChildren(traceView(body));
    } catch (e) {
      $("drawer-body").replaceChildren(el("div", { class: "bad" }, String(e.message)));
    }
  }

  function hopDetail(h) {
    const bits = [];
    const add = (k, v) => { if (v !== undefined && v !== null && v !== "" && v !== 0 && v !== false) bits.push(k + " " + v); };
    switch (h.kind) {
      case "gateway":
        add("", (h.method || "") + " " + (h.path || "")); add("route", h.route); add("client", h.clientId); add("authorizer", h.authorizer);
        add("integration", h.integrationMicros ? micros(h.integrationMicros) : ""); add("error", h.error); break;
      case "nlb":
        add("listener", h.listener || (h.inProcess ? "in-process link" : "")); add("group", h.targetGroup); add("target", h.target);
        if (h.reusedFlow) add("flow", "reused, opened " + micros(h.flowAgeMicros || 0) + " earlier (connect took " + micros(h.connectMicros || 0) + ")");
        else add("connect", micros(h.connectMicros || 0)); break;
      case "sidecar":
        add("task", (h.task || "").slice(0, 12)); add("upstream", h.upstreamStatus); add("app time", h.upstreamMicros ? micros(h.upstreamMicros) : ""); add("note", h.error); break;
      default:
        add("task", (h.task || "").slice(0, 12)); add("addr", h.addr); add("error", h.error);
    }
    return bits.join(" · ").trim();
  }

  function traceView(t) {
    const hops = t.hops || [];
    const total = Math.max(1, ...hops.map((h) => h.offsetMicros + h.durationMicros));
    const rows = hops.map((h) => {
      const bar = el("span", {});
      bar.style.left = (100 * h.offsetMicros / total).toFixed(2) + "%";
      bar.style.width = (100 * h.durationMicros / total).toFixed(2) + "%";
      return el("tr", { class: "hop", "data-kind": h.kind },
        el("td", {}, el("b", {}, h.kind)),
        el("td", { class: "num" }, "+" + micros(h.offsetMicros)),
        el("td", { class: "num" }, h.kind === "nlb" && !h.durationMicros ? "–" : micros(h.durationMicros)),
        el("td", { class: "num" }, h.status || ""),
        el("td", {}, el("div", { class: "wf-bar" }, bar)),
        el("td", { class: "wrap dim" }, hopDetail(h)));
    });
    const dl = el("dl", { class: "kv" },
      el("dt", {}, "trace id"), el("dd", {}, t.traceId || ""),
      el("dt", {}, "request id"), el("dd", {}, t.requestId || ""),
      el("dt", {}, "started"), el("dd", {}, t.startUnixMicros ? new Date(t.startUnixMicros / 1000).toISOString() : ""),
      el("dt", {}, "status"), el("dd", {}, t.status || ""),
      el("dt", {}, "CLI"), el("dd", {}, "portway trace " + (t.requestId || t.traceId)));
    return el("div", {}, dl, table([el("th", {}, "hop"), el("th", { class: "num" }, "start"), el("th", { class: "num" }, "took"),
      el("th", { class: "num" }, "status"), el("th", {}, "timeline"), el("th", {}, "detail")], rows, "no hops recorded"));
  }

  async function openLogs(task, container) {
    clearTimeout(drawerTimer);
    drawer = { kind: "logs", id: task, container };
    openDrawer("Logs of task " + task.slice(0, 12) + (container ? " · " + container : ""));
    const pre = el("pre", { class: "log" }, "loading…");
    // Tabs for the task's containers.
    const t = ((last && last.tasks) || []).find((x) => x.taskId === task);
    const names = t ? (t.containers || []).map((c) => c.name) : [];
    const cur = container || names[0] || "";
    const tabs = el("div", { class: "tabs" }, names.map((n) => el("button", { type: "button", class: n === cur ? "on" : "",
      onclick: () => openLogs(task, n) }, n)));
    $("drawer-body").replaceChildren(tabs, pre);
    const refresh = async () => {
      if (!drawer || drawer.kind !== "logs" || drawer.id !== task) return;
      try {
        const q = "task=" + encodeURIComponent(task) + (container ? "&container=" + encodeURIComponent(container) : "");
        const res = await fetch("/console/api/logs?" + q, { credentials: "same-origin", cache: "no-store" });
        const text = await res.text();
        if (!res.ok) {
          let msg = text;
          try { msg = JSON.parse(text).error; } catch (_) { /* plain text */ }
          throw new Error(msg);
        }
        const body = $("drawer-body");
        const atEnd = body.scrollTop + body.clientHeight >= body.scrollHeight - 8;
        pre.textContent = (res.headers.get("X-Log-Truncated") ? "… (earlier output cut)\n" : "") + (text || "(empty)");
        if (atEnd) body.scrollTop = body.scrollHeight;
      } catch (e) {
        pre.textContent = "error: " + e.message;
      }
      drawerTimer = setTimeout(refresh, POLL_MS);
    };
    refresh();
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("drawer-close").addEventListener("click", closeDrawer);
    document.addEventListener("keydown", (e) => { if (e.key === "Escape") closeDrawer(); });
    poll();
  });
})();
