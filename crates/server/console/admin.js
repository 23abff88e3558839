// The changeover web console, part 5: versions (upload with the validation results), users, the audit log.
// Loaded in order by index.html (base.js first, console.js last): classic scripts in one
// global scope, no build step.
'use strict';

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
        el('td', {}, v.platform), el('td', {}, v.version, v.current ? [' ', badge('running now', 'succeeded')] : ''),
        el('td', {}, v.file_name), el('td', {}, v.size + ' B'),
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

