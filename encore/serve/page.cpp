// The listener-facing page (search, item pages with every model side by side, user pages, the radio
// player) and the OpenAPI document. Plain HTML, CSS and JavaScript written for encore; the page talks
// only to the JSON API documented in docs/api.md.
#include "encore/serve/page.hpp"

namespace encore {

namespace {

constexpr std::string_view kHtml = R"html(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>encore</title>
<link rel="stylesheet" href="/app.css">
</head>
<body>
<header class="top">
  <a class="logo" href="#/">encore</a>
  <div class="search">
    <input id="search" type="search" placeholder="Search artists, tracks, titles" autocomplete="off" aria-label="Search">
    <ul id="suggestions" class="suggestions" role="listbox" hidden></ul>
  </div>
  <form id="user-form" class="user-form">
    <input id="user-id" placeholder="User id" aria-label="User id">
    <button type="submit">For you</button>
  </form>
</header>
<main id="view"></main>
<footer class="player" id="player" hidden>
  <div class="now">
    <div class="label">Now playing</div>
    <div class="title" id="now-title">-</div>
  </div>
  <div class="controls">
    <button id="btn-down" title="Thumbs down: never this again, less like it" aria-label="Thumbs down"><svg class="icon" viewBox="0 0 24 24" aria-hidden="true"><path d="M22 3h-4v12h4V3zM2 14c0 1.1.9 2 2 2h6.3l-1 4.6v.3c0 .4.2.8.4 1.1l1.1 1 6.6-6.6c.4-.4.6-.9.6-1.4V5c0-1.1-.9-2-2-2H7c-.8 0-1.5.5-1.8 1.2l-3 7.1c-.1.2-.2.5-.2.7v2z"/></svg></button>
    <button id="btn-skip" title="Skip" aria-label="Skip">Skip</button>
    <button id="btn-next" class="primary" title="Next track" aria-label="Next">Next &#9654;</button>
    <button id="btn-up" title="Thumbs up: more like this" aria-label="Thumbs up"><svg class="icon" viewBox="0 0 24 24" aria-hidden="true"><path d="M2 21h4V9H2v12zm20-11c0-1.1-.9-2-2-2h-6.3l1-4.6v-.3c0-.4-.2-.8-.4-1.1L13.2 1 6.6 7.6C6.2 8 6 8.5 6 9v10c0 1.1.9 2 2 2h9c.8 0 1.5-.5 1.8-1.2l3-7.1c.1-.2.2-.5.2-.7v-2z"/></svg></button>
  </div>
  <ol class="queue" id="queue"></ol>
</footer>
<script src="/app.js"></script>
</body>
</html>
)html";

constexpr std::string_view kCss = R"css(
:root { --bg: #0f1115; --panel: #181b22; --muted: #8b93a7; --text: #eef1f7; --accent: #1db954; --warn: #e8a33d; --line: #262a35; }
* { box-sizing: border-box; }
[hidden] { display: none !important; }
.icon { width: 18px; height: 18px; vertical-align: -3px; fill: currentColor; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; background: var(--bg); color: var(--text); padding-bottom: 170px; }
a { color: inherit; text-decoration: none; }
a:hover { text-decoration: underline; }
.top { display: flex; gap: 16px; align-items: center; padding: 14px 24px; background: #0b0d10; border-bottom: 1px solid var(--line); position: sticky; top: 0; z-index: 5; }
.logo { font-weight: 800; font-size: 22px; letter-spacing: -0.5px; color: var(--accent); }
.search { position: relative; flex: 1; max-width: 560px; }
.search input { width: 100%; padding: 10px 14px; border-radius: 22px; border: 1px solid var(--line); background: var(--panel); color: var(--text); font-size: 15px; }
.suggestions { position: absolute; left: 0; right: 0; top: 44px; margin: 0; padding: 6px 0; list-style: none; background: var(--panel); border: 1px solid var(--line); border-radius: 12px; box-shadow: 0 12px 30px rgba(0,0,0,.45); }
.suggestions li { padding: 8px 14px; cursor: pointer; display: flex; justify-content: space-between; }
.suggestions li:hover, .suggestions li.active { background: #232836; }
.suggestions .meta { color: var(--muted); font-size: 13px; }
.user-form { display: flex; gap: 6px; }
.user-form input { width: 120px; padding: 8px 10px; border-radius: 18px; border: 1px solid var(--line); background: var(--panel); color: var(--text); }
button { border: 1px solid var(--line); background: var(--panel); color: var(--text); border-radius: 18px; padding: 8px 14px; cursor: pointer; font-size: 14px; }
button:hover { border-color: var(--muted); }
button.primary { background: var(--accent); border-color: var(--accent); color: #06140b; font-weight: 700; }
main { padding: 24px; max-width: 1280px; margin: 0 auto; }
h1 { font-size: 34px; margin: 8px 0 4px; letter-spacing: -0.5px; }
h2 { font-size: 18px; margin: 0 0 10px; }
.sub { color: var(--muted); margin-bottom: 18px; }
.columns { display: grid; grid-template-columns: repeat(auto-fit, minmax(240px, 1fr)); gap: 16px; }
.column { background: var(--panel); border: 1px solid var(--line); border-radius: 14px; padding: 14px; }
.column h2 .kind { color: var(--muted); font-weight: 400; font-size: 13px; margin-left: 6px; }
.list { list-style: none; margin: 0; padding: 0; counter-reset: rank; }
.list li { display: flex; align-items: baseline; gap: 8px; padding: 5px 0; border-bottom: 1px solid #20242e; counter-increment: rank; }
.list li::before { content: counter(rank); color: var(--muted); width: 22px; text-align: right; font-size: 13px; }
.list li .name { flex: 1; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.list li .score { color: var(--muted); font-size: 12px; font-variant-numeric: tabular-nums; }
.list li.only { color: var(--warn); }
.list li .move { font-size: 12px; width: 30px; text-align: right; }
.move.up { color: var(--accent); } .move.down { color: #e05d5d; } .move.new { color: var(--warn); }
.because { color: var(--muted); font-size: 13px; margin-left: 30px; }
.actions { margin: 12px 0 22px; display: flex; gap: 10px; align-items: center; }
.legend { color: var(--muted); font-size: 13px; margin: -8px 0 14px; }
.empty { color: var(--muted); padding: 40px 0; text-align: center; }
.error { background: #3a1c1c; border: 1px solid #6b2a2a; padding: 10px 14px; border-radius: 10px; margin: 10px 0; }
.player { position: fixed; left: 0; right: 0; bottom: 0; background: #0b0d10; border-top: 1px solid var(--line); padding: 12px 24px; display: grid; grid-template-columns: 280px auto 1fr; gap: 20px; align-items: center; }
.player .label { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: 1px; }
.player .title { font-size: 18px; font-weight: 700; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.player .controls { display: flex; gap: 8px; }
.queue { margin: 0; padding-left: 20px; max-height: 140px; overflow: auto; columns: 2; color: var(--muted); font-size: 13px; }
.queue li { break-inside: avoid; }
.hero { padding: 40px 0; }
.hero p { color: var(--muted); max-width: 640px; }
.chips { display: flex; flex-wrap: wrap; gap: 8px; }
.chips a { background: var(--panel); border: 1px solid var(--line); border-radius: 16px; padding: 6px 12px; }
)css";

constexpr std::string_view kJs = R"js(
'use strict';
const $ = (id) => document.getElementById(id);
const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;'}[c]));
const enc = encodeURIComponent;
let health = null;
let radio = null;  // {session, now: {id, name}, queue: [...]}

async function api(path, options) {
  const res = await fetch(path, options);
  const body = await res.json().catch(() => ({error: 'bad response'}));
  if (!res.ok) throw new Error(body.error || ('HTTP ' + res.status));
  return body;
}
const post = (path, body) => api(path, {method: 'POST', headers: {'Content-Type': 'application/json'}, body: JSON.stringify(body)});
const itemLink = (it) => `<a href="#/item/${enc(it.id)}" data-id="${esc(it.id)}">${esc(it.name)}</a>`;
function showError(e) { $('view').insertAdjacentHTML('afterbegin', `<div class="error">${esc(e.message || e)}</div>`); }

// ---- search with autocomplete ----
let searchTimer = null, active = -1;
$('search').addEventListener('input', () => {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(suggest, 120);
});
$('search').addEventListener('keydown', (ev) => {
  const items = [...$('suggestions').querySelectorAll('li')];
  if (ev.key === 'ArrowDown' || ev.key === 'ArrowUp') {
    ev.preventDefault();
    active = Math.max(0, Math.min(items.length - 1, active + (ev.key === 'ArrowDown' ? 1 : -1)));
    items.forEach((li, k) => li.classList.toggle('active', k === active));
  } else if (ev.key === 'Enter' && items.length) {
    (items[Math.max(active, 0)]).click();
  } else if (ev.key === 'Escape') { $('suggestions').hidden = true; }
});
async function suggest() {
  const q = $('search').value.trim();
  const box = $('suggestions');
  if (!q) { box.hidden = true; return; }
  try {
    const r = await api(`/items?q=${enc(q)}&n=8`);
    active = -1;
    box.innerHTML = r.results.map((it) => `<li role="option" data-id="${esc(it.id)}"><span>${esc(it.name)}</span><span class="meta">${it.listeners.toLocaleString()} listeners</span></li>`).join('')
      || '<li class="meta">No match</li>';
    box.hidden = false;
    box.querySelectorAll('li[data-id]').forEach((li) => li.addEventListener('click', () => {
      box.hidden = true; $('search').value = ''; location.hash = `#/item/${enc(li.dataset.id)}`;
    }));
  } catch (e) { box.hidden = true; }
}
document.addEventListener('click', (ev) => { if (!ev.target.closest('.search')) $('suggestions').hidden = true; });
$('user-form').addEventListener('submit', (ev) => { ev.preventDefault(); const u = $('user-id').value.trim(); if (u) location.hash = `#/user/${enc(u)}`; });

// ---- pages ----
async function home() {
  $('view').innerHTML = `<section class="hero"><h1>Find what to play next</h1>
    <p>Search for an artist or a title to see what is related to it, model by model, or start a radio that learns from your thumbs.</p>
    <h2>Popular</h2><div class="chips" id="popular"></div></section>`;
  const r = await api('/items?q=&n=24');
  $('popular').innerHTML = r.results.map(itemLink).join('');
}

async function itemPage(key) {
  const models = health.models;
  const lists = await Promise.all(models.map((m) => api(`/items/${enc(key)}/related?n=20&model=${enc(m)}`)));
  const query = lists[0].query;
  const base = lists[0].results.map((r) => r.id);
  const columns = lists.map((l, k) => {
    const rows = l.results.map((r, rank) => {
      let move = '';
      if (k > 0) {
        const at = base.indexOf(r.id);
        move = at < 0 ? '<span class="move new" title="not in the first column">new</span>'
          : at > rank ? `<span class="move up" title="higher than in the first column">&#9650;${at - rank}</span>`
          : at < rank ? `<span class="move down" title="lower than in the first column">&#9660;${rank - at}</span>` : '<span class="move"></span>';
      }
      return `<li class="${k > 0 && base.indexOf(r.id) < 0 ? 'only' : ''}" data-id="${esc(r.id)}">${move}<span class="name">${itemLink(r)}</span><span class="score">${r.score.toFixed(3)}</span></li>`;
    }).join('');
    return `<section class="column" data-model="${esc(l.model)}"><h2>${esc(l.model)}<span class="kind">${k === 0 ? 'default' : ''}</span></h2><ol class="list">${rows}</ol></section>`;
  }).join('');
  $('view').innerHTML = `<h1 id="item-title">${esc(query.name)}</h1><div class="sub">${esc(query.id)}</div>
    <div class="actions"><button class="primary" id="start-radio">&#9654; Start radio</button>
    <label><input type="checkbox" id="shuffle" checked> Shuffle</label></div>
    <div class="legend">Each column is one model's related items; arrows and colours show how the others differ from the first column.</div>
    <div class="columns">${columns}</div>`;
  $('start-radio').addEventListener('click', () => startRadio({item: query.id, shuffle: $('shuffle').checked}));
}

async function userPage(id) {
  const r = await api(`/users/${enc(id)}/recommendations?n=30&explain=true`);
  const rows = r.results.map((x) => `<li data-id="${esc(x.id)}"><span class="name">${itemLink(x)}</span><span class="score">${x.score.toFixed(3)}</span></li>` +
    (x.because.length ? `<div class="because">because you played ${x.because.map(itemLink).join(', ')}</div>` : '')).join('');
  $('view').innerHTML = `<h1>For ${esc(id)}</h1><div class="sub">Recommended from your listening</div>
    <div class="actions"><button class="primary" id="start-radio">&#9654; Your radio</button></div>
    <section class="column"><ol class="list" id="recommendations">${rows || '<div class="empty">Nothing yet</div>'}</ol></section>`;
  $('start-radio').addEventListener('click', () => startRadio({user: id}));
}

// ---- radio ----
async function startRadio(seed) {
  try {
    const r = await post('/radio', Object.assign({n: 1}, seed));
    radio = {session: r.session, now: r.tracks[0] || null};
    await refreshQueue();
  } catch (e) { showError(e); }
}
async function refreshQueue() {
  const s = await api(`/radio/${enc(radio.session)}?n=12`);
  radio.queue = s.queue;
  renderPlayer();
}
function renderPlayer() {
  $('player').hidden = false;
  $('player').dataset.session = radio.session;
  $('now-title').innerHTML = radio.now ? itemLink(radio.now) : '-';
  $('now-title').dataset.id = radio.now ? radio.now.id : '';
  $('queue').innerHTML = radio.queue.map((t) => `<li data-id="${esc(t.id)}">${esc(t.name)}</li>`).join('');
}
async function next() {
  const r = await api(`/radio/${enc(radio.session)}/next?n=1`);
  radio.now = r.tracks[0] || null;
  await refreshQueue();
}
async function feedback(kind) {
  if (!radio || !radio.now) return;
  try {
    await post(`/radio/${enc(radio.session)}/feedback`, {item: radio.now.id, feedback: kind});
    if (kind === 'up') { await refreshQueue(); } else { await next(); }
  } catch (e) { showError(e); }
}
$('btn-next').addEventListener('click', () => next().catch(showError));
$('btn-up').addEventListener('click', () => feedback('up'));
$('btn-down').addEventListener('click', () => feedback('down'));
$('btn-skip').addEventListener('click', () => feedback('skip'));

async function route() {
  const h = decodeURIComponent(location.hash || '#/');
  try {
    if (!health) health = await api('/health');
    let m;
    if ((m = h.match(/^#\/item\/(.+)$/))) await itemPage(m[1]);
    else if ((m = h.match(/^#\/user\/(.+)$/))) await userPage(m[1]);
    else await home();
    document.body.dataset.ready = h;
  } catch (e) {
    $('view').innerHTML = '';
    showError(e);
    document.body.dataset.ready = h;
  }
}
window.addEventListener('hashchange', route);
route();
)js";

constexpr std::string_view kOpenApi = R"json({
  "openapi": "3.0.3",
  "info": {"title": "encore", "version": "1", "description": "Related items, recommendations and radio from a precomputed encore store (docs/api.md). Every error is {\"error\": message} with a 4xx or 5xx status."},
  "paths": {
    "/health": {"get": {"summary": "Liveness and what is served", "responses": {"200": {"description": "status, store, items, users, models, sessions, reloads, uptime_seconds"}}}},
    "/metrics": {"get": {"summary": "Prometheus text: encore_http_requests_total{route,method,status}, encore_http_request_duration_seconds histograms", "responses": {"200": {"description": "text/plain"}}}},
    "/items": {"get": {"summary": "Search items by name: case-insensitive prefix first, then names containing the text, then similar names; most listeners first",
      "parameters": [{"name": "q", "in": "query", "schema": {"type": "string"}}, {"name": "n", "in": "query", "schema": {"type": "integer", "minimum": 1, "default": 10}}],
      "responses": {"200": {"description": "{query, results: [{id, name, listeners}]}"}, "400": {"description": "bad n"}}}},
    "/items/{key}/related": {"get": {"summary": "Related items of an item from the store (the ensemble by default)",
      "parameters": [{"name": "key", "in": "path", "required": true, "schema": {"type": "string"}}, {"name": "n", "in": "query", "schema": {"type": "integer", "minimum": 1, "default": 10}}, {"name": "model", "in": "query", "schema": {"type": "string"}}],
      "responses": {"200": {"description": "{query: {id, name}, model, results: [{id, name, score, because: [], member_scores?}]}"}, "404": {"description": "unknown item or model"}}}},
    "/users/{id}/recommendations": {"get": {"summary": "A known user's stored recommendations",
      "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}, {"name": "n", "in": "query", "schema": {"type": "integer", "minimum": 1, "default": 10}}, {"name": "explain", "in": "query", "schema": {"type": "boolean", "default": false}}],
      "responses": {"200": {"description": "{query: {id, name}, results: [{id, name, score, because: [{id, name, score}]}]}"}, "404": {"description": "unknown user"}}}},
    "/recommendations": {"post": {"summary": "Recommendations for a new user from items (and play counts), folded into a live model (encore serve --model)",
      "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["items"], "properties": {"items": {"type": "array", "items": {"type": "string"}}, "plays": {"type": "array", "items": {"type": "number"}}, "n": {"type": "integer"}, "explain": {"type": "boolean"}}}}}},
      "responses": {"200": {"description": "the JSON contract"}, "400": {"description": "bad body"}, "404": {"description": "unknown item"}, "409": {"description": "no live model"}, "413": {"description": "body too large"}}}},
    "/radio": {"post": {"summary": "Start a radio session from a seed item or user",
      "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "properties": {"item": {"type": "string"}, "user": {"type": "string"}, "seed": {"type": "integer"}, "shuffle": {"type": "boolean"}, "n": {"type": "integer"}}}}}},
      "responses": {"201": {"description": "{session, tracks: [{id, name}]}"}, "400": {"description": "bad body"}, "404": {"description": "unknown seed"}}}},
    "/radio/{id}": {"get": {"summary": "A session: seed, played history, queue preview", "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}, {"name": "n", "in": "query", "schema": {"type": "integer"}}], "responses": {"200": {"description": "{session, seed, seed_value, shuffle, created, cycle, pool, played, queue}"}, "404": {"description": "unknown session"}}}},
    "/radio/{id}/next": {"get": {"summary": "The next n tracks (recorded as played)", "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}, {"name": "n", "in": "query", "schema": {"type": "integer", "minimum": 1, "default": 10}}], "responses": {"200": {"description": "{session, tracks}"}, "404": {"description": "unknown session"}}}},
    "/radio/{id}/feedback": {"post": {"summary": "Thumbs up, down or skip on a played track",
      "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
      "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["item", "feedback"], "properties": {"item": {"type": "string"}, "feedback": {"type": "string", "enum": ["up", "down", "skip"]}, "n": {"type": "integer"}}}}}},
      "responses": {"200": {"description": "{session, item, feedback, queue}: acknowledged = committed"}, "400": {"description": "bad body, or an item the session has not played"}, "404": {"description": "unknown session or item"}}}}
  }
}
)json";

}  // namespace

const std::vector<std::tuple<std::string_view, std::string_view, std::string_view>>& page_files() {
    static const std::vector<std::tuple<std::string_view, std::string_view, std::string_view>> files = {
        {"/", kHtml, "text/html; charset=utf-8"},
        {"/index.html", kHtml, "text/html; charset=utf-8"},
        {"/app.css", kCss, "text/css; charset=utf-8"},
        {"/app.js", kJs, "application/javascript; charset=utf-8"},
    };
    return files;
}

std::string_view openapi_json() { return kOpenApi; }

}  // namespace encore
