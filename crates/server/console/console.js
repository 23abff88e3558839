// The changeover web console, part 6: the router and the start.
// Loaded in order by index.html (base.js first, console.js last): classic scripts in one
// global scope, no build step.
'use strict';

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

// ------------------------------------------------------------------------------- start

document.getElementById('logout').addEventListener('click', () => signOut('Signed out.'));
window.addEventListener('hashchange', render);
render();
