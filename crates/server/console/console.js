// The changeover web console: one page, drawn from /api/v1 with the caller's token.
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
  return data;
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

// ------------------------------------------------------------------------------ router

const routes = [
  [/^#\/login$/, pageLogin],
  [/^#\/records$/, pageRecords],
  [/^#\/wizard$/, pageWizard],
  [/^#\/upgrade\/([^/]+)(?:\/([a-z_]+))?$/, pageUpgrade],
  [/^#\/verification$/, pageVerification],
  [/^#\/versions$/, pageVersions],
  [/^#\/users$/, pageUsers],
  [/^#\/audit$/, pageAudit],
];

async function render() {
  for (const t of state.timers) clearInterval(t);
  state.timers = [];
  state.selected = new Set();
  const hash = location.hash || '#/records';
  const signedIn = !!state.token;
  document.getElementById('nav').hidden = !signedIn;
  document.getElementById('logout').hidden = !signedIn;
  document.getElementById('who').textContent = signedIn ? state.name + ' (' + state.role + ')' : '';
  if (!signedIn && hash !== '#/login') { location.hash = '#/login'; return; }
  if (!signedIn) document.getElementById('maintenance-banner').hidden = true;
  for (const a of document.querySelectorAll('#nav a')) {
    a.classList.toggle('current', hash.startsWith('#/' + a.dataset.nav));
  }
  // Each render draws into its own container: a slower earlier render (its fetches still
  // under way) finishes into a detached one and never over the current page.
  const view = el('div', { class: 'page' });
  document.getElementById('view').replaceChildren(view);
  for (const [re, page] of routes) {
    const m = hash.match(re);
    if (m) {
      if (signedIn) {
        await refreshMaintenance();
        every(MAINTENANCE_POLL_MS, refreshMaintenance, view);
      }
      try {
        await page(view, ...m.slice(1).map((s) => (s === undefined ? s : decodeURIComponent(s))));
      } catch (e) {
        view.replaceChildren(el('h1', {}, 'Something went wrong'), el('p', { class: 'error', id: 'page-error' }, e.message));
      }
      return;
    }
  }
  view.replaceChildren(el('h1', {}, 'No such page'), el('p', {}, el('a', { href: '#/records' }, 'Back to the upgrade records')));
}

// ------------------------------------------------------------------------------- login

async function pageLogin(view) {
  const name = el('input', { type: 'text', id: 'login-name', autocomplete: 'username', required: true });
  const password = el('input', { type: 'password', id: 'login-password', autocomplete: 'current-password', required: true });
  const error = el('p', { class: 'error', id: 'login-error' });
  const form = el('form', { id: 'login-form', class: 'card' },
    el('label', { for: 'login-name' }, 'User name'), name,
    el('label', { for: 'login-password' }, 'Password'), password,
    el('p', {}, el('button', { type: 'submit', class: 'primary', id: 'login-submit' }, 'Log in')),
    error);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    error.textContent = '';
    try {
      const who = await api('POST', '/api/v1/login', { name: name.value, password: password.value });
      sessionStorage.setItem('changeover.token', who.token);
      sessionStorage.setItem('changeover.name', who.name);
      sessionStorage.setItem('changeover.role', who.role);
      Object.assign(state, { token: who.token, name: who.name, role: who.role });
      flash(null);
      location.hash = '#/records';
    } catch (e) {
      error.textContent = e.message;
      password.value = '';
    }
  });
  view.replaceChildren(el('h1', {}, 'Sign in to changeover'), form);
  name.focus();
}

// ----------------------------------------------------------------------------- records

function milestoneCells(r) {
  const m = (r && r.milestones) || {};
  return [
    el('td', {}, time(m.started_at || m.created_at)),
    el('td', {}, time(m.entered_maintenance_at)),
    el('td', {}, time(m.maintenance_exited_at || m.dispatch_resumed_at)),
    el('td', {}, time(m.completed_at || m.force_completed_at || m.terminated_at || m.rolled_back_at)),
  ];
}

function statusLabel(r) {
  if (r.status === 'force_terminated') return 'force-terminated (marked ' + r.mark + ')';
  return String(r.status).replace(/_/g, ' ');
}

async function pageRecords(view) {
  const summaries = await api('GET', '/api/v1/upgrades');
  const records = await Promise.all(summaries.slice(0, 50).map((s) =>
    api('GET', '/api/v1/upgrades/' + encodeURIComponent(s.id)).catch(() => null)));
  const active = summaries.find((s) => s.active);
  const rows = summaries.map((s, i) => {
    const r = records[i];
    const status = r ? r.status : s.status;
    return el('tr', { 'data-id': s.id, 'data-status': status },
      el('td', {}, el('a', { href: '#/upgrade/' + encodeURIComponent(s.id) }, s.id)),
      el('td', { class: 'status' }, badge(r ? statusLabel(r) : s.status, status)),
      el('td', { class: 'from' }, s.from_version),
      el('td', { class: 'to' }, s.to_version),
      el('td', { class: 'mode' }, r ? MODE_WORDS[r.mode] || r.mode : s.mode),
      ...milestoneCells(r),
      el('td', {}, status === 'configuring' ? el('a', { href: '#/upgrade/' + encodeURIComponent(s.id) }, 'Continue upgrade') : ''));
  });
  const start = el('button', {
    class: 'primary', id: 'start-upgrade', type: 'button',
    disabled: !!active || !can('operator'),
    onclick: () => { location.hash = '#/wizard'; },
  }, 'Upgrade…');
  const why = active ? 'Upgrade ' + active.id + ' is ' + active.status + ': only one upgrade at a time.'
    : (!can('operator') ? 'Starting an upgrade needs the operator role.' : null);
  view.replaceChildren(
    el('h1', {}, 'Upgrade records'),
    el('p', {}, start, why ? el('span', { class: 'disabled-reason', id: 'start-reason' }, why) : ''),
    summaries.length === 0 ? el('p', { class: 'muted', id: 'no-records' }, 'No upgrade yet.') :
      el('table', { id: 'records' },
        el('thead', {}, el('tr', {}, ['ID', 'Status', 'From', 'To', 'Mode', 'Started', 'Entered maintenance', 'Exited maintenance', 'Ended', ''].map((h) => el('th', {}, h)))),
        el('tbody', {}, rows)));
}

// ------------------------------------------------------------------------------ wizard

async function pageWizard(view) {
  const catalog = await api('GET', '/api/v1/versions');
  const target = el('select', { id: 'wizard-target' },
    el('option', { value: '' }, '— choose the target version —'),
    catalog.map((v) => el('option', { value: v.version }, v.version + ' (' + v.platform + ')')));
  const modes = el('div', { class: 'modes', id: 'wizard-modes' }, el('p', { class: 'muted' }, 'Choose a target version to see the modes it allows.'));
  const current = el('p', { id: 'wizard-current', class: 'muted' });
  const completion = el('input', { type: 'text', id: 'wizard-completion', placeholder: 'YYYY-MM-DD hh:mm' });
  const email = el('input', { type: 'email', id: 'wizard-email', placeholder: 'ops@example.com' });
  const phone = el('input', { type: 'text', id: 'wizard-phone', placeholder: '+49 30 1234567' });
  const risk = el('input', { type: 'checkbox', id: 'wizard-risk' });
  const error = el('div', { class: 'error', id: 'wizard-error' });
  const save = el('button', { type: 'button', id: 'wizard-save' }, 'Save');
  const enter = el('button', { type: 'button', class: 'primary', id: 'wizard-enter' }, 'Enter maintenance mode');
  let compat = null;

  function chosenMode() {
    const r = modes.querySelector('input[name=mode]:checked');
    return r ? r.value : null;
  }
  function relabel() {
    enter.textContent = chosenMode() === 'zero' ? 'Start upgrade' : 'Enter maintenance mode';
  }
  target.addEventListener('change', async () => {
    error.textContent = '';
    compat = null;
    if (!target.value) { modes.replaceChildren(); return; }
    try {
      compat = await api('GET', '/api/v1/compatibility?to=' + encodeURIComponent(target.value));
    } catch (e) {
      modes.replaceChildren(el('p', { class: 'error', id: 'wizard-compat-error' }, e.message));
      return;
    }
    current.textContent = 'The platform runs ' + compat.current + '; target ' + compat.target + '.';
    // offered: for each mode that may be requested, the mode that runs and why it differs.
    const notes = {};
    for (const o of compat.offered || []) if (o.note) notes[o.requested] = o.note;
    modes.replaceChildren(...compat.modes.map((m) => {
      const input = el('input', { type: 'radio', name: 'mode', value: m.mode, id: 'mode-' + m.mode, disabled: !m.allowed, onchange: relabel });
      return el('label', { class: 'mode' + (m.allowed ? ' allowed' : ' refused'), 'data-mode': m.mode, 'data-allowed': String(m.allowed) },
        input, ' ', MODE_WORDS[m.mode] || m.mode, m.allowed ? ' — allowed' : ' — not allowed',
        m.reason ? el('span', { class: 'reason' }, m.reason) : '',
        notes[m.mode] && notes[m.mode] !== m.reason ? el('span', { class: 'reason' },
          m.reason && notes[m.mode].startsWith(m.reason) ? 'If requested: ' + notes[m.mode].slice(m.reason.length).replace(/^[:;,]\s*/, '') : notes[m.mode]) : '');
    }));
    if (!chosenMode()) {
      const first = modes.querySelector('input:not([disabled])');
      if (first) first.checked = true;
    }
    relabel();
  });

  async function submit(saveOnly) {
    error.textContent = '';
    const problems = [];
    if (!target.value) problems.push('choose the target version');
    if (!chosenMode()) problems.push('choose an allowed upgrade mode');
    if (completion.value && !/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}$/.test(completion.value)) {
      problems.push('estimated completion must be written YYYY-MM-DD hh:mm (e.g. 2026-12-01 22:30)');
    }
    if (!risk.checked && !saveOnly) problems.push('acknowledge the risk statement');
    if (problems.length) { error.textContent = 'Cannot continue: ' + problems.join('; ') + '.'; return; }
    const body = {
      to: target.value, mode: chosenMode(), accept_risk: risk.checked, save_only: saveOnly,
    };
    if (completion.value) body.estimated_completion = completion.value;
    if (email.value) body.contact_email = email.value;
    if (phone.value) body.contact_phone = phone.value;
    save.disabled = enter.disabled = true;
    try {
      const record = await api('POST', '/api/v1/upgrades', body);
      location.hash = '#/upgrade/' + encodeURIComponent(record.id);
    } catch (e) {
      error.textContent = e.message;
      save.disabled = enter.disabled = false;
    }
  }
  save.addEventListener('click', () => submit(true));
  enter.addEventListener('click', () => submit(false));
  if (!can('operator')) {
    save.disabled = enter.disabled = true;
    error.textContent = 'Starting an upgrade needs the operator role; you are ' + state.role + '.';
  }

  view.replaceChildren(
    el('h1', {}, 'Upgrade the platform'),
    el('div', { class: 'card' },
      el('h2', {}, '1. Target version and mode'),
      el('label', { for: 'wizard-target' }, 'Target version'), target, current,
      el('label', {}, 'Upgrade mode'), modes,
      el('p', { class: 'muted' }, 'Missing a version? ', el('a', { href: '#/versions' }, 'Upload its version configuration'), '.')),
    el('div', { class: 'card' },
      el('h2', {}, '2. Maintenance announcement'),
      el('label', { for: 'wizard-completion' }, 'Estimated completion (YYYY-MM-DD hh:mm)'), completion,
      el('label', { for: 'wizard-email' }, 'Contact email'), email,
      el('label', { for: 'wizard-phone' }, 'Contact phone'), phone),
    el('div', { class: 'card' },
      el('h2', {}, '3. Risk statement'),
      el('p', {}, 'Entering maintenance mode closes the console to every other operation until the upgrade exits it; ' +
        'dispatching is paused while applications are upgraded. Make sure you have read the release notes and have a backup plan.'),
      el('label', { class: 'inline' }, risk, ' I have read the risk statement and accept it'),
      el('p', {}, save, enter), error));
}

// ------------------------------------------------------------------------- step pages

function currentStep(r) {
  if (r.exit) return r.exit.steps[r.exit.cursor] || null;
  return r.steps[r.cursor] || null;
}

function stepPercent(step) {
  if (!step.items.length) return (step.phase === 'done' || step.phase === 'skipped') ? 100 : 0;
  const settled = step.items.filter((i) => i.state === 'succeeded' || i.state === 'skipped').length;
  return (settled * 100) / step.items.length;
}

function recordPercent(r) {
  if (!r.steps.length) return 100;
  return (r.steps.filter((s) => s.phase === 'done' || s.phase === 'skipped').length * 100) / r.steps.length;
}

function phaseText(step) {
  const label = String(step.phase).replace(/_/g, ' ');
  if (step.phase === 'skipped') return step.risk_accepted ? 'skipped (risk accepted)' : 'skipped';
  return step.reason ? label + ': ' + step.reason : label;
}

function isActive(r) {
  return r.status === 'configuring' || r.status === 'upgrading';
}

// Which actions the record allows on the step shown (mirrors changeover_core's rules; the
// server decides, so a refused action shows the server's reason).
function allowedActions(r, step, isCurrent) {
  const a = [];
  const operator = can('operator');
  const admin = can('admin');
  if (r.status === 'configuring') {
    if (operator) a.push('start', 'terminate');
  } else if (r.status === 'upgrading') {
    if (operator && isCurrent && step) {
      if (['pending', 'done', 'skipped'].includes(step.phase)) a.push('next');
      if (['failed', 'needs_operator'].includes(step.phase)) a.push('retry');
      if (SKIPPABLE.has(step.kind) && !['done', 'skipped'].includes(step.phase)) a.push('skip');
      if (step.kind === 'force_terminate_tasks') a.push('tasks-terminate');
      if (step.kind === 'rerun_tasks') a.push('tasks-rerun');
    }
    // Every step settled: "Complete" records the completion time.
    if (operator && r.cursor >= r.steps.length && !r.exit) a.push('complete');
    if (operator && step && step.kind === 'data_update') {
      const du = r.steps.find((s) => s.kind === 'data_update');
      if (du && du.phase !== 'pending') a.push('data-updates');
    }
    const downtime = r.steps.some((s) => DOWNTIME_STEPS.has(s.kind) && s.phase !== 'pending');
    if (operator && !downtime) a.push('terminate');
  }
  if (admin && ['upgrading', 'terminating', 'rolling_back'].includes(r.status)) a.push('force-terminate');
  if (admin && ['succeeded', 'failed', 'force_terminated'].includes(r.status)) a.push('rollback');
  return a;
}

function nextLabel(r, step) {
  if (step.kind === 'enter_maintenance' && step.phase === 'pending') return 'Enter maintenance mode';
  if (step.phase === 'pending') return 'Start ' + (STEP_TITLES[step.kind] || step.kind).toLowerCase();
  const inMaintenance = !!r.milestones.entered_maintenance_at && !r.milestones.maintenance_exited_at;
  if (step.kind === 'upgrade_applications' && inMaintenance && step.phase === 'done') return 'Exit maintenance mode and next';
  return 'Next';
}

function renderActions(r, step, isCurrent, onDone) {
  const box = el('div', { class: 'actions', id: 'actions' });
  const error = el('p', { class: 'error', id: 'action-error' });
  const allowed = allowedActions(r, step, isCurrent);
  const base = '/api/v1/upgrades/' + encodeURIComponent(r.id);
  async function act(path, body, button) {
    error.textContent = '';
    if (button) button.disabled = true;
    try {
      await api('POST', base + path, body);
      flash(null);
      await onDone();
    } catch (e) {
      error.textContent = e.message;
      if (button) button.disabled = false;
    }
  }
  function button(id, label, cls, handler) {
    const b = el('button', { type: 'button', id, class: cls || '' }, label);
    b.addEventListener('click', () => handler(b));
    return b;
  }
  const selected = () => [...state.selected];
  const row = (...c) => el('p', {}, ...c);

  if (allowed.includes('start')) {
    box.append(row(button('act-start', r.mode === 'zero' ? 'Start upgrade' : 'Enter maintenance mode', 'primary', (b) => act('/next', {}, b))));
  }
  if (allowed.includes('next')) box.append(row(button('act-next', nextLabel(r, step), 'primary', (b) => act('/next', {}, b))));
  if (allowed.includes('complete')) box.append(row(button('act-complete', 'Complete', 'primary', (b) => act('/next', {}, b))));
  if (allowed.includes('retry')) box.append(row(button('act-retry', 'Retry', 'primary', (b) => act('/retry', {}, b))));
  if (allowed.includes('tasks-terminate')) {
    box.append(row(
      button('act-tasks-terminate', 'Forcibly terminate selected', '', (b) => act('/tasks', { action: 'terminate', ids: selected() }, b)),
      button('act-tasks-terminate-all', 'Forcibly terminate all tasks', 'danger', (b) => act('/tasks', { action: 'terminate', all: true }, b))));
  }
  if (allowed.includes('tasks-rerun')) {
    box.append(row(
      button('act-tasks-rerun', 'Re-run selected', '', (b) => act('/tasks', { action: 'rerun', ids: selected() }, b)),
      button('act-tasks-rerun-all', 'Re-run all', '', (b) => act('/tasks', { action: 'rerun', all: true }, b))));
  }
  if (allowed.includes('data-updates')) {
    box.append(row(
      button('act-du-run', 'Run selected', '', (b) => act('/data-updates', { action: 'run', names: selected() }, b)),
      button('act-du-run-all', 'Run all', '', (b) => act('/data-updates', { action: 'run', all: true }, b)),
      button('act-du-skip', 'Skip selected', '', (b) => act('/data-updates', { action: 'skip', names: selected() }, b)),
      button('act-du-stop', 'Stop selected', 'danger', (b) => act('/data-updates', { action: 'stop', names: selected() }, b))));
  }
  if (allowed.includes('skip')) {
    const risk = el('input', { type: 'checkbox', id: 'skip-risk' });
    box.append(row(el('label', { class: 'inline' }, risk, ' I accept the risk of skipping this step'), ' ',
      button('act-skip', 'Skip', '', (b) => {
        if (!risk.checked) { error.textContent = 'Skipping this step is a risk you must acknowledge: tick the box first.'; return; }
        act('/skip', { accept_risk: true }, b);
      })));
  }
  if (allowed.includes('terminate')) {
    const rerun = el('input', { type: 'checkbox', id: 'terminate-rerun' });
    box.append(row(button('act-terminate', r.status === 'configuring' ? 'Abandon' : 'Terminate upgrade', 'danger',
      (b) => act('/terminate', { rerun: rerun.checked }, b)), ' ',
    r.steps.some((s) => s.kind === 'force_terminate_tasks') && r.status !== 'configuring'
      ? el('label', { class: 'inline' }, rerun, ' re-run the force-terminated instances') : ''));
  }
  if (allowed.includes('force-terminate')) {
    const mark = el('select', { id: 'force-mark' }, el('option', { value: 'failed' }, 'mark failed'), el('option', { value: 'succeeded' }, 'mark succeeded'));
    box.append(row(button('act-force-terminate', 'Forcibly terminate upgrade', 'danger', (b) => {
      if (!confirm('Forced termination prevents self-healing and may leave the platform unavailable. Continue?')) return;
      act('/force-terminate', { mark: mark.value }, b);
    }), ' ', mark));
  }
  if (allowed.includes('rollback')) {
    box.append(row(button('act-rollback', 'Roll back', 'danger', (b) => {
      if (!confirm('Stop the target version and restore every metadata database from this upgrade\'s backups?')) return;
      act('/rollback', {}, b);
    })));
  }
  if (!allowed.length) {
    const why = !isActive(r) && r.status !== 'terminating' && r.status !== 'rolling_back'
      ? 'This upgrade has ended (' + statusLabel(r) + '); nothing more to do here.'
      : (!isCurrent ? 'This is not the current step; actions are on the current step\'s page.'
        : (!can('operator') ? 'Acting on an upgrade needs the operator role; you are ' + state.role + '.'
          : 'Nothing to do now: the step is ' + (step ? phaseText(step) : 'settled') + '.'));
    box.append(el('p', { class: 'muted', id: 'no-actions' }, why));
  }
  box.append(error);
  box.dataset.allowed = allowed.join(' ');
  return box;
}

function factText(item) {
  const facts = item.facts || {};
  return Object.keys(facts).filter((k) => !/secret|password|token/i.test(k))
    .map((k) => k + '=' + facts[k]).join(' ');
}

function renderItems(r, step, isCurrent) {
  if (!step.items.length) return el('p', { class: 'muted', id: 'items' }, 'No item yet.');
  const selectable = isCurrent && r.status === 'upgrading' && can('operator') &&
    ['force_terminate_tasks', 'rerun_tasks', 'data_update'].includes(step.kind);
  return el('table', { id: 'items' },
    el('thead', {}, el('tr', {}, selectable ? el('th', {}, '') : null, el('th', {}, 'Item'), el('th', {}, 'State'), el('th', {}, 'Details'), el('th', {}, 'Started'), el('th', {}, 'Finished'))),
    el('tbody', {}, step.items.map((i) => {
      const box = selectable ? el('input', { type: 'checkbox', 'data-item': i.name, checked: state.selected.has(i.name) }) : null;
      if (box) box.addEventListener('change', () => { if (box.checked) state.selected.add(i.name); else state.selected.delete(i.name); });
      return el('tr', { 'data-item': i.name, 'data-state': i.state },
        selectable ? el('td', {}, box) : null,
        el('td', {}, i.name), el('td', {}, badge(i.state)),
        el('td', {}, [i.reason, factText(i)].filter(Boolean).join(' — ')),
        el('td', {}, time(i.started_at)), el('td', {}, time(i.finished_at)));
    })));
}

// The step's lines, and the upgrade-wide lines written while the step ran (dispatch
// resumed, maintenance mode off, …). Timestamps are ISO text in UTC: they sort as text.
function renderLog(r, step) {
  const kind = step.kind;
  const from = step.started_at;
  const to = step.finished_at;
  const lines = r.log.filter((l) => l.step === kind ||
    (l.step === null && from && l.at >= from && (!to || l.at <= to)));
  return el('pre', { class: 'log', id: 'step-log' }, lines.length ? lines.map((l) =>
    el('div', { class: 'lvl-' + l.level }, time(l.at) + '  ' + l.level.toUpperCase().padEnd(5) + '  ' + l.message)) : 'No log line yet.');
}

async function pageUpgrade(view, id, shownKind) {
  let lastActions = '';
  let lastKind = null;
  let actionsBox = null;
  const header = el('div', { id: 'record-header' });
  const stepper = el('ol', { class: 'stepper', id: 'stepper' });
  const section = el('section', { class: 'card', id: 'step' });
  const extra = el('div', { id: 'step-extra' });
  view.replaceChildren(header, stepper, section, extra);

  async function refresh() {
    let r;
    try {
      r = await api('GET', '/api/v1/upgrades/' + encodeURIComponent(id));
    } catch (e) {
      section.replaceChildren(el('p', { class: 'error', id: 'page-error' }, e.message));
      return;
    }
    // The announcement follows the record at once, not at the next maintenance poll.
    const inMaintenance = !!r.milestones.entered_maintenance_at && !r.milestones.maintenance_exited_at;
    if (inMaintenance !== !!state.maintenance.on) await refreshMaintenance();
    const cur = currentStep(r);
    const all = r.steps.concat(r.exit ? r.exit.steps : []);
    // Following: the current step, else the last one that ran (an exit plan's last step
    // after a terminate or rollback).
    const step = shownKind ? (all.find((s) => s.kind === shownKind) || null) : (cur || all[all.length - 1]);
    const isCurrent = !!step && !!cur && step === cur;
    const following = !shownKind;
    // Chosen items belong to one step: forget them when the page moves on.
    if (step && step.kind !== lastKind) { state.selected = new Set(); lastKind = step.kind; }

    header.replaceChildren(
      el('h1', {}, 'Upgrade ', el('span', { id: 'record-id' }, r.id), ' ',
        badge(statusLabel(r), r.status)),
      el('p', { id: 'record-summary' }, r.platform + ' ' + r.from_version + ' → ' + r.to_version + ', ' + (MODE_WORDS[r.mode] || r.mode) +
        (r.auto_advance ? ' (decisions taken automatically)' : '')),
      progress(recordPercent(r), 'record-progress'));
    header.dataset.status = r.status;

    stepper.replaceChildren(...all.map((s, i) => el('li', {
      class: (s === cur ? 'current ' : '') + (s === step ? 'shown' : ''), 'data-kind': s.kind, 'data-phase': s.phase,
    }, el('a', { href: '#/upgrade/' + encodeURIComponent(r.id) + '/' + s.kind },
      (i + 1) + '. ' + (STEP_TITLES[s.kind] || s.kind) + ' ', badge(String(s.phase).replace(/_/g, ' '), s.phase)))));

    if (!step) {
      section.replaceChildren(el('p', {}, 'This upgrade has no step ' + shownKind + '.'));
      return;
    }
    section.dataset.step = step.kind;
    section.dataset.phase = step.phase;
    section.dataset.current = String(isCurrent);
    const parts = [
      el('h2', { id: 'step-title' }, STEP_TITLES[step.kind] || step.kind),
      el('p', { id: 'step-phase' }, 'State: ', badge(phaseText(step), step.phase),
        following ? el('span', { class: 'muted' }, '  (following the current step)') : '',
        !isCurrent && cur && isActive(r) ? [' ', el('a', { href: '#/upgrade/' + encodeURIComponent(r.id) }, 'go to the current step')] : ''),
      progress(stepPercent(step), 'step-progress'),
      el('p', { class: 'muted', id: 'step-times' }, 'Started ' + time(step.started_at) + ', finished ' + time(step.finished_at) + ', attempts ' + step.attempts),
      el('h2', {}, 'Items'), renderItems(r, step, isCurrent),
      el('h2', {}, 'Log'), renderLog(r, step),
    ];
    // The actions keep their inputs (risk boxes, marks) unless what is allowed changes.
    const signature = allowedActions(r, step, isCurrent).join(' ') + '|' + step.kind + '|' + step.phase;
    if (signature !== lastActions || !actionsBox) {
      actionsBox = renderActions(r, step, isCurrent, refresh);
      lastActions = signature;
    }
    section.replaceChildren(...parts, actionsBox);
    const logBox = section.querySelector('#step-log');
    logBox.scrollTop = logBox.scrollHeight;

    if (step.kind === 'verify' && r.verification) {
      extra.replaceChildren(el('section', { class: 'card', id: 'recorded-verification' },
        el('h2', {}, 'Recorded verification'), renderReport(r.verification, null)));
    } else {
      extra.replaceChildren();
    }
  }
  await refresh();
  every(POLL_MS, refresh, view);
}

// ----------------------------------------------------------------------- verification

function donut(distribution) {
  const entries = Object.entries(distribution || {}).filter(([, n]) => n > 0);
  const total = entries.reduce((a, [, n]) => a + n, 0);
  const size = 180, r = 70, stroke = 26, c = 2 * Math.PI * r;
  const chart = svg('svg', { width: size, height: size, viewBox: '0 0 ' + size + ' ' + size, id: 'donut', role: 'img', 'aria-label': 'status distribution' });
  chart.append(svg('circle', { cx: size / 2, cy: size / 2, r, fill: 'none', stroke: '#e6eaef', 'stroke-width': stroke }));
  let offset = 0;
  entries.forEach(([status, n], i) => {
    const len = (n / total) * c;
    chart.append(svg('circle', {
      cx: size / 2, cy: size / 2, r, fill: 'none', stroke: colorOf(status, i), 'stroke-width': stroke,
      'stroke-dasharray': len + ' ' + (c - len), 'stroke-dashoffset': -offset,
      transform: 'rotate(-90 ' + size / 2 + ' ' + size / 2 + ')', 'data-status': status, 'data-count': n,
    }, svg('title', {}, status + ': ' + n)));
    offset += len;
  });
  chart.append(svg('text', { x: size / 2, y: size / 2 + 6, 'text-anchor': 'middle', 'font-size': 20, 'font-weight': 'bold' }, String(total)));
  return chart;
}

function colorOf(status, i) {
  return STATUS_COLORS[String(status).toLowerCase()] || EXTRA_COLORS[i % EXTRA_COLORS.length];
}

function legend(statuses) {
  return el('p', { class: 'legend' }, statuses.map((s, i) => el('span', {}, el('i', { style: 'background:' + colorOf(s, i) }), s)));
}

// days: [{date, distribution}] oldest first.
function columns(days) {
  const statuses = [...new Set(days.flatMap((d) => Object.keys(d.distribution || {})))].sort();
  const totals = days.map((d) => Object.values(d.distribution || {}).reduce((a, n) => a + n, 0));
  const max = Math.max(1, ...totals);
  const w = 460, h = 200, pad = 30, bw = (w - pad) / days.length;
  const chart = svg('svg', { width: w, height: h + 40, viewBox: '0 0 ' + w + ' ' + (h + 40), id: 'columns', role: 'img', 'aria-label': 'instances per status, last 7 days' });
  chart.append(svg('line', { x1: pad, y1: h, x2: w, y2: h, stroke: '#8c959f' }));
  chart.append(svg('text', { x: pad - 4, y: 12, 'text-anchor': 'end', 'font-size': 10 }, String(max)));
  days.forEach((d, i) => {
    let y = h;
    const x = pad + i * bw + bw * 0.15;
    const g = svg('g', { 'data-date': d.date, 'data-total': totals[i] });
    statuses.forEach((s, si) => {
      const n = (d.distribution || {})[s] || 0;
      if (!n) return;
      const bh = (n / max) * (h - 16);
      y -= bh;
      g.append(svg('rect', { x, y, width: bw * 0.7, height: bh, fill: colorOf(s, si), 'data-status': s }, svg('title', {}, d.date + ' ' + s + ': ' + n)));
    });
    g.append(svg('text', { x: x + bw * 0.35, y: y - 3, 'text-anchor': 'middle', 'font-size': 10 }, String(totals[i])));
    g.append(svg('text', { x: x + bw * 0.35, y: h + 14, 'text-anchor': 'middle', 'font-size': 10 }, String(d.date).slice(5)));
    chart.append(g);
  });
  return el('div', {}, chart, legend(statuses));
}

function recentText(recent) {
  if (!recent || recent.kind === 'pending') return 'Pending';
  return recent.count + ' (business date ' + recent.business_date + ')';
}

function averageText(avg) {
  if (!avg || avg.kind === 'NA') return 'NA';
  return avg.per_day.toFixed(1) + ' per day over ' + avg.days + ' day(s)';
}

function failedTable(list) {
  if (!list.length) return el('p', { class: 'muted', id: 'failed-list' }, 'No instance failed today that succeeded yesterday.');
  return el('table', { id: 'failed-list' },
    el('thead', {}, el('tr', {}, ['Instance', 'Node', 'Task', 'Node type', 'Scheduling', 'Last update', 'Status'].map((t) => el('th', {}, t)))),
    el('tbody', {}, list.map((f) => el('tr', { 'data-instance': f.instance_id },
      [f.instance_id, f.node_id, f.task_name, f.node_type, f.schedule_type, f.updated_at, f.status].map((v) => el('td', {}, v))))));
}

// The figures, the donut and the verdict of one report; `days` adds the 7-day columns.
function renderReport(report, days) {
  const passed = report.overrule ? report.overrule.passed : report.verdict.passed;
  return el('div', { class: 'report' },
    el('div', { class: 'grid' },
      el('div', { class: 'card' }, el('h2', {}, 'Instance count'),
        el('div', { class: 'figure', id: 'recent-count' }, recentText(report.recent)),
        el('p', {}, '7-day average (T-8 to T-2): ', el('strong', { id: 'average' }, averageText(report.average)))),
      el('div', { class: 'card' }, el('h2', {}, 'Status distribution, ' + report.distribution_date),
        donut(report.distribution), legend(Object.keys(report.distribution || {})),
        Object.keys(report.distribution || {}).length ? '' : el('p', { class: 'muted', id: 'no-distribution' }, 'No instance on this business date.')),
      el('div', { class: 'card' }, el('h2', {}, 'Verdict'),
        el('p', { id: 'verdict', class: passed ? 'verdict-passed' : 'verdict-failed', 'data-passed': String(passed) }, passed ? 'Passed' : 'Failed'),
        report.verdict.reasons.length ? el('ul', { id: 'verdict-reasons' }, report.verdict.reasons.map((x) => el('li', {}, x))) : '',
        report.overrule ? el('p', {}, 'Overruled by the operator: ' + report.overrule.reason) : '')),
    days ? el('div', { class: 'card' }, el('h2', {}, 'Instances per status, last 7 days'), columns(days)) : '',
    el('div', { class: 'card' }, el('h2', {}, 'Failed today, succeeded yesterday'), failedTable(report.failed_today_succeeded_yesterday || [])));
}

function isoDaysBefore(iso, n) {
  const d = new Date(iso + 'T00:00:00Z');
  d.setUTCDate(d.getUTCDate() - n);
  return d.toISOString().slice(0, 10);
}

async function pageVerification(view) {
  const date = el('input', { type: 'date', id: 'verify-date' });
  const tenant = el('input', { type: 'text', id: 'verify-tenant', placeholder: 'all tenants' });
  const body = el('div', { id: 'verification' }, el('p', { class: 'muted' }, 'Loading…'));
  const stamp = el('p', { class: 'muted', id: 'verify-stamp' });
  function query(day) {
    const q = [];
    if (day) q.push('date=' + encodeURIComponent(day));
    if (tenant.value) q.push('tenant=' + encodeURIComponent(tenant.value));
    return '/api/v1/verification' + (q.length ? '?' + q.join('&') : '');
  }
  async function load() {
    let report;
    try {
      report = await api('GET', query(date.value));
    } catch (e) {
      body.replaceChildren(el('p', { class: 'error', id: 'page-error' }, e.message));
      return;
    }
    let days = report.last_seven_days || null;
    if (!days) {
      // A report carries one day's distribution (T-1 of its date): ask for the six days before too.
      const today = report.today;
      const others = await Promise.all([1, 2, 3, 4, 5, 6].map((n) =>
        api('GET', query(isoDaysBefore(today, n))).catch(() => null)));
      days = [...others.reverse(), report].filter(Boolean)
        .map((r) => ({ date: r.distribution_date, distribution: r.distribution }));
    }
    body.replaceChildren(renderReport(report, days));
    stamp.textContent = 'Today is ' + report.today + '; refreshed ' + new Date().toISOString().slice(11, 19) + ' UTC, every 20 seconds.';
  }
  date.addEventListener('change', load);
  tenant.addEventListener('change', load);
  view.replaceChildren(el('h1', {}, 'Verify the upgrade result'),
    el('p', {}, el('label', { class: 'inline', for: 'verify-date' }, 'Date '), date, ' ',
      el('label', { class: 'inline', for: 'verify-tenant' }, 'Tenant '), tenant), stamp, body);
  await load();
  every(FAILED_LIST_MS, load, view);
}

// --------------------------------------------------------------------------- versions

// `notice`: the outcome of the upload that drew this page again (kept on the page).
async function pageVersions(view, notice) {
  const catalog = await api('GET', '/api/v1/versions');
  const file = el('input', { type: 'file', id: 'upload-file', accept: '.yaml,.yml,.zip' });
  const overwrite = el('input', { type: 'checkbox', id: 'upload-overwrite' });
  const upload = el('button', { type: 'button', class: 'primary', id: 'upload-submit' }, 'Upload version configuration');
  const result = el('div', { id: 'upload-result' }, notice || '');
  const blocked = maintenanceReason() || (!can('admin') ? 'Uploading a version needs the admin role; you are ' + state.role + '.' : null);
  if (blocked) { upload.disabled = true; file.disabled = true; }
  upload.addEventListener('click', async () => {
    result.replaceChildren();
    const f = file.files[0];
    if (!f) { result.append(el('p', { class: 'error' }, 'Choose a YAML or ZIP file first.')); return; }
    const zip = /\.zip$/i.test(f.name);
    const bytes = await f.arrayBuffer();
    try {
      const out = await api('POST', '/api/v1/versions' + (overwrite.checked ? '?overwrite=true' : ''), bytes,
        zip ? 'application/zip' : 'application/x-yaml');
      // Draw the catalog again, with this outcome on it.
      await pageVersions(view, el('div', { class: 'card', id: 'upload-ok' },
        el('p', {}, 'Version ' + out.version + ' ' + out.outcome + '.'),
        resultList('Warnings', out.warnings, 'warning', 'upload-warnings')));
    } catch (e) {
      const b = e.body || {};
      result.replaceChildren(el('div', { class: 'card', id: 'upload-failed' },
        el('p', { class: 'error' }, e.message),
        resultList('Blocking errors', b.errors, 'error', 'upload-errors'),
        resultList('Missing configuration items', b.missing, 'error', 'upload-missing'),
        resultList('Warnings', b.warnings, 'warning', 'upload-warnings')));
    }
  });
  view.replaceChildren(el('h1', {}, 'Versions'),
    el('div', { class: 'card' }, el('h2', {}, 'Upload version configuration'),
      el('p', {}, file), el('p', {}, el('label', { class: 'inline' }, overwrite, ' overwrite a version already uploaded')),
      el('p', {}, upload), blocked ? el('p', { class: 'disabled-reason', id: 'upload-reason' }, blocked) : '', result),
    el('table', { id: 'versions' },
      el('thead', {}, el('tr', {}, ['Platform', 'Version', 'File', 'Size', 'MD5', 'Uploaded', ''].map((h) => el('th', {}, h)))),
      el('tbody', {}, catalog.map((v) => el('tr', { 'data-version': v.version },
        el('td', {}, v.platform), el('td', {}, v.version), el('td', {}, v.file_name), el('td', {}, v.size + ' B'),
        el('td', {}, v.md5), el('td', {}, time(v.overwritten_at || v.uploaded_at)),
        el('td', {}, el('button', { type: 'button', onclick: () => download(v) }, 'Download')))))));
}

function resultList(title, items, cls, id) {
  if (!items || !items.length) return '';
  return el('div', { id }, el('strong', {}, title + ' (' + items.length + ')'),
    el('ul', { class: 'results ' + cls }, items.map((x) => el('li', {}, x))));
}

async function download(v) {
  const resp = await fetch('/api/v1/versions/' + encodeURIComponent(v.version) + '/bundle', { headers: { Authorization: 'Bearer ' + state.token } });
  if (!resp.ok) { flash('Download failed: the server answered ' + resp.status); return; }
  const url = URL.createObjectURL(await resp.blob());
  const a = el('a', { href: url, download: v.file_name });
  document.body.append(a);
  a.click();
  a.remove();
  URL.revokeObjectURL(url);
}

// ------------------------------------------------------------------------------ users

async function pageUsers(view) {
  if (!can('admin')) {
    view.replaceChildren(el('h1', {}, 'Users'), el('p', { class: 'disabled-reason', id: 'users-reason' }, 'User administration needs the admin role; you are ' + state.role + '.'));
    return;
  }
  const users = await api('GET', '/api/v1/users');
  const name = el('input', { type: 'text', id: 'user-name' });
  const role = el('select', { id: 'user-role' }, ['viewer', 'operator', 'admin'].map((r) => el('option', { value: r }, r)));
  const password = el('input', { type: 'password', id: 'user-password', autocomplete: 'new-password' });
  const add = el('button', { type: 'button', class: 'primary', id: 'user-add' }, 'Add user');
  const error = el('p', { class: 'error', id: 'user-error' });
  const blocked = maintenanceReason();
  if (blocked) add.disabled = true;
  add.addEventListener('click', async () => {
    error.textContent = '';
    try {
      await api('POST', '/api/v1/users', { name: name.value, role: role.value, password: password.value });
      await pageUsers(view);
    } catch (e) {
      error.textContent = e.message;
    }
  });
  view.replaceChildren(el('h1', {}, 'Users'),
    el('table', { id: 'users' }, el('thead', {}, el('tr', {}, ['Name', 'Role', 'Created'].map((h) => el('th', {}, h)))),
      el('tbody', {}, users.map((u) => el('tr', {}, el('td', {}, u.name), el('td', {}, u.role), el('td', {}, u.created_at))))),
    el('div', { class: 'card' }, el('h2', {}, 'Add a user'),
      el('label', { for: 'user-name' }, 'Name'), name, el('label', { for: 'user-role' }, 'Role'), role,
      el('label', { for: 'user-password' }, 'Password (at least 12 characters)'), password,
      el('p', {}, add), blocked ? el('p', { class: 'disabled-reason', id: 'user-reason' }, blocked) : '', error));
}

// ------------------------------------------------------------------------------ audit

async function pageAudit(view) {
  if (!can('admin')) {
    view.replaceChildren(el('h1', {}, 'Audit log'), el('p', { class: 'disabled-reason', id: 'audit-reason' }, 'The audit log needs the admin role; you are ' + state.role + '.'));
    return;
  }
  const entries = await api('GET', '/api/v1/audit?limit=200');
  view.replaceChildren(el('h1', {}, 'Audit log'),
    el('p', { class: 'muted' }, 'The last ' + entries.length + ' changes and refusals, newest first.'),
    el('table', { id: 'audit' },
      el('thead', {}, el('tr', {}, ['When', 'Who', 'What', 'Target', 'From', 'Outcome', 'Detail'].map((h) => el('th', {}, h)))),
      el('tbody', {}, entries.map((e) => el('tr', { 'data-action': e.action, 'data-outcome': e.outcome },
        [time(e.at), e.actor, e.action, e.target, e.peer].map((v) => el('td', {}, v)),
        el('td', {}, badge(e.outcome, e.outcome === 'ok' ? 'succeeded' : 'failed')),
        el('td', {}, e.detail || ''))))));
}

// ------------------------------------------------------------------------------- start

document.getElementById('logout').addEventListener('click', () => signOut('Signed out.'));
window.addEventListener('hashchange', render);
render();
