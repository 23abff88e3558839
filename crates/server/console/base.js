// The changeover web console, part 1: constants, state, helpers, the API client and the
// maintenance announcement. One page, drawn from /api/v1 with the caller's token.
// No framework, no build step. Every text from the API is set with textContent, never
// parsed as HTML. The session token lives in sessionStorage only.
'use strict';

const ROLES = { viewer: 1, operator: 2, admin: 3 };
const POLL_MS = 1000;
const MAINTENANCE_POLL_MS = 5000;
const FAILED_LIST_MS = 20000;

const STEP_TITLES = {
  'enter_maintenance': 'Enter maintenance mode',
  'before_hooks': 'Before-upgrade hooks',
  'force_terminate_tasks': 'Force-terminate task execution',
  'stop': 'Stop applications',
  'backup': 'Database backup',
  'pre_upgrade': 'Pre-upgrade',
  'upgrade_applications': 'Upgrade applications',
  'rerun_tasks': 'Re-run tasks',
  'data_update': 'Data update',
  'after_hooks': 'After-upgrade hooks',
  'verify': 'Verify',
  'undo_before_hooks': 'Undo before-upgrade hooks',
  'resume_dispatch': 'Resume dispatch',
  'stop_target': 'Stop target version',
  'restore_backups': 'Restore backups',
  'start_previous': 'Start previous version',
};
// Steps the operator may skip, with the risk acknowledgement (changeover_core SkipRule).
const SKIPPABLE = new Set(['backup', 'verify', 'before_hooks', 'after_hooks']);
const DOWNTIME_STEPS = new Set(['stop', 'upgrade_applications']);
const MODE_WORDS = { full: 'full downtime', partial: 'partial downtime', zero: 'zero downtime' };
const STATUS_COLORS = {
  succeeded: '#2da44e', success: '#2da44e', failed: '#cf222e', failure: '#cf222e',
  running: '#1f6feb', killed: '#8250df', terminated: '#8250df', stopped: '#bf8700',
  waiting: '#9a6700', pending: '#8c959f', skipped: '#6e7781',
};
const EXTRA_COLORS = ['#0969da', '#bc4c00', '#1b7c83', '#a475f9', '#57606a', '#e16f24'];

const state = {
  token: sessionStorage.getItem('changeover.token'),
  name: sessionStorage.getItem('changeover.name'),
  role: sessionStorage.getItem('changeover.role'),
  maintenance: { on: false },
  timers: [],
  // Per-page choices that must survive a live refresh (checked items, risk boxes).
  selected: new Set(),
};

// ---------------------------------------------------------------------------- helpers

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'class') node.className = v;
    else if (k === 'text') node.textContent = v;
    // Through the CSSOM: the policy (style-src 'self') refuses style attributes.
    else if (k === 'style') node.style.cssText = v;
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else if (v === true) node.setAttribute(k, '');
    else node.setAttribute(k, String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

function svg(tag, attrs, ...children) {
  const node = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
  for (const c of children.flat()) {
    if (c === null || c === undefined) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

function badge(label, key) {
  return el('span', { class: 'badge st-' + String(key || label).replace(/[^a-z_]/g, '_') }, label);
}

function progress(percent, id) {
  const p = Math.max(0, Math.min(100, Math.round(percent)));
  return el('div', { class: 'progress', id, role: 'progressbar', 'aria-valuenow': p, 'data-percent': p },
    el('div', { style: 'width:' + p + '%' }));
}

function time(ts) {
  if (!ts) return '–';
  // 2026-12-01T08:40:42.123Z -> 2026-12-01 08:40:42 UTC
  return String(ts).replace('T', ' ').replace(/\.\d+Z$/, ' UTC').replace(/Z$/, ' UTC');
}

function can(role) {
  return (ROLES[state.role] || 0) >= ROLES[role];
}

function flash(message, kind) {
  const box = document.getElementById('flash');
  if (!message) { box.hidden = true; box.textContent = ''; return; }
  box.className = kind === 'info' ? 'info' : '';
  box.textContent = message;
  box.hidden = false;
}

// Runs `fn` every `ms` while `owner` (a page's container) is on the page: a page drawn
// late, after the operator went elsewhere, stops its own timers.
function every(ms, fn, owner) {
  const id = setInterval(() => {
    if (owner && !owner.isConnected) { clearInterval(id); return; }
    fn();
  }, ms);
  state.timers.push(id);
}

class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || ('the server answered ' + status));
    this.status = status;
    this.code = body && body.code;
    this.body = body || {};
  }
}

async function api(method, path, body, contentType) {
  return (await request(method, path, body, contentType)).data;
}

// The answer's JSON and its headers.
async function request(method, path, body, contentType) {
  const headers = {};
  if (state.token) headers.Authorization = 'Bearer ' + state.token;
  let payload;
  if (body !== undefined) {
    if (contentType) { headers['Content-Type'] = contentType; payload = body; }
    else { headers['Content-Type'] = 'application/json'; payload = JSON.stringify(body); }
  }
  let resp;
  try {
    resp = await fetch(path, { method, headers, body: payload });
  } catch (e) {
    throw new ApiError(0, { code: 'network', message: 'the server cannot be reached: ' + e.message });
  }
  const text = await resp.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (_) { data = { message: text }; }
  if (!resp.ok) {
    const err = new ApiError(resp.status, data);
    if (resp.status === 401 && path !== '/api/v1/login') {
      signOut('Your session has ended: sign in again.');
    }
    throw err;
  }
  return { data, headers: resp.headers };
}

function signOut(message) {
  sessionStorage.removeItem('changeover.token');
  sessionStorage.removeItem('changeover.name');
  sessionStorage.removeItem('changeover.role');
  state.token = state.name = state.role = null;
  location.hash = '#/login';
  if (message) flash(message, 'info');
}

// ------------------------------------------------------------------- maintenance mode

async function refreshMaintenance() {
  if (!state.token) return;
  try {
    state.maintenance = await api('GET', '/api/v1/maintenance');
  } catch (_) { return; }
  const banner = document.getElementById('maintenance-banner');
  const m = state.maintenance;
  if (!m.on) { banner.hidden = true; banner.textContent = ''; return; }
  const a = m.announcement || {};
  banner.replaceChildren(
    el('strong', {}, 'Maintenance mode'),
    ' — the platform is being upgraded',
    m.upgrade_id ? el('span', {}, ' (', el('a', { href: '#/upgrade/' + encodeURIComponent(m.upgrade_id) }, m.upgrade_id), ')') : '',
    '. ',
    el('span', { id: 'ann-completion' }, 'Estimated completion: ' + (a.estimated_completion || 'not announced')), '. ',
    el('span', { id: 'ann-contact' }, 'Contact: ' + ([a.contact_email, a.contact_phone].filter(Boolean).join(', ') || 'not announced')), '.');
  banner.hidden = false;
}

function maintenanceReason() {
  if (!state.maintenance.on) return null;
  return 'Disabled during maintenance mode (upgrade ' + (state.maintenance.upgrade_id || '?') +
    '): version uploads and user changes wait until the upgrade exits maintenance mode.';
}

