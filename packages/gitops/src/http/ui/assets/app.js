// Driftless dashboard: live updates over Server-Sent Events. Pages work without
// this script; it only keeps them current. No polling: a page fetches fresh
// HTML from the server only when an event says something changed.
const body = document.body;
const base = body.dataset.base ?? "";
const liveTarget = body.dataset.liveTarget ?? "";
const liveRun = body.dataset.liveRun ?? "";
const status = document.getElementById("live-status");
/** The last event this page reflects, and which server process counted it (see the server's `hello`). */
let seq = Number(body.dataset.seq ?? "0");
let epoch = body.dataset.epoch ?? "";

// One formatter for every time on the page: making one per element is the slow part.
// `timeStyle: "long"` names the time zone.
const timeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "long" });
const relativeFormat = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });
/** `3 minutes ago`, `in 2 hours`: the unit that fits. */
function relative(at) {
  const seconds = Math.round((at.getTime() - Date.now()) / 1000);
  const abs = Math.abs(seconds);
  if (abs < 45) return relativeFormat.format(0, "second");
  if (abs < 3600) return relativeFormat.format(Math.round(seconds / 60), "minute");
  if (abs < 86400) return relativeFormat.format(Math.round(seconds / 3600), "hour");
  return relativeFormat.format(Math.round(seconds / 86400), "day");
}
/** Shows times as relative plus absolute in the reader's time zone, named; the ISO value stays in `datetime`. */
function localTimes(root) {
  for (const el of root.querySelectorAll("time[datetime]")) {
    const at = new Date(el.getAttribute("datetime") ?? "");
    if (!Number.isNaN(at.getTime())) el.textContent = `${relative(at)} (${timeFormat.format(at)})`;
  }
}

function setStatus(text) {
  if (status) status.textContent = text;
  body.dataset.live = text;
}

/** Fetches a URL and parses it as HTML (never executed: parsed documents run no script). */
async function fetchHtml(url) {
  const res = await fetch(url, { headers: { accept: "text/html" }, credentials: "same-origin" });
  if (!res.ok) throw new Error(`${url}: ${res.status}`);
  return new DOMParser().parseFromString(await res.text(), "text/html");
}

let refreshing = false;
let again = false;
/** Replaces the page's main content with a fresh copy; refreshes coalesce. */
async function refreshMain() {
  if (refreshing) {
    again = true;
    return;
  }
  refreshing = true;
  try {
    const doc = await fetchHtml(location.href);
    const fresh = doc.getElementById("main");
    const main = document.getElementById("main");
    if (fresh && main) {
      main.replaceChildren(...fresh.childNodes);
      localTimes(main);
    }
  } catch {
    // The next event or reconnect refreshes again.
  } finally {
    refreshing = false;
    if (again) {
      again = false;
      void refreshMain();
    }
  }
}

function adjustCount(state, delta) {
  const link = document.querySelector(`[data-count="${state}"] .count`);
  if (link) link.textContent = String(Number(link.textContent) + delta);
}

const pendingRows = new Set();
/** Re-renders one overview row from the server and moves its count. */
async function refreshRow(name) {
  if (pendingRows.has(name)) return;
  pendingRows.add(name);
  try {
    const row = document.getElementById(`row-${name}`);
    if (!row) return;
    const doc = await fetchHtml(`${base}/targets/${encodeURIComponent(name)}/row`);
    const fresh = doc.querySelector("tr");
    if (!fresh) return;
    const before = row.dataset.state;
    const after = fresh.getAttribute("data-state");
    const imported = document.importNode(fresh, true);
    localTimes(imported);
    document.getElementById(`row-${name}`)?.replaceWith(imported);
    if (before && after && before !== after) {
      adjustCount(before, -1);
      adjustCount(after, 1);
    }
  } catch {
    // The next event or reconnect refreshes again.
  } finally {
    pendingRows.delete(name);
  }
}

function appendLog(message, step) {
  const log = document.getElementById("run-log");
  if (!log) return;
  const atEnd = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
  log.append(`\n${new Date().toISOString()} [${step}] ${message}`);
  if (atEnd) log.scrollTop = log.scrollHeight;
}

function onEvent(name, data) {
  if (typeof data.seq === "number") seq = data.seq;
  if (liveTarget === "*") {
    if (name !== "run.progress" && data.target) void refreshRow(data.target);
    return;
  }
  if (liveRun && data.runId === liveRun && name === "run.progress") {
    appendLog(data.message, data.step);
    return;
  }
  if (name !== "run.progress" && data.target === liveTarget) void refreshMain();
}

const EVENTS = [
  "run.started",
  "run.progress",
  "run.finished",
  "drift.detected",
  "revision.applied",
  "gate.refused",
  "stalled",
  "promoted",
  "recovered",
  "resources.recorded",
];

let source;
function connect() {
  if (!liveTarget || typeof EventSource === "undefined" || source || document.hidden) return;
  const es = new EventSource(`${base}/events`);
  source = es;
  es.addEventListener("hello", (event) => {
    // Events happened between rendering and connecting, or while disconnected,
    // or the server restarted meanwhile: catch up once, without a reload.
    const hello = JSON.parse(event.data);
    if (hello.seq !== seq || hello.epoch !== epoch) {
      seq = hello.seq;
      epoch = hello.epoch;
      void refreshMain();
    }
    setStatus("live");
  });
  es.addEventListener("error", () => {
    if (source !== es) return;
    // EventSource reconnects by itself after the server's `retry`; a closed one is reopened.
    setStatus("reconnecting");
    if (es.readyState === EventSource.CLOSED) {
      source = undefined;
      setTimeout(connect, 2000);
    }
  });
  for (const name of EVENTS) {
    es.addEventListener(name, (event) => {
      try {
        onEvent(name, JSON.parse(event.data));
      } catch {
        // A malformed event is ignored.
      }
    });
  }
}

// A browser opens few connections per server (6 over HTTP/1.1) and each stream
// holds one: hidden tabs let theirs go and catch up when shown again.
document.addEventListener("visibilitychange", () => {
  if (document.hidden && source) {
    source.close();
    source = undefined;
    setStatus("paused");
  } else connect();
});

localTimes(document);
connect();
