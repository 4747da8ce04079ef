// The duty page: one overview request, redrawn on every server-sent "change" event.
"use strict";
const $ = (sel) => document.querySelector(sel);
let token = localStorage.getItem("lvgate-token") || "";
let data = null;

function headers() {
  const h = { "Content-Type": "application/json" };
  if (token) h["Authorization"] = "Bearer " + token;
  return h;
}

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") node.className = v; else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
}

function duration(ms) {
  const neg = ms < 0, s = Math.floor(Math.abs(ms) / 1000);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
  const text = h ? `${h} h ${m} min` : m ? `${m} min ${s % 60} s` : `${s % 60} s`;
  return neg ? `${text} overdue` : `${text} left`;
}

function clockText(name, clock, now) {
  if (clock.met_ms !== null) return `${name} ${clock.status === "met" ? "met" : "met late"}`;
  return `${name}: ${duration(clock.due_ms - now)}`;
}

function formatValue(v) {
  if (v === null || v === undefined) return "—";
  return typeof v === "number" ? (Math.round(v * 100) / 100).toString() : String(v);
}

async function acknowledge(id) {
  const res = await fetch(`/api/alarms/${id}/acknowledge`, { method: "POST", headers: headers(), body: JSON.stringify({ comment: "acknowledged from the duty page" }) });
  if (!res.ok) alert(`Acknowledge failed: ${res.status} ${(await res.json()).detail || ""}`);
  await refresh();
}

function drawAlarms() {
  const box = $("#alarms");
  const now = Date.now() - (data.clientSkew || 0);
  box.replaceChildren();
  $("#alarm-count").textContent = data.alarms.length ? `(${data.alarms.length})` : "";
  if (!data.alarms.length) { box.append(el("p", { class: "empty" }, "No active alarms.")); return; }
  for (const a of data.alarms) {
    const clocks = el("div", { class: "clocks" });
    for (const name of ["response", "plan", "fix"]) {
      const c = a.clocks[name];
      const status = c.met_ms === null && c.due_ms < now ? "overdue" : c.status;
      clocks.append(el("span", { class: `clock ${status}`, "data-clock": name }, clockText(name, c, now)), " · ");
    }
    const action = a.state === "raised"
      ? el("button", { class: "ack", "data-alarm": a.id, onclick: () => acknowledge(a.id) }, "Acknowledge")
      : el("span", { class: "state" }, a.state + (a.acknowledged_by ? ` by ${a.acknowledged_by}` : ""));
    box.append(el("div", { class: `alarm level-${a.level}`, "data-alarm": a.id, "data-state": a.state },
      el("div", {},
        el("div", { class: "what" }, `Level ${a.level} · ${a.message}${a.flapping ? " (flapping)" : ""}`),
        el("div", { class: "meta" }, `${a.room || "?"} · ${a.device} · ${a.rule} · raised ${new Date(a.raised_ms).toLocaleString()}`),
        clocks),
      action));
  }
}

function drawRooms() {
  const rooms = new Map();
  for (const d of data.devices) {
    const key = `${d.site || "?"} / ${d.room || "?"}`;
    if (!rooms.has(key)) rooms.set(key, []);
    rooms.get(key).push(d);
  }
  const box = $("#rooms");
  box.replaceChildren();
  for (const [name, devices] of rooms) {
    const room = el("div", { class: "room" }, el("h3", {}, name));
    for (const d of devices) {
      const stale = d.age_s !== null && d.age_s > 300;
      const avail = d.availability || "unknown";
      const values = Object.entries(d.latest).slice(0, 8).map(([k, v]) => `${k} ${formatValue(v.value)}${v.unit ? " " + v.unit : ""}`).join(", ");
      room.append(el("div", { class: "device", "data-device": d.device },
        el("span", {}, el("strong", {}, d.name || d.device), " ", el("span", { class: avail }, avail)),
        el("span", { class: "values" }, values || "no readings"),
        el("span", { class: stale ? "stale" : "" }, d.age_s === null ? "never seen" : `${Math.round(d.age_s)} s ago`)));
    }
    box.append(room);
  }
}

async function refresh() {
  const res = await fetch("/api/overview", { headers: headers() });
  if (!res.ok) { $("#live").textContent = `error ${res.status}`; return; }
  data = await res.json();
  data.clientSkew = Date.now() - data.now_ms;
  drawAlarms();
  drawRooms();
}

function connect() {
  const url = "/api/stream" + (token ? "?token=" + encodeURIComponent(token) : "");
  const source = new EventSource(url);
  source.addEventListener("change", refresh);
  source.onopen = () => { $("#live").textContent = "live"; $("#live").className = "badge on"; };
  source.onerror = () => { $("#live").textContent = "reconnecting"; $("#live").className = "badge off"; };
  return source;
}

let source = null;
$("#token").value = token;
$("#token-form").addEventListener("submit", (e) => {
  e.preventDefault();
  token = $("#token").value.trim();
  localStorage.setItem("lvgate-token", token);
  if (source) source.close();
  source = connect();
  refresh();
});
setInterval(() => { if (data) drawAlarms(); }, 1000);  // the clocks tick between updates
refresh().then(() => { source = connect(); });
