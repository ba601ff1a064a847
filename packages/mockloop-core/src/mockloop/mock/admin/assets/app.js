// MockLoop admin UI: plain JavaScript over the admin API of the same origin, no build step.
// Untrusted text (paths, bodies, names) only ever reaches the page through textContent.
"use strict";

(() => {
  const TOKEN_KEY = "mockloop.adminToken";
  const LOG_INTERVAL_MS = 1500;
  const TRAFFIC_INTERVAL_MS = 2000;
  const MAX_ITEMS = 100;
  const MAX_COLUMNS = 8;
  const ui = { tab: "operations", logSignature: "", logRecords: new Map(), historyFor: null };

  const $ = (id) => document.getElementById(id);

  function el(tag, props = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props)) {
      if (value === undefined || value === null || value === false) continue;
      if (key === "text") node.textContent = String(value);
      else if (key === "className") node.className = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children) if (child !== null && child !== undefined) node.append(child);
    return node;
  }

  const button = (text, onclick, extra = {}) => el("button", { type: "button", text, onclick, ...extra });

  function fill(tbody, rows, columns, emptyText) {
    tbody.replaceChildren(...rows);
    if (!rows.length) tbody.append(el("tr", {}, el("td", { colspan: columns, className: "muted", text: emptyText })));
  }

  // -- talking to the admin API ------------------------------------------------------------

  class ApiError extends Error {
    constructor(message, status) {
      super(message);
      this.status = status;
    }
  }

  function detailOf(data) {
    if (typeof data === "string") return data;
    if (!data || typeof data !== "object") return "";
    if (Array.isArray(data.detail)) {
      return data.detail.map((e) => `${(e.loc || []).join(".")}: ${e.msg}`).join("; ");
    }
    return data.detail ? String(data.detail) : data.title || "";
  }

  async function api(method, path, body) {
    // The marker lets a write without a JSON body through the admin port's cross-origin check
    // (a page elsewhere cannot send a custom header without a preflight, which is never granted).
    const headers = { Accept: "application/json", "X-MockLoop-Admin": "1" };
    const token = sessionStorage.getItem(TOKEN_KEY);
    if (token) headers.Authorization = `Bearer ${token}`;
    const init = { method, headers };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const response = await fetch(path, init);
    const text = await response.text();
    let data = null;
    if (text) {
      try {
        data = JSON.parse(text);
      } catch {
        data = text;
      }
    }
    if (response.status === 401) {
      $("token-form").hidden = false;
      throw new ApiError(detailOf(data) || "the admin API asks for a token", 401);
    }
    if (!response.ok) throw new ApiError(detailOf(data) || `HTTP ${response.status}`, response.status);
    return data;
  }

  function notice(text, isError = true) {
    $("notice-text").textContent = text;
    $("notice").classList.toggle("ok", !isError);
    $("notice").hidden = false;
  }

  // Runs an action; its error becomes the visible notice instead of an unhandled rejection.
  async function guard(action) {
    try {
      await action();
      return true;
    } catch (err) {
      notice(err instanceof ApiError ? err.message : `Error: ${err.message || err}`);
      return false;
    }
  }

  // -- formatting --------------------------------------------------------------------------

  function clock(ts) {
    const d = new Date(ts * 1000);
    const pad = (n, w = 2) => String(n).padStart(w, "0");
    return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
  }

  const fullTime = (ts) => new Date(ts * 1000).toISOString();
  const statusClass = (status) => `status s${String(status || 0)[0]}xx`;
  const methodTag = (method) => el("span", { className: `method m-${method.toLowerCase()}`, text: method });

  function cellText(value) {
    if (value === null || value === undefined) return "";
    if (typeof value === "object") return JSON.stringify(value);
    return String(value);
  }

  // -- header ------------------------------------------------------------------------------

  function setActive(name) {
    $("active-scenario").textContent = name || "none";
    $("active-scenario").classList.toggle("on", Boolean(name));
  }

  async function loadHealth() {
    const health = await api("GET", "/health");
    $("api-title").textContent = health.api.title;
    $("api-version").textContent = `v${health.api.version} · MockLoop ${health.mockloop_version}`;
    document.title = `MockLoop admin: ${health.api.title}`;
    const link = $("business-url");
    link.textContent = health.business_url || "not serving";
    link.href = health.business_url || "/";
    $("op-count").textContent = String(health.operations);
    setActive(health.active_scenario);
  }

  // -- operations --------------------------------------------------------------------------

  async function loadOperations() {
    const operations = await api("GET", "/api/operations");
    const rows = operations.map((op) =>
      el("tr", {},
        el("td", {}, methodTag(op.method)),
        el("td", { className: "mono", text: op.path }),
        el("td", { className: "mono", text: op.operation_id }),
        el("td", { text: op.summary || "" }),
        el("td", { className: "mono", text: op.responses.join(", ") })));
    fill($("ops-body"), rows, 5, "The description defines no operation.");
    const textarea = $("scenario-json");
    if (!textarea.value && operations.length) {
      const example = { name: "outage", description: `${operations[0].operation_id} fails`, rules: [{ operation: operations[0].operation_id, status: 503 }] };
      textarea.value = JSON.stringify(example, null, 2);
    }
  }

  // -- request log -------------------------------------------------------------------------

  async function loadLog() {
    const params = new URLSearchParams({ limit: "50" });
    const path = $("log-path").value.trim();
    const status = $("log-status").value.trim();
    if (path) params.set("path", path);
    if (status) params.set("status", status);
    const data = await api("GET", `/api/logs/search?${params}`);
    $("log-total").textContent = `${data.total} matching request${data.total === 1 ? "" : "s"}`;
    const signature = `${params}|${data.total}|${data.records.map((r) => r.id).join(",")}`;
    if (signature === ui.logSignature) return;
    ui.logSignature = signature;
    ui.logRecords = new Map(data.records.map((r) => [String(r.id), r]));
    const rows = data.records.map((r) => {
      const target = r.query ? `${r.path}?${r.query}` : r.path;
      return el("tr", { "data-id": r.id },
        el("td", { className: "mono nowrap", title: fullTime(r.ts), text: clock(r.ts) }),
        el("td", {}, methodTag(r.method)),
        el("td", { className: "mono" }, button(target, () => showRecord(String(r.id)), { className: "link", "aria-label": `Details of ${r.method} ${target}` })),
        el("td", {}, el("span", { className: statusClass(r.status), text: r.status })),
        el("td", { className: "num", text: `${Number(r.latency_ms).toFixed(1)} ms` }),
        el("td", { className: "mono", text: r.operation_id || "–" }),
        el("td", { text: r.scenario || "" }));
    });
    fill($("log-body"), rows, 7, "No request yet: call the business URL and it shows up here.");
  }

  function showRecord(id) {
    const r = ui.logRecords.get(id);
    if (!r) return;
    const detail = {
      request: { method: r.method, path: r.path, query: r.query, headers: r.request_headers, body: r.request_body },
      response: { status: r.status, latency_ms: r.latency_ms, headers: r.response_headers, body: r.response_body },
      operation_id: r.operation_id, scenario: r.scenario, session_id: r.session_id,
      correlation_id: r.correlation_id, client: r.client, truncated: r.truncated, time: fullTime(r.ts),
    };
    $("log-detail-title").textContent = `${r.method} ${r.path} → ${r.status}`;
    $("log-detail-text").textContent = JSON.stringify(detail, null, 2);
    $("log-detail").hidden = false;
  }

  async function pollLog() {
    if (ui.tab === "log" && $("log-live").checked && !document.hidden) {
      const ok = await guard(loadLog);
      if (!ok) $("log-live").checked = false; // one visible error, not one every poll
    }
    setTimeout(pollLog, LOG_INTERVAL_MS);
  }

  // -- scenarios ---------------------------------------------------------------------------

  async function scenarioAction(method, path, done) {
    await api(method, path);
    notice(done, false);
    await Promise.all([loadScenarios(), loadHealth()]);
  }

  async function loadScenarios() {
    const data = await api("GET", "/api/mock-data/scenarios");
    setActive(data.active);
    const rows = data.scenarios.map((s) => {
      const config = s.config || {};
      const name = encodeURIComponent(s.name);
      const active = s.name === data.active;
      const toggle = active
        ? button("Deactivate", () => guard(() => scenarioAction("POST", "/api/mock-data/scenarios/deactivate", `Scenario ${s.name} deactivated`)))
        : button("Activate", () => guard(() => scenarioAction("POST", `/api/mock-data/scenarios/${name}/activate`, `Scenario ${s.name} activated`)));
      const edit = button("Edit", () => {
        $("scenario-json").value = JSON.stringify(config, null, 2);
        $("scenario-json").focus();
      });
      const remove = button("Delete", () => {
        if (window.confirm(`Delete scenario ${s.name}?`)) guard(() => scenarioAction("DELETE", `/api/mock-data/scenarios/${name}`, `Scenario ${s.name} deleted`));
      }, { className: "danger" });
      return el("tr", { "data-name": s.name, className: active ? "active" : "" },
        el("td", { className: "mono", text: s.name }),
        el("td", { text: config.description || "" }),
        el("td", { className: "num", text: (config.rules || []).length }),
        el("td", {}, el("span", { className: active ? "badge on" : "badge", text: active ? "active" : "inactive" })),
        el("td", { className: "actions" }, toggle, edit, remove));
    });
    fill($("scenarios-body"), rows, 5, "No scenario yet: write one below.");
    $("scenario-deactivate").disabled = !data.active;
  }

  function scenarioFromForm() {
    try {
      return JSON.parse($("scenario-json").value);
    } catch (err) {
      throw new Error(`the scenario is not valid JSON (${err.message})`);
    }
  }

  async function createScenario(replace) {
    const scenario = scenarioFromForm();
    const activate = $("scenario-activate").checked;
    const saved = replace
      ? await api("PUT", `/api/mock-data/scenarios/${encodeURIComponent(scenario.name || "")}`, scenario)
      : await api("POST", `/api/mock-data/scenarios?activate=${activate}`, scenario);
    if (replace && activate) await api("POST", `/api/mock-data/scenarios/${encodeURIComponent(saved.name)}/activate`);
    notice(`Scenario ${saved.name} ${replace ? "saved" : "created"}${activate ? " and activated" : ""}`, false);
    await Promise.all([loadScenarios(), loadHealth()]);
  }

  // -- stateful data -----------------------------------------------------------------------

  function sessionQuery() {
    const session = $("state-session").value;
    return session ? `?session_id=${encodeURIComponent(session)}` : "";
  }

  function itemsTable(items) {
    const columns = [];
    for (const item of items.slice(0, 20)) {
      for (const key of Object.keys(item)) if (!columns.includes(key) && columns.length < MAX_COLUMNS) columns.push(key);
    }
    const head = el("tr", {}, ...columns.map((c) => el("th", { scope: "col", text: c })));
    const rows = items.slice(0, MAX_ITEMS).map((item) =>
      el("tr", {}, ...columns.map((c) => {
        const text = cellText(item[c]);
        return el("td", { className: "mono", title: text.length > 60 ? text : null, text: text.length > 60 ? `${text.slice(0, 59)}…` : text });
      })));
    return el("div", { className: "table-wrap" }, el("table", {}, el("thead", {}, head), el("tbody", {}, ...rows)));
  }

  async function seed(collection) {
    const count = Number($("state-count").value || 0);
    const data = await api("POST", "/api/state/seed", { collection, count, session_id: $("state-session").value || null });
    const summary = Object.entries(data.seeded).map(([name, n]) => `${name}: +${n}`).join(", ");
    notice(`Seeded ${summary || "nothing"}`, false);
    await loadState();
  }

  async function reset(reseed) {
    await api("POST", "/api/state/reset", { session_id: $("state-session").value || null, reseed });
    notice(reseed ? "State reset to the seed" : "Every collection emptied", false);
    await loadState();
  }

  async function loadState() {
    const info = await api("GET", `/api/state${sessionQuery()}`);
    $("state-off").hidden = info.enabled;
    $("state-on").hidden = !info.enabled;
    if (!info.enabled) return;
    const select = $("state-session");
    const chosen = select.value;
    select.replaceChildren(el("option", { value: "", text: "shared (no session)" }),
      ...info.sessions.map((s) => el("option", { value: s, text: s })));
    select.value = info.sessions.includes(chosen) ? chosen : "";
    $("state-session-label").hidden = info.isolation !== "session";
    const contents = await Promise.all(info.collections.map((c) => api("GET", `/api/state/${encodeURIComponent(c.name)}${sessionQuery()}`)));
    const blocks = info.collections.map((c, i) => {
      const items = contents[i].items;
      const more = items.length > MAX_ITEMS ? ` (showing ${MAX_ITEMS})` : "";
      return el("section", { className: "card collection", "data-collection": c.name },
        el("div", { className: "row" },
          el("h2", { text: `${c.name} · ${contents[i].count} item${contents[i].count === 1 ? "" : "s"}${more}` }),
          button(`Seed ${c.name}`, () => guard(() => seed(c.name)))),
        el("p", { className: "muted mono", text: `${c.collection_path} · ${c.item_path} · id field: ${c.id_field}` }),
        items.length ? itemsTable(items) : el("p", { className: "muted", text: "Empty." }));
    });
    $("state-collections").replaceChildren(...blocks);
    if (!blocks.length) $("state-collections").append(el("p", { className: "muted", text: "The description defines no collection." }));
  }

  // -- webhooks ----------------------------------------------------------------------------

  async function loadWebhooks() {
    let data;
    try {
      data = await api("GET", "/api/webhooks");
    } catch (err) {
      if (err.status !== 404) throw err;
      $("webhooks-off").textContent = `Webhooks are not available: ${err.message.replace(/\.$/, "")}.`;
      $("webhooks-off").hidden = false;
      $("webhooks-on").hidden = true;
      return;
    }
    $("webhooks-off").hidden = true;
    $("webhooks-on").hidden = false;
    const rows = data.webhooks.map((w) =>
      el("tr", { "data-id": w.id },
        el("td", { className: "mono", text: w.url }),
        el("td", { className: "mono", text: w.events.join(", ") }),
        el("td", { text: w.has_secret ? "yes" : "no" }),
        el("td", { text: w.active ? "yes" : "no" }),
        el("td", { title: fullTime(w.created_at), text: clock(w.created_at) }),
        el("td", { className: "actions" },
          button("Test", () => guard(() => testWebhook(w.id))),
          button("History", () => guard(() => { ui.historyFor = w.id; return loadHistory(); })),
          button("Delete", () => {
            if (window.confirm(`Delete webhook ${w.url}?`)) guard(() => deleteWebhook(w.id));
          }, { className: "danger" }))));
    fill($("webhooks-body"), rows, 6, "No webhook registered.");
    await loadHistory();
  }

  async function loadHistory() {
    const params = new URLSearchParams({ limit: "50" });
    if (ui.historyFor) params.set("webhook_id", ui.historyFor);
    const data = await api("GET", `/api/webhooks/history?${params}`);
    $("history-title").textContent = ui.historyFor ? `Delivery history of ${ui.historyFor}` : "Delivery history";
    $("history-all").hidden = !ui.historyFor;
    const rows = data.deliveries.map((d) =>
      el("tr", {},
        el("td", { className: "mono nowrap", title: fullTime(d.ts), text: clock(d.ts) }),
        el("td", { className: "mono", text: d.event }),
        el("td", { className: "mono", text: d.webhook_id }),
        el("td", {}, el("span", { className: `badge ${d.status}`, text: d.status })),
        el("td", { className: "num", text: d.attempts }),
        el("td", { text: d.response_status ?? "–" }),
        el("td", { className: "num", text: `${Number(d.duration_ms || 0).toFixed(1)} ms` }),
        el("td", { text: d.error || "" })));
    fill($("history-body"), rows, 8, "No delivery yet.");
  }

  async function testWebhook(id) {
    const d = await api("POST", `/api/webhooks/${encodeURIComponent(id)}/test`);
    const answer = d.response_status ? ` (HTTP ${d.response_status})` : "";
    notice(`Test delivery ${d.status}${answer}${d.error ? `: ${d.error}` : ""}`, d.status !== "delivered");
    await loadHistory();
  }

  async function deleteWebhook(id) {
    await api("DELETE", `/api/webhooks/${encodeURIComponent(id)}`);
    if (ui.historyFor === id) ui.historyFor = null;
    notice("Webhook deleted", false);
    await loadWebhooks();
  }

  async function registerWebhook() {
    const events = $("webhook-events").value.split(",").map((e) => e.trim()).filter(Boolean);
    const webhook = await api("POST", "/api/webhooks", {
      url: $("webhook-url").value.trim(),
      events: events.length ? events : ["*"],
      secret: $("webhook-secret").value || null,
    });
    $("webhook-secret").value = "";
    notice(`Webhook ${webhook.id} registered for ${webhook.url}`, false);
    await loadWebhooks();
  }

  // -- traffic dashboard -------------------------------------------------------------------

  const SVG = "http://www.w3.org/2000/svg";
  const CHART = { width: 600, height: 160, left: 44, bottom: 18, top: 8 };

  function svg(tag, attrs) {
    const node = document.createElementNS(SVG, tag);
    for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
    return node;
  }

  function niceMax(value) {
    if (!(value > 0)) return 1;
    const power = 10 ** Math.floor(Math.log10(value));
    for (const step of [1, 2, 2.5, 5, 10]) if (value <= step * power) return step * power;
    return 10 * power;
  }

  function axes(node, max, count, unit) {
    const { width, height, left, bottom, top } = CHART;
    const plot = height - bottom - top;
    for (const fraction of [0, 0.5, 1]) {
      const y = top + plot * (1 - fraction);
      node.append(svg("line", { x1: left, x2: width, y1: y, y2: y, class: "grid" }));
      const label = svg("text", { x: left - 4, y: y + 4, class: "tick", "text-anchor": "end" });
      label.textContent = `${+(max * fraction).toFixed(max < 10 ? 1 : 0)}${unit}`;
      node.append(label);
    }
    const span = svg("text", { x: width, y: height - 4, class: "tick", "text-anchor": "end" });
    span.textContent = "now";
    node.append(span);
    return (index) => left + ((width - left) * (index + 0.5)) / count;
  }

  function lineChart(node, buckets, series, unit) {
    node.replaceChildren();
    const max = niceMax(Math.max(0, ...buckets.flatMap((b) => series.map((s) => b[s.key] || 0))));
    const x = axes(node, max, buckets.length, unit);
    const plot = CHART.height - CHART.bottom - CHART.top;
    const y = (value) => CHART.top + plot * (1 - value / max);
    for (const s of series) {
      const points = buckets.map((b, i) => (b[s.key] === null || b[s.key] === undefined ? null : `${x(i).toFixed(1)},${y(b[s.key]).toFixed(1)}`));
      // A bucket without requests has no latency: the line breaks there.
      const segments = points.map((p) => p ?? "|").join(" ").split("|").map((p) => p.trim()).filter(Boolean);
      for (const segment of segments) node.append(svg("polyline", { points: segment, class: `line ${s.className}` }));
    }
  }

  function statusChart(node, buckets) {
    node.replaceChildren();
    const total = (b) => b.status["2xx"] + b.status["3xx"] + b.status["4xx"] + b.status["5xx"];
    const max = niceMax(Math.max(0, ...buckets.map(total)));
    const x = axes(node, max, buckets.length, "");
    const plot = CHART.height - CHART.bottom - CHART.top;
    const barWidth = Math.max(1, ((CHART.width - CHART.left) / buckets.length) * 0.8);
    buckets.forEach((b, i) => {
      let base = CHART.top + plot;
      for (const [key, className] of [["2xx", "s2"], ["3xx", "s3"], ["4xx", "s4"], ["5xx", "s5"]]) {
        const count = b.status[key];
        if (!count) continue;
        const height = (plot * count) / max;
        base -= height;
        node.append(svg("rect", { x: (x(i) - barWidth / 2).toFixed(1), y: base.toFixed(1), width: barWidth.toFixed(1), height: height.toFixed(1), class: `bar ${className}` }));
      }
    });
  }

  async function loadTraffic() {
    const windowS = $("traffic-window").value;
    const step = Math.max(1, Math.round(Number(windowS) / 60));
    const data = await api("GET", `/api/traffic?window_s=${windowS}&step_s=${step}`);
    const t = data.totals;
    const ms = (v) => (v === null ? "–" : `${v} ms`);
    $("traffic-summary").textContent = `${t.requests} request${t.requests === 1 ? "" : "s"} in ${data.window_s} s · ${t.rps} req/s · p50 ${ms(t.p50_ms)} · p95 ${ms(t.p95_ms)} · p99 ${ms(t.p99_ms)}`;
    lineChart($("chart-rps"), data.buckets, [{ key: "rps", className: "rps" }], "");
    lineChart($("chart-latency"), data.buckets, [
      { key: "p50_ms", className: "p50" }, { key: "p95_ms", className: "p95" }, { key: "p99_ms", className: "p99" },
    ], "");
    statusChart($("chart-status"), data.buckets);
    const rows = data.top_operations.map((o) => el("tr", {},
      el("td", { className: "mono", text: o.operation_id }),
      el("td", { className: "num", text: o.requests }),
      el("td", { className: "num", text: o.server_errors }),
      el("td", { className: "num", text: ms(o.p95_ms) })));
    fill($("traffic-ops"), rows, 4, "No traffic in the window yet: call the business URL.");
  }

  async function pollTraffic() {
    if (ui.tab === "traffic" && $("traffic-live").checked && !document.hidden) {
      const ok = await guard(loadTraffic);
      if (!ok) $("traffic-live").checked = false;
    }
    setTimeout(pollTraffic, TRAFFIC_INTERVAL_MS);
  }

  // -- tabs and wiring ---------------------------------------------------------------------

  const LOADERS = { operations: loadOperations, log: loadLog, scenarios: loadScenarios, state: loadState, webhooks: loadWebhooks, traffic: loadTraffic };
  const tabs = () => [...document.querySelectorAll("[role=tab]")];

  function showTab(name, focus = false) {
    if (!Object.hasOwn(LOADERS, name)) name = "operations";
    ui.tab = name;
    for (const tab of tabs()) {
      const selected = tab.dataset.tab === name;
      tab.setAttribute("aria-selected", String(selected));
      tab.tabIndex = selected ? 0 : -1;
      $(tab.getAttribute("aria-controls")).hidden = !selected;
      if (selected && focus) tab.focus();
    }
    if (location.hash !== `#${name}`) history.replaceState(null, "", `#${name}`);
    guard(LOADERS[name]);
    guard(loadHealth); // the active scenario may have been switched by another client
  }

  function onSubmit(id, action) {
    $(id).addEventListener("submit", (event) => {
      event.preventDefault();
      guard(action);
    });
  }

  function wire() {
    for (const tab of tabs()) tab.addEventListener("click", () => showTab(tab.dataset.tab));
    document.querySelector("[role=tablist]").addEventListener("keydown", (event) => {
      const names = tabs().map((t) => t.dataset.tab);
      const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
      if (!step) return;
      event.preventDefault();
      showTab(names[(names.indexOf(ui.tab) + step + names.length) % names.length], true);
    });
    $("notice-close").addEventListener("click", () => { $("notice").hidden = true; });
    $("log-detail-close").addEventListener("click", () => { $("log-detail").hidden = true; });
    onSubmit("log-filter", () => { ui.logSignature = ""; return loadLog(); });
    onSubmit("scenario-form", () => createScenario(false));
    $("scenario-save").addEventListener("click", () => guard(() => createScenario(true)));
    $("scenario-deactivate").addEventListener("click", () => guard(() => scenarioAction("POST", "/api/mock-data/scenarios/deactivate", "Scenario deactivated")));
    $("state-session").addEventListener("change", () => guard(loadState));
    $("state-seed-all").addEventListener("click", () => guard(() => seed(null)));
    $("state-reset").addEventListener("click", () => guard(() => reset(true)));
    $("state-empty").addEventListener("click", () => guard(() => reset(false)));
    $("history-all").addEventListener("click", () => guard(() => { ui.historyFor = null; return loadHistory(); }));
    onSubmit("webhook-form", registerWebhook);
    $("traffic-window").addEventListener("change", () => guard(loadTraffic));
    onSubmit("token-form", async () => {
      sessionStorage.setItem(TOKEN_KEY, $("token-input").value);
      $("token-input").value = "";
      $("token-form").hidden = true;
      $("notice").hidden = true;
      $("log-live").checked = true;
      await Promise.all([loadHealth(), LOADERS[ui.tab](), ui.tab === "operations" ? null : loadOperations()]);
    });
    window.addEventListener("hashchange", () => showTab(location.hash.slice(1)));
  }

  wire();
  const first = location.hash.slice(1);
  if (first !== "operations" && Object.hasOwn(LOADERS, first)) guard(loadOperations); // the scenario template
  showTab(first);
  setTimeout(pollLog, LOG_INTERVAL_MS);
  setTimeout(pollTraffic, TRAFFIC_INTERVAL_MS);
})();
