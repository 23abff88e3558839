// The changeover web console, part 3: one live page per step of an upgrade, with its actions.
// Loaded in order by index.html (base.js first, console.js last): classic scripts in one
// global scope, no build step.
'use strict';

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
      if (step.kind === 'verify' && step.phase === 'needs_operator') a.push('overrule');
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

function renderActions(r, step, isCurrent, onDone, driving) {
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
  if (allowed.includes('overrule')) {
    const reason = el('input', { type: 'text', id: 'overrule-reason', size: '60', placeholder: 'why the verdict is overruled' });
    box.append(row(button('act-overrule', 'Overrule the verdict', '', (b) => {
      if (!reason.value.trim()) { error.textContent = 'Overruling the verdict needs a reason: it is kept in the record and the audit log.'; return; }
      act('/overrule', { reason: reason.value.trim() }, b);
    }), ' ', reason));
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
  if (driving && allowed.length) {
    // A stop of a running data-update task is a request to the driver itself: it stays open.
    for (const b of box.querySelectorAll('button')) if (b.id !== 'act-du-stop') b.disabled = true;
    box.prepend(el('p', { class: 'disabled-reason', id: 'driving' },
      'changeover is running this upgrade now; the actions open again when it stops for the operator or ends.'));
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
    let driving = false;
    try {
      const answer = await request('GET', '/api/v1/upgrades/' + encodeURIComponent(id));
      r = answer.data;
      // The server is running a step of this record: actions wait until it stops.
      driving = answer.headers.get('changeover-driving') === 'true';
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
      el('p', { id: 'step-phase' }, 'State: ',
        badge(step.phase === 'skipped' ? phaseText(step) : String(step.phase).replace(/_/g, ' '), step.phase),
        step.reason ? el('span', { id: 'step-reason' }, ' ' + step.reason) : '',
        following ? el('span', { class: 'muted' }, '  (following the current step)') : '',
        !isCurrent && cur && isActive(r) ? [' ', el('a', { href: '#/upgrade/' + encodeURIComponent(r.id) }, 'go to the current step')] : ''),
      progress(stepPercent(step), 'step-progress'),
      el('p', { class: 'muted', id: 'step-times' }, 'Started ' + time(step.started_at) + ', finished ' + time(step.finished_at) + ', attempts ' + step.attempts),
      el('h2', {}, 'Items'), renderItems(r, step, isCurrent),
      el('h2', {}, 'Log'), renderLog(r, step),
    ];
    // The actions keep their inputs (risk boxes, marks) unless what is allowed changes.
    const signature = allowedActions(r, step, isCurrent).join(' ') + '|' + step.kind + '|' + step.phase + '|' + driving;
    if (signature !== lastActions || !actionsBox) {
      actionsBox = renderActions(r, step, isCurrent, refresh, driving);
      lastActions = signature;
    }
    section.dataset.driving = String(driving);
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

