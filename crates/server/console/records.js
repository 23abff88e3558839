// The changeover web console, part 2: sign in, the upgrade records, the upgrade wizard.
// Loaded in order by index.html (base.js first, console.js last): classic scripts in one
// global scope, no build step.
'use strict';

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
    catalog.map((v) => el('option', { value: v.version, disabled: !!v.current },
      v.version + ' (' + v.platform + (v.current ? ', running now' : '') + ')')));
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

