// The live page of the OIOI mock and proxy: polls the admin API and shows the conversation.
// Vanilla JS, no build step. Server data is only ever set with textContent (never innerHTML).
// The admin token lives in sessionStorage and travels only as "Authorization: Bearer …".
"use strict";

(() => {
  const TOKEN_KEY = "oioi-admin-token";
  const MAX_ROWS = 2000;
  const FIRST_LOAD = 500;
  // The state changes only with an exchange (a new journal entry) or an action: it is asked for then,
  // and at least every STATE_EVERY polls (a reset or a fault queued by another client).
  const STATE_EVERY = 5;

  const $ = (id) => document.getElementById(id);
  const page = {
    prompt: $("prompt"), tokenInput: $("token-input"), promptError: $("prompt-error"),
    app: $("app"), kind: $("kind"), meta: $("meta"), endpoint: $("endpoint"),
    live: $("live"), liveDot: $("live-dot"), logout: $("logout"), error: $("error"),
    journal: $("journal"), tbody: document.querySelector("#journal tbody"),
    scroll: $("journal-scroll"), empty: $("journal-empty"), count: $("count"), follow: $("follow"),
    filterCall: $("filter-call"), filterDirection: $("filter-direction"),
    filterPartner: $("filter-partner"), filterFindings: $("filter-findings"),
    detail: $("detail"),
    state: $("state"), send: $("send"), faultsPanel: $("faults-panel"), resetBox: $("reset-box"),
  };

  // Everything learned from the server; wiped whenever the prompt shows.
  // sessionStorage may be refused (a locked-down browser): the token then lives in this page only.
  const stored = {
    get() { try { return sessionStorage.getItem(TOKEN_KEY); } catch (_) { return null; } },
    set(value) { try { sessionStorage.setItem(TOKEN_KEY, value); } catch (_) { /* kept in memory */ } },
    forget() { try { sessionStorage.removeItem(TOKEN_KEY); } catch (_) { /* nothing kept */ } },
  };
  let token = stored.get();
  let info = null;
  let entries = new Map(); // id -> entry, in arrival order
  let lastId = null;
  let selectedId = null;
  let stateCache = {};
  let callsSeen = new Set();
  let generation = 0; // bumped on logout/reset so that late answers are dropped
  let timer = null;
  let polling = false;
  let pollAgain = false;
  let pollsSinceState = STATE_EVERY; // the first poll asks for the state
  let connected = null;
  let resync = false;
  let journalEpoch = 0; // bumped when the table is emptied, so that an answer already on its way is dropped

  // ---- talking to the server ------------------------------------------------------------

  class Unauthorized extends Error {}
  class Offline extends Error {}

  async function api(path, options = {}) {
    const headers = { Accept: "application/json" };
    if (token) headers.Authorization = `Bearer ${token}`;
    const init = { method: options.method || "GET", headers, cache: "no-store", credentials: "omit" };
    if (options.body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(options.body);
    }
    let response;
    try {
      response = await fetch(path, init);
    } catch (error) {
      throw new Offline(String(error && error.message ? error.message : error));
    }
    if (response.status === 401) throw new Unauthorized(await errorText(response));
    if (options.raw) return response;
    let data = null;
    const text = await response.text();
    if (text) {
      try {
        data = JSON.parse(text);
      } catch (_) {
        data = { error: text.slice(0, 300) };
      }
    }
    return { status: response.status, ok: response.ok, data };
  }

  async function errorText(response) {
    try {
      const data = await response.json();
      return data && data.error ? String(data.error) : `HTTP ${response.status}`;
    } catch (_) {
      return `HTTP ${response.status}`;
    }
  }

  function serverError(result, fallback) {
    if (result.data && result.data.error) return String(result.data.error);
    return `${fallback} (HTTP ${result.status}).`;
  }

  // ---- prompt and start -----------------------------------------------------------------

  async function start() {
    stopPolling();
    let result;
    try {
      result = await api("/admin/info");
    } catch (error) {
      if (error instanceof Unauthorized) {
        const refused = Boolean(token);
        forgetToken();
        showPrompt(refused ? "That token was refused. Try again." : "");
        return;
      }
      showApp();
      setLive(false);
      timer = setTimeout(start, refreshMs());
      return;
    }
    if (!result.ok || !result.data) {
      showApp();
      setLive(false);
      showError(serverError(result, "The admin API did not answer"));
      timer = setTimeout(start, refreshMs());
      return;
    }
    info = result.data;
    hideError();
    showApp();
    renderInfo();
    pollNow();
  }

  function showPrompt(message) {
    stopPolling();
    wipe();
    page.app.hidden = true;
    page.prompt.hidden = false;
    page.promptError.textContent = message || "";
    page.promptError.hidden = !message;
    page.tokenInput.value = "";
    page.tokenInput.focus();
  }

  function showApp() {
    page.prompt.hidden = true;
    page.promptError.hidden = true;
    page.app.hidden = false;
    page.logout.hidden = !token;
  }

  function forgetToken() {
    token = null;
    stored.forget();
  }

  function wipe() {
    generation += 1;
    info = null;
    journalEpoch += 1;
    entries = new Map();
    lastId = null;
    selectedId = null;
    stateCache = {};
    callsSeen = new Set();
    connected = null;
    resync = false;
    page.tbody.replaceChildren();
    for (const select of [page.filterCall, $("send-call"), $("fault-call")]) {
      while (select.options.length > (select === $("send-call") ? 0 : 1)) select.remove(select.options.length - 1);
    }
    for (const id of ["kind", "meta", "endpoint", "count", "send-result", "send-target", "state-summary",
      "faults-summary"]) {
      $(id).textContent = "";
    }
    $("send-body").value = "";
    $("faults").replaceChildren();
    for (const table of page.state.querySelectorAll("table")) table.replaceChildren();
    closeDetail();
    hideError();
    page.empty.hidden = false;
  }

  page.prompt.addEventListener("submit", (event) => {
    event.preventDefault();
    const value = page.tokenInput.value.trim();
    if (!value) return;
    token = value;
    stored.set(value);
    page.promptError.hidden = true;
    start();
  });

  page.logout.addEventListener("click", () => {
    forgetToken();
    showPrompt("");
  });

  // ---- header ---------------------------------------------------------------------------

  function renderInfo() {
    const role = info.role ? String(info.role).toUpperCase() : "";
    page.kind.textContent = info.kind === "proxy" ? "Proxy" : `Mock ${role}`.trim();
    const bits = [];
    if (info.version) bits.push(`v${info.version}`);
    if (info.spec_version) bits.push(`OIOI ${info.spec_version}`);
    page.meta.textContent = bits.join(" · ");
    const where = [];
    if (info.endpoint) where.push(`endpoint ${info.endpoint}`);
    if (info.partner_url) where.push(`partner ${info.partner_url}`);
    for (const listener of info.listeners || []) {
      where.push(`${listener.name} ${listener.url} → ${listener.upstream}`);
    }
    page.endpoint.textContent = where.join("   ");
    document.title = `${page.kind.textContent} · OIOI live`;

    const features = info.features || {};
    page.state.hidden = !features.state;
    page.send.hidden = !features.send;
    page.faultsPanel.hidden = !features.faults;
    page.resetBox.hidden = !features.reset;
    page.app.classList.toggle("no-panels", !features.state && !features.send && !features.faults);

    fillSelect($("send-call"), info.sends || [], false);
    fillSelect($("fault-call"), info.receives || [], true);
    $("send-target").textContent = info.partner_url ? `to ${info.partner_url}` : "no partner URL configured";
    for (const call of [...(info.receives || []), ...(info.sends || [])]) addCallOption(call);
    if (features.send && (info.sends || []).length) loadExample();
  }

  function fillSelect(select, calls, keepFirst) {
    while (select.options.length > (keepFirst ? 1 : 0)) select.remove(select.options.length - 1);
    for (const call of calls) select.add(new Option(call, call));
  }

  function setLive(ok) {
    if (connected === ok) return;
    connected = ok;
    const every = info ? seconds(info.refresh_ms || 1000) : "1 s";
    page.live.textContent = ok ? `live · every ${every}` : "disconnected – retrying";
    page.liveDot.classList.toggle("ok", ok);
    page.liveDot.classList.toggle("down", !ok);
  }

  function seconds(ms) {
    const s = ms / 1000;
    return `${Number.isInteger(s) ? s : s.toFixed(1)} s`;
  }

  // ---- polling --------------------------------------------------------------------------

  function refreshMs() {
    return Math.max(200, Number(info && info.refresh_ms) || 1000);
  }

  function stopPolling() {
    clearTimeout(timer);
    timer = null;
  }

  function pollNow() {
    pollsSinceState = STATE_EVERY; // after an action, the state is asked for at once
    if (polling) {
      pollAgain = true;
      return;
    }
    stopPolling();
    poll();
  }

  async function poll() {
    const mine = generation;
    polling = true;
    let ok = true;
    try {
      const added = await pollJournal(mine);
      pollsSinceState += 1;
      if (info && info.features && info.features.state && (added > 0 || pollsSinceState >= STATE_EVERY)) {
        await pollState(mine);
        pollsSinceState = 0;
      }
    } catch (error) {
      if (error instanceof Unauthorized) {
        polling = false;
        if (mine === generation) {
          forgetToken();
          showPrompt("The admin token is no longer accepted. Enter the current one.");
        }
        return;
      }
      if (!(error instanceof Offline)) console.error(error); // a bug of the page: let it show
      ok = false;
    }
    polling = false;
    if (!info) return; // the prompt shows: start() polls again once there is a token
    if (mine === generation) {
      if (!ok && connected !== false) resync = true;
      setLive(ok);
    }
    const delay = pollAgain ? 0 : refreshMs();
    pollAgain = false;
    stopPolling();
    timer = setTimeout(poll, delay);
  }

  async function pollJournal(mine) {
    // Back after an outage the server may have restarted with a new journal: load it afresh.
    const fresh = lastId === null || resync;
    const query = fresh ? `latest=${FIRST_LOAD}` : `since=${lastId}`;
    const epoch = journalEpoch;
    const result = await api(`/admin/journal?${query}&explain=1`);
    if (!result.ok) throw new Offline(serverError(result, "The journal did not load"));
    if (mine !== generation || epoch !== journalEpoch) return 0; // logged out, or the journal was emptied meanwhile
    const last = result.data && result.data.last;
    if (!fresh && typeof last === "number" && last < lastId) {
      // The journal was emptied or replaced (a reset by another client, a restart): load it afresh.
      resync = true;
      pollAgain = true;
      pollsSinceState = STATE_EVERY;
      return 0;
    }
    if (resync) {
      resync = false;
      clearJournal();
    }
    const added = (result.data && result.data.entries) || [];
    addEntries(added);
    if (lastId === null) lastId = 0;
    return added.length;
  }

  async function pollState(mine) {
    const result = await api("/admin/state");
    if (!result.ok) throw new Offline(serverError(result, "The state did not load"));
    if (mine !== generation) return;
    renderState(result.data || {});
  }

  // ---- the conversation table -----------------------------------------------------------

  function clearJournal() {
    journalEpoch += 1;
    entries = new Map();
    lastId = null;
    page.tbody.replaceChildren();
    updateCount();
  }

  function addEntries(list) {
    if (!list.length) return;
    const fragment = document.createDocumentFragment();
    for (const entry of list) {
      const id = Number(entry.id);
      if (entries.has(id)) continue;
      entries.set(id, entry);
      if (lastId === null || id > lastId) lastId = id;
      if (entry.call) addCallOption(entry.call);
      const row = buildRow(entry);
      row.hidden = !matches(entry);
      fragment.append(row);
    }
    page.tbody.append(fragment);
    trimRows();
    updateCount();
    if (page.follow.checked) toBottom();
  }

  function toBottom() {
    page.scroll.scrollTop = page.scroll.scrollHeight;
  }

  // "follow" keeps the newest exchange in view; scrolling up turns it off, scrolling to the bottom on.
  page.scroll.addEventListener("scroll", () => {
    page.follow.checked = nearBottom();
  });
  page.follow.addEventListener("change", () => {
    if (page.follow.checked) toBottom();
  });

  function nearBottom() {
    const s = page.scroll;
    return s.scrollHeight - s.scrollTop - s.clientHeight < 40;
  }

  function trimRows() {
    while (page.tbody.rows.length > MAX_ROWS) {
      const first = page.tbody.rows[0];
      entries.delete(Number(first.dataset.id));
      first.remove();
    }
  }

  function buildRow(entry) {
    const row = document.createElement("tr");
    row.className = "entry";
    row.dataset.id = String(entry.id);
    row.tabIndex = 0;
    const findings = entry.findings || [];
    if (findings.length) row.classList.add("has-findings");
    if (findings.some((f) => f.severity === "error")) row.classList.add("has-errors");
    if (entry.fault) row.classList.add("faulted");
    if (Number(entry.id) === selectedId) row.classList.add("selected");

    cell(row, "id", String(entry.id));
    const time = cell(row, "time", clock(entry.time));
    time.title = entry.time || "";
    const direction = cell(row, "direction", entry.exchange || "");
    direction.classList.add(entry.exchange === "outbound" ? "out" : "in");
    if (entry.peer) {
      const peer = document.createElement("span");
      peer.className = "peer";
      peer.textContent = ` · ${entry.peer}`;
      direction.append(peer);
    }
    const call = cell(row, "call", entry.call || "—");
    if (entry.partner) call.title = `partner ${entry.partner}`;
    const status = cell(row, "status", entry.status === null || entry.status === undefined ? "—" : String(entry.status));
    status.classList.add(statusClass(entry.status));
    if (entry.status === null || entry.status === undefined) status.title = "no answer";
    if (entry.fault) status.title = `injected fault ${JSON.stringify(entry.fault)}`;
    const result = cell(row, "result", entry.result_code === null || entry.result_code === undefined ? "" : String(entry.result_code));
    if (entry.result_code !== null && entry.result_code !== undefined && entry.result_code !== 0) result.classList.add("bad");
    cell(row, "latency", latency(entry.latency_ms));
    const badges = cell(row, "findings", "");
    if (findings.length > 1) badges.append(element("span", "nfind", String(findings.length)));
    for (const finding of findings) badges.append(badge(finding));
    if (findings.length) badges.title = findings.map((f) => `${f.severity}: ${f.rule} at ${f.path || "/"}`).join("\n");
    return row;
  }

  function cell(row, name, text) {
    const td = document.createElement("td");
    td.className = name;
    td.textContent = text;
    row.append(td);
    return td;
  }

  function badge(finding) {
    const span = document.createElement("span");
    span.className = `badge ${finding.severity === "warning" ? "warning" : "error"}`;
    span.textContent = finding.rule || "finding";
    span.title = `${finding.path || ""}\n${finding.message || ""}`.trim();
    return span;
  }

  function statusClass(status) {
    if (status === null || status === undefined) return "none";
    if (status >= 500) return "s5";
    if (status >= 400) return "s4";
    if (status >= 300) return "s3";
    return "s2";
  }

  function clock(time) {
    if (!time) return "";
    const date = new Date(time);
    if (Number.isNaN(date.getTime())) return String(time);
    const pad = (n, w = 2) => String(n).padStart(w, "0");
    return `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}.${pad(date.getMilliseconds(), 3)}`;
  }

  function latency(ms) {
    if (ms === null || ms === undefined) return "";
    const n = Number(ms);
    if (n >= 1000) return `${(n / 1000).toFixed(2)} s`;
    return `${n >= 100 ? Math.round(n) : n.toFixed(1)} ms`;
  }

  function addCallOption(call) {
    if (callsSeen.has(call)) return false;
    callsSeen.add(call);
    const select = page.filterCall;
    const options = [...select.options].slice(1);
    const before = options.find((option) => option.value > call);
    select.add(new Option(call, call), before || null);
    return true;
  }

  // ---- filters --------------------------------------------------------------------------

  function matches(entry) {
    const call = page.filterCall.value;
    if (call && entry.call !== call) return false;
    const direction = page.filterDirection.value;
    if (direction && entry.exchange !== direction) return false;
    if (page.filterFindings.checked && !(entry.findings || []).length) return false;
    const partner = page.filterPartner.value.trim().toLowerCase();
    if (partner) {
      const haystack = `${entry.partner || ""}\n${entry.peer || ""}`.toLowerCase();
      if (!haystack.includes(partner)) return false;
    }
    return true;
  }

  function applyFilters() {
    for (const row of page.tbody.rows) {
      const entry = entries.get(Number(row.dataset.id));
      row.hidden = !entry || !matches(entry);
    }
    updateCount();
    if (page.follow.checked) toBottom();
  }

  function updateCount() {
    const total = page.tbody.rows.length;
    let shown = 0;
    for (const row of page.tbody.rows) if (!row.hidden) shown += 1;
    page.count.textContent = shown === total ? `${total} exchanges` : `${shown} of ${total} exchanges`;
    page.empty.hidden = total > 0;
  }

  for (const control of [page.filterCall, page.filterDirection, page.filterFindings]) {
    control.addEventListener("change", applyFilters);
  }
  page.filterPartner.addEventListener("input", applyFilters);

  // ---- the detail panel -----------------------------------------------------------------

  page.tbody.addEventListener("click", (event) => {
    const row = event.target.closest("tr.entry");
    if (!row) return;
    select(Number(row.dataset.id));
    const clicked = event.target.closest(".badge");
    if (clicked) { // a click on a badge shows its finding
      const index = [...row.querySelectorAll("td.findings .badge")].indexOf(clicked);
      const finding = page.detail.querySelectorAll(".finding")[index];
      if (finding) finding.scrollIntoView({ block: "nearest" });
    }
  });

  page.tbody.addEventListener("keydown", (event) => {
    const row = event.target.closest("tr.entry");
    if (!row) return;
    if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      select(Number(row.dataset.id));
    } else if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      let next = event.key === "ArrowDown" ? row.nextElementSibling : row.previousElementSibling;
      while (next && next.hidden) next = event.key === "ArrowDown" ? next.nextElementSibling : next.previousElementSibling;
      if (next) {
        next.focus();
        select(Number(next.dataset.id));
      }
    }
  });

  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !page.detail.hidden) closeDetail();
  });

  $("detail-close").addEventListener("click", closeDetail);

  function select(id, known) {
    const entry = entries.get(id) || known;
    if (!entry) return;
    for (const row of page.tbody.querySelectorAll("tr.selected")) row.classList.remove("selected");
    const row = page.tbody.querySelector(`tr[data-id="${id}"]`);
    if (row) row.classList.add("selected");
    selectedId = id;
    renderDetail(entry);
  }

  function closeDetail() {
    selectedId = null;
    page.detail.hidden = true;
    for (const row of page.tbody.querySelectorAll("tr.selected")) row.classList.remove("selected");
  }

  function renderDetail(entry) {
    const d = page.detail;
    $("detail-title").textContent = `#${entry.id} ${entry.call || "(no call)"} · ${entry.exchange || ""}`;

    const meta = $("detail-meta");
    meta.replaceChildren();
    fact(meta, "time", entry.time);
    if (entry.peer) fact(meta, "peer", entry.peer);
    if (entry.url) fact(meta, "url", entry.url);
    fact(meta, "status", entry.status === null || entry.status === undefined ? "no answer" : String(entry.status));
    if (entry.result_code !== null && entry.result_code !== undefined) fact(meta, "result code", String(entry.result_code));
    fact(meta, "latency", latency(entry.latency_ms));
    if (entry.partner) fact(meta, "partner", entry.partner);
    if (entry.fault) fact(meta, "fault", JSON.stringify(entry.fault));

    const findings = entry.findings || [];
    $("detail-findings-title").textContent = findings.length ? `Findings (${findings.length})` : "Findings: none";
    const list = $("detail-findings");
    list.replaceChildren(...findings.map(renderFinding));

    $("detail-headers").textContent = headersText(entry.request_headers);
    showJson(d.querySelector(".request-body"), entry.request_body, "(empty body)");
    showJson(d.querySelector(".response-body"), entry.response_body, "(no answer)");

    const curl = d.querySelector(".curl");
    curl.textContent = entry.curl || "";
    $("curl-box").hidden = !entry.curl;
    $("copy-curl").textContent = "copy curl";

    d.hidden = false;
    d.scrollTop = 0;
  }

  function fact(list, name, value) {
    const dt = document.createElement("dt");
    dt.textContent = name;
    const dd = document.createElement("dd");
    dd.textContent = value === null || value === undefined ? "" : String(value);
    list.append(dt, dd);
  }

  function renderFinding(finding) {
    const li = document.createElement("li");
    li.className = `finding ${finding.severity === "warning" ? "warning" : "error"}`;

    const head = element("div", "finding-head");
    head.append(element("span", `severity ${finding.severity === "warning" ? "warning" : "error"}`, finding.severity || "error"));
    head.append(element("span", "rule", finding.rule || ""));
    if (finding.path) head.append(element("code", "path", finding.path));
    li.append(head);

    const { received, expected, rest } = splitMessage(finding.message || "");
    const grid = element("div", "rx");
    grid.append(element("span", "label", "Received"), element("span", "received", received));
    grid.append(element("span", "label", "Expected"), element("span", "expected", expected));
    li.append(grid);
    if (rest) li.append(element("p", "note", rest));
    if (finding.erratum && !rest.includes(finding.erratum)) li.append(element("p", "erratum", `known spec erratum ${finding.erratum}`));

    const sentence = finding.sentence;
    const quote = element("blockquote", "sentence" + (sentence && sentence.quote ? "" : " missing"),
      sentence && sentence.quote ? sentence.quote : "no catalogue sentence");
    li.append(quote);
    const source = element("p", "source");
    source.append(element("span", "spec-file", (sentence && sentence.file) || finding.spec || ""));
    const requirements = (sentence && sentence.requirements) || [];
    if (requirements.length) source.append(element("span", "requirements", requirements.join(", ")));
    li.append(source);
    return li;
  }

  function splitMessage(message) {
    let received = "";
    let expected = "";
    const rest = [];
    for (const line of String(message).split("\n")) {
      if (!received && line.startsWith("Received: ")) received = line.slice(10);
      else if (!expected && line.startsWith("Expected: ")) expected = line.slice(10);
      else rest.push(line);
    }
    if (!received && !expected) return { received: rest.join("\n"), expected: "", rest: "" };
    return { received, expected, rest: rest.join("\n").trim() };
  }

  function element(tag, className, text) {
    const el = document.createElement(tag);
    if (className) el.className = className;
    if (text !== undefined) el.textContent = text;
    return el;
  }

  function headersText(headers) {
    if (!headers || typeof headers !== "object") return "";
    return Object.entries(headers).map(([name, value]) => `${name}: ${value}`).join("\n");
  }

  // Pretty JSON with light highlighting: each token is its own text node or span (no HTML parsing).
  function showJson(pre, value, emptyText) {
    pre.replaceChildren();
    pre.classList.remove("muted");
    if (value === null || value === undefined || value === "") {
      pre.textContent = emptyText;
      pre.classList.add("muted");
      return;
    }
    let data = value;
    if (typeof value === "string") {
      try {
        data = JSON.parse(value);
      } catch (_) {
        pre.textContent = value;
        return;
      }
    }
    const text = JSON.stringify(data, null, 2);
    if (text.length > 200000) {
      pre.textContent = text;
      return;
    }
    const token = /("(?:\\.|[^"\\])*")(\s*:)?|\b(true|false|null)\b|(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)/g;
    let at = 0;
    const fragment = document.createDocumentFragment();
    for (const match of text.matchAll(token)) {
      if (match.index > at) fragment.append(text.slice(at, match.index));
      if (match[1]) {
        fragment.append(element("span", match[2] ? "j-key" : "j-str", match[1]));
        if (match[2]) fragment.append(match[2]);
      } else if (match[3]) {
        fragment.append(element("span", "j-lit", match[3]));
      } else {
        fragment.append(element("span", "j-num", match[4]));
      }
      at = match.index + match[0].length;
    }
    if (at < text.length) fragment.append(text.slice(at));
    pre.append(fragment);
  }

  $("copy-curl").addEventListener("click", async () => {
    const pre = page.detail.querySelector(".curl");
    const button = $("copy-curl");
    try {
      await navigator.clipboard.writeText(pre.textContent);
      button.textContent = "copied";
    } catch (_) {
      const range = document.createRange();
      range.selectNodeContents(pre);
      const selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
      let copied = false;
      try {
        copied = document.execCommand("copy");
      } catch (__) {
        copied = false;
      }
      button.textContent = copied ? "copied" : "selected – press Ctrl+C";
    }
    setTimeout(() => { button.textContent = "copy curl"; }, 2000);
  });

  // ---- state ----------------------------------------------------------------------------

  const STATE_COLUMNS = {
    connectors: [["evse_id", "EVSE"], ["station_id", "station"], ["status", "status"], ["reservable", "reservable"], ["partner", "partner"]],
    stations: [["id", "id"], ["name", "name"], ["connectors", "connectors"], ["partner", "partner"], ["deleted", "deleted"], ["changed", "changed"]],
    sessions: [["session_id", "session"], ["connector_id", "connector"], ["state", "state"], ["identifier", "identifier"], ["partner", "partner"], ["updated", "updated"]],
    reservations: [["connector_id", "connector"], ["identifiers", "identifiers"], ["rfids", "RFIDs"], ["end_time", "ends"]],
    whitelist: [["partner", "partner"], ["uid", "uid"]],
    rfids: [["uid", "uid"], ["evco_id", "EVCO id"], ["state", "state"]],
    violations: [["id", "#"], ["time", "time"], ["call", "call"], ["rule", "rule"], ["message", "message"]],
  };

  function stationValue(row, key) {
    const body = row.body && typeof row.body === "object" ? row.body : {};
    if (key === "name") return body.name;
    if (key === "connectors") return Array.isArray(body.connectors) ? body.connectors.length : "";
    return row[key];
  }

  function renderState(state) {
    const counts = [];
    for (const [table, columns] of Object.entries(STATE_COLUMNS)) {
      const rows = Array.isArray(state[table]) ? state[table] : [];
      counts.push(`${rows.length} ${table}`);
      const key = JSON.stringify(rows);
      if (stateCache[table] === key) continue;
      stateCache[table] = key;
      const el = $(`state-${table}`);
      if (el) renderTable(el, table, columns, rows);
    }
    $("state-summary").textContent = counts.filter((c) => !c.startsWith("0 ")).join(" · ");
    const faults = Array.isArray(state.faults) ? state.faults : [];
    const key = JSON.stringify(faults);
    if (stateCache.faults !== key) {
      stateCache.faults = key;
      renderFaults(faults);
    }
  }

  function renderTable(el, table, columns, rows) {
    const head = document.createElement("thead");
    const tr = document.createElement("tr");
    for (const [, title] of columns) tr.append(element("th", "", title));
    head.append(tr);
    const body = document.createElement("tbody");
    if (!rows.length) {
      const empty = document.createElement("tr");
      const td = element("td", "empty-cell", "none");
      td.colSpan = columns.length;
      empty.append(td);
      body.append(empty);
    }
    for (const row of rows) {
      const line = document.createElement("tr");
      for (const [name] of columns) {
        const value = table === "stations" ? stationValue(row, name) : row[name];
        const text = display(value, name);
        const td = element("td", name, text);
        if (text.length > 24) td.title = text;
        if (name === "status" || name === "state") td.classList.add("chip", `v-${String(value).toLowerCase().replace(/[^a-z0-9-]/g, "")}`);
        if (table === "sessions" && name === "session_id" && row.body) td.title = JSON.stringify(row.body, null, 2);
        if (table === "stations" && name === "id" && row.body) td.title = JSON.stringify(row.body, null, 2);
        line.append(td);
      }
      body.append(line);
    }
    el.replaceChildren(head, body);
  }

  function display(value, name) {
    if (value === null || value === undefined) return "";
    if (typeof value === "boolean") return value ? "yes" : "no";
    if ((name === "reservable" || name === "deleted") && (value === 0 || value === 1)) return value ? "yes" : "no";
    if (Array.isArray(value)) return value.join(", ");
    if (typeof value === "object") return JSON.stringify(value);
    return String(value);
  }

  function renderFaults(faults) {
    const list = $("faults");
    const queued = faults.filter((f) => Number(f.remaining) > 0);
    $("faults-summary").textContent = queued.length ? `${queued.length} queued` : "";
    list.replaceChildren();
    if (!queued.length) {
      list.append(element("li", "empty-cell", "no fault queued"));
      return;
    }
    for (const fault of queued) {
      const li = element("li", "fault");
      const spec = fault.spec && typeof fault.spec === "object" ? fault.spec : {};
      const what = [];
      if (spec.status !== undefined) what.push(`HTTP ${spec.status}`);
      if (spec.retry_after !== undefined && spec.retry_after !== null) what.push(`Retry-After ${spec.retry_after}`);
      if (spec.delay_ms) what.push(`delay ${spec.delay_ms} ms`);
      if (spec.result_code !== undefined && spec.result_code !== null) what.push(`result ${spec.result_code}`);
      if (spec.malformed) what.push("malformed");
      if (spec.drop) what.push("drop");
      li.append(element("span", "fault-id", `#${fault.id}`));
      li.append(element("span", "fault-what", what.join(" · ") || JSON.stringify(spec)));
      li.append(element("span", "fault-call", fault.call || "any call"));
      li.append(element("span", "fault-left", `${fault.remaining} left`));
      list.append(li);
    }
  }

  // ---- actions --------------------------------------------------------------------------

  function showError(message) {
    page.error.textContent = message;
    page.error.hidden = false;
  }

  function hideError() {
    page.error.hidden = true;
    page.error.textContent = "";
  }

  page.error.addEventListener("click", hideError);

  async function action(run) {
    try {
      await run();
    } catch (error) {
      if (error instanceof Unauthorized) {
        forgetToken();
        showPrompt("The admin token is no longer accepted. Enter the current one.");
      } else {
        showError(`The server did not answer: ${error.message || error}`);
      }
    }
  }

  async function loadExample() {
    const call = $("send-call").value;
    if (!call) return;
    const mine = generation;
    await action(async () => {
      const result = await api(`/admin/example?call=${encodeURIComponent(call)}`);
      if (mine !== generation || $("send-call").value !== call) return;
      if (!result.ok) {
        showError(serverError(result, `No example for ${call}`));
        return;
      }
      $("send-body").value = JSON.stringify(result.data.body, null, 2);
    });
  }

  $("send-call").addEventListener("change", () => {
    $("send-result").replaceChildren();
    loadExample();
  });

  $("send-button").addEventListener("click", () => action(async () => {
    const out = $("send-result");
    out.replaceChildren();
    out.className = "result-box";
    let body;
    try {
      body = JSON.parse($("send-body").value);
    } catch (error) {
      out.classList.add("bad");
      out.textContent = `The body is not JSON: ${error.message}`;
      return;
    }
    const button = $("send-button");
    button.disabled = true;
    out.textContent = "sending…";
    try {
      const result = await api("/admin/send", {
        method: "POST",
        body: { call: $("send-call").value, body, allow_invalid: $("send-invalid").checked },
      });
      out.replaceChildren();
      if (result.ok && result.data) {
        hideError();
        const entry = result.data;
        const status = entry.status === null || entry.status === undefined ? "no answer" : `HTTP ${entry.status}`;
        const code = entry.result_code === null || entry.result_code === undefined ? "" : ` · result ${entry.result_code}`;
        const findings = entry.findings || [];
        out.classList.add(entry.status >= 200 && entry.status < 300 && !entry.result_code ? "good" : "bad");
        out.append(element("strong", "", `${status}${code}`));
        out.append(` · ${findings.length ? `${findings.length} finding(s)` : "no finding"}`);
        if (entry.id !== undefined) {
          const open = element("button", "link", `show #${entry.id}`);
          open.type = "button";
          open.addEventListener("click", () => select(Number(entry.id), entry));
          out.append(" ", open);
        }
        for (const finding of findings) out.append(badge(finding));
        pollNow();
      } else {
        const message = serverError(result, "The call was not sent");
        out.classList.add("bad");
        out.append(element("strong", "", message));
        const findings = (result.data && result.data.findings) || [];
        if (findings.length) {
          const ul = element("ul", "send-findings");
          for (const finding of findings) {
            const li = element("li", "");
            li.append(badge(finding), element("code", "path", finding.path || ""), element("span", "", ` ${String(finding.message || "").replace(/\n/g, " · ")}`));
            ul.append(li);
          }
          out.append(ul);
        }
        showError(message);
      }
    } finally {
      button.disabled = false;
    }
  }));

  function optionalNumber(id) {
    const raw = $(id).value.trim();
    return raw === "" ? undefined : Number(raw);
  }

  $("fault-add").addEventListener("click", () => action(async () => {
    const fault = { count: optionalNumber("fault-count") || 1, status: optionalNumber("fault-status") || 503 };
    const call = $("fault-call").value;
    if (call) fault.call = call;
    const retry = optionalNumber("fault-retry-after");
    if (retry !== undefined) fault.retry_after = retry;
    const delay = optionalNumber("fault-delay");
    if (delay !== undefined) fault.delay_ms = delay;
    const code = optionalNumber("fault-result-code");
    if (code !== undefined) fault.result_code = code;
    if ($("fault-malformed").checked) fault.malformed = true;
    if ($("fault-drop").checked) fault.drop = true;
    const result = await api("/admin/faults", { method: "POST", body: fault });
    if (!result.ok) {
      showError(serverError(result, "The fault was not queued"));
      return;
    }
    hideError();
    pollNow();
  }));

  $("fault-clear").addEventListener("click", () => action(async () => {
    const result = await api("/admin/faults", { method: "DELETE" });
    if (!result.ok) {
      showError(serverError(result, "The faults were not cleared"));
      return;
    }
    hideError();
    pollNow();
  }));

  $("reset").addEventListener("click", () => action(async () => {
    const journal = $("reset-journal").checked;
    const question = journal ? "Reset the mock: empty its state and its journal?" : "Reset the mock: empty its state (the journal stays)?";
    if (!window.confirm(question)) return;
    const result = await api("/admin/reset", { method: "POST", body: { journal } });
    if (!result.ok) {
      showError(serverError(result, "The mock was not reset"));
      return;
    }
    hideError();
    if (journal) {
      clearJournal();
      closeDetail();
    }
    stateCache = {};
    pollNow();
  }));

  $("download").addEventListener("click", () => action(async () => {
    const redact = $("download-redact").checked;
    const response = await api(`/admin/journal.jsonl${redact ? "?redact=1" : ""}`, { raw: true });
    if (!response.ok) {
      showError(await errorText(response));
      return;
    }
    const blob = await response.blob();
    const url = URL.createObjectURL(blob);
    const link = document.createElement("a");
    link.href = url;
    link.download = fileName(response.headers.get("Content-Disposition")) || `oioi-journal${redact ? "-redacted" : ""}.jsonl`;
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
    hideError();
  }));

  function fileName(disposition) {
    const match = /filename="?([^";]+)"?/i.exec(disposition || "");
    return match ? match[1].replace(/[/\\]/g, "_") : "";
  }

  // Keyboard: "/" focuses the partner filter.
  document.addEventListener("keydown", (event) => {
    const typing = /^(INPUT|TEXTAREA|SELECT)$/.test(document.activeElement && document.activeElement.tagName);
    if (event.key === "/" && !typing && !page.app.hidden) {
      event.preventDefault();
      page.filterPartner.focus();
    }
  });

  start();
})();
