// The changeover web console, part 4: verification: figures, donut and 7-day columns in SVG, the failed list.
// Loaded in order by index.html (base.js first, console.js last): classic scripts in one
// global scope, no build step.
'use strict';

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

