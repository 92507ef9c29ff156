// pricestream dashboard: renders the snapshots that /ui/events streams
// (Server-Sent Events) and calls the pricing API for the guardrail
// controls. Plain DOM, no libraries; every value is set as text.
'use strict';

(function () {
  const $ = (id) => document.getElementById(id);
  const state = { filter: '', product: '', source: null, last: null, prices: new Map(), canControl: false, frozen: new Set() };

  const fmt = {
    rate: (v) => v >= 1000 ? Math.round(v).toLocaleString('en-US') : v.toFixed(1),
    int: (v) => Math.round(v).toLocaleString('en-US'),
    price: (v) => v ? v.toFixed(2) : '–',
    ms: (v) => v === undefined || v === null || v === 0 ? '–' : (v < 10 ? v.toFixed(2) : v.toFixed(1)) + ' ms',
    time: (s) => { const d = new Date(s); return isNaN(d) ? '' : d.toLocaleTimeString('en-GB', { hour12: false }); },
  };

  function el(tag, text, cls) {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }

  function setText(id, v) { const e = $(id); if (e) e.textContent = v; }

  // connect (re)opens the event stream for the current filter and product.
  function connect() {
    if (state.source) state.source.close();
    const q = new URLSearchParams();
    if (state.filter) q.set('filter', state.filter);
    if (state.product) q.set('product', state.product);
    const src = new EventSource('/ui/events?' + q.toString());
    state.source = src;
    src.addEventListener('snapshot', (ev) => {
      let s;
      try { s = JSON.parse(ev.data); } catch (e) { return; }
      $('conn').textContent = 'live';
      $('conn').className = 'conn live';
      render(s);
    });
    src.addEventListener('problem', (ev) => { showMsg('feed: ' + ev.data, true); });
    src.onerror = () => {
      $('conn').textContent = 'reconnecting…';
      $('conn').className = 'conn down';
      if (src.readyState === EventSource.CLOSED) {
        // Refused (the session ended?): ask once why.
        fetch('/ui/snapshot', { credentials: 'same-origin' }).then((r) => {
          if (r.status === 401 || r.redirected) { window.location.href = '/ui/login'; return; }
          setTimeout(() => { if (state.source === src) connect(); }, 2000);
        }).catch(() => { setTimeout(() => { if (state.source === src) connect(); }, 2000); });
      }
    };
  }

  function render(s) {
    state.last = s;
    state.canControl = !!s.viewer.can_control;
    setText('viewer', s.viewer.auth ? s.viewer.principal : '');
    $('logout').hidden = !s.viewer.auth;
    setText('events-stream', s.events_stream);
    setText('events-rate', fmt.rate(s.events_per_second));
    setText('events-total', fmt.int(s.events_total));
    setText('decisions-rate', fmt.rate(s.decisions_per_second));
    setText('count-applied', fmt.int(s.counts.applied || 0));
    setText('count-kept', fmt.int(s.counts.kept || 0));
    setText('count-refused', fmt.int(s.counts.refused || 0));
    const l = s.latency;
    setText('lat-window', Math.round(l.window_seconds));
    setText('p50', l.count ? fmt.ms(l.p50_ms) : '–');
    setText('p99', l.count ? fmt.ms(l.p99_ms) : '–');
    setText('p90', l.count ? fmt.ms(l.p90_ms) : '–');
    setText('pmax', l.count ? fmt.ms(l.max_ms) : '–');
    setText('lat-count', fmt.int(l.count));
    setText('tracked', s.tracked + ' products active recently');
    renderProducts(s);
    renderLag(s);
    renderDecisions(s);
    renderControls(s);
    drawChart(s.series);
  }

  // Product rows are kept across snapshots, keyed by product, and updated
  // in place: a button the user is clicking is not replaced under the
  // pointer by the next snapshot.
  const productRows = new Map();

  function setCell(td, text, cls) {
    const t = String(text);
    if (td.textContent !== t) td.textContent = t;
    if (cls !== undefined && td.className !== cls) td.className = cls;
  }

  function productRow(id) {
    let r = productRows.get(id);
    if (r) return r;
    const tr = el('tr');
    tr.dataset.id = id;
    const cells = [];
    for (let i = 0; i < 9; i++) cells.push(tr.appendChild(el('td')));
    const b = el('button');
    b.type = 'button';
    tr.appendChild(el('td')).appendChild(b);
    r = { tr, cells, button: b, p: null };
    b.addEventListener('click', (ev) => { ev.stopPropagation(); freeze(id, !r.p.frozen); });
    tr.addEventListener('click', () => { state.product = id; connect(); });
    productRows.set(id, r);
    return r;
  }

  function renderProducts(s) {
    const tbody = $('products').tBodies[0];
    state.frozen = new Set((s.controls.frozen || []).map((f) => f.product));
    const charted = s.series ? s.series.product_id : '';
    const seen = new Set();
    let prev = null;
    for (const p of s.products) {
      const r = productRow(p.id);
      const c = r.cells;
      r.p = p;
      seen.add(p.id);
      r.tr.classList.toggle('selected', p.id === charted);
      setCell(c[0], p.id, 'id');
      setCell(c[1], [p.name, p.brand].filter(Boolean).join(' · '));
      setCell(c[2], fmt.price(p.price), 'num price');
      const before = state.prices.get(p.id);
      if (before !== undefined && before !== p.price) {
        c[2].classList.remove('flash');
        void c[2].offsetWidth; // restart the animation
        c[2].classList.add('flash');
      }
      state.prices.set(p.id, p.price);
      setCell(c[3], p.direction === 'up' ? '▲' : p.direction === 'down' ? '▼' : '', 'arrow ' + (p.direction || ''));
      setCell(c[4], p.previous ? fmt.price(p.previous) : '', 'num');
      setCell(c[5], p.min_price || p.max_price ? fmt.price(p.min_price) + '–' + fmt.price(p.max_price) : '', 'num');
      setCell(c[6], fmt.int(p.inventory || 0), 'num');
      setCell(c[7], p.activity || 0, 'num');
      setCell(c[8], p.last_action ? p.last_action + (p.last_reason ? ' (' + p.last_reason + ')' : '') : '', p.last_action || '');
      const b = r.button;
      setCell(b, p.frozen ? 'unfreeze' : 'freeze');
      b.disabled = !state.canControl;
      b.title = state.canControl ? (p.frozen ? 'let the pipeline change this price again' : 'stop price changes of this product') : 'needs the jobs scope';
      const want = prev ? prev.nextSibling : tbody.firstChild;
      if (want !== r.tr) tbody.insertBefore(r.tr, want);
      prev = r.tr;
    }
    for (const [id, r] of productRows) {
      if (!seen.has(id)) { r.tr.remove(); productRows.delete(id); state.prices.delete(id); }
    }
    setText('chart-product', charted);
  }

  function renderLag(s) {
    const tbody = $('lag').tBodies[0];
    const rows = document.createDocumentFragment();
    for (const j of s.jobs) {
      const tr = el('tr');
      tr.appendChild(el('td', 'job ' + j.name));
      tr.appendChild(el('td', j.state + (j.error ? ': ' + j.error : ''), 'state-' + j.state));
      tr.appendChild(el('td', fmt.int(j.lag_records), 'num'));
      tr.appendChild(el('td', j.dead_lettered ? fmt.int(j.dead_lettered) + ' dead-lettered' : '', 'num'));
      rows.appendChild(tr);
    }
    for (const t of s.triggers) {
      const tr = el('tr');
      tr.appendChild(el('td', 'trigger ' + t.name));
      tr.appendChild(el('td', t.state + (t.error ? ': ' + t.error : ''), 'state-' + t.state));
      tr.appendChild(el('td', fmt.int(t.lag_records), 'num'));
      tr.appendChild(el('td', t.lag_ms + ' ms / ' + t.iterator_age_ms + ' ms', 'num'));
      rows.appendChild(tr);
    }
    if (!s.jobs.length && !s.triggers.length) {
      const tr = el('tr');
      const td = el('td', 'no jobs or triggers yet', 'sub');
      td.colSpan = 4;
      tr.appendChild(td);
      rows.appendChild(tr);
    }
    tbody.replaceChildren(rows);
  }

  function renderDecisions(s) {
    const tbody = $('decisions').tBodies[0];
    const rows = document.createDocumentFragment();
    for (const d of s.decisions) {
      const tr = el('tr');
      tr.appendChild(el('td', fmt.time(d.at)));
      tr.appendChild(el('td', d.product_id));
      tr.appendChild(el('td', d.action, d.action));
      tr.appendChild(el('td', d.action === 'applied' ? fmt.price(d.old_price) + ' → ' + fmt.price(d.new_price) : fmt.price(d.old_price), 'num'));
      tr.appendChild(el('td', d.reason || ''));
      tr.appendChild(el('td', d.e2e_ms ? fmt.ms(d.e2e_ms) : '', 'num'));
      rows.appendChild(tr);
    }
    tbody.replaceChildren(rows);
  }

  function renderControls(s) {
    const k = s.controls.kill_switch;
    const ks = $('kill-state');
    if (k) {
      ks.textContent = 'kill switch ON: no price changes' + (k.reason ? ' (' + k.reason + ')' : '') + (k.by ? ' · by ' + k.by : '');
      ks.className = 'kill on';
    } else {
      ks.textContent = 'kill switch off: prices may change';
      ks.className = 'kill off';
    }
    $('kill-on').disabled = !state.canControl || !!k;
    $('kill-off').disabled = !state.canControl || !k;
    const frozen = (s.controls.frozen || []).map((f) => f.product);
    setText('frozen-list', frozen.length ? frozen.join(', ') : 'none');
  }

  // drawChart draws price (left axis) and demand (right axis) over time.
  function drawChart(series) {
    const c = $('chart');
    const ratio = window.devicePixelRatio || 1;
    const w = c.clientWidth || 560, h = c.clientHeight || 240;
    if (c.width !== w * ratio || c.height !== h * ratio) { c.width = w * ratio; c.height = h * ratio; }
    const g = c.getContext('2d');
    g.setTransform(ratio, 0, 0, ratio, 0, 0);
    g.clearRect(0, 0, w, h);
    g.font = '11px system-ui, sans-serif';
    g.fillStyle = '#6b7385';
    if (!series || !series.t.length) { g.fillText('no decisions for this product yet', 12, 20); return; }
    setText('demand-name', series.demand_name || 'demand');
    const pad = { l: 48, r: 44, t: 10, b: 22 };
    const t0 = series.t[0], t1 = Math.max(series.t[series.t.length - 1], t0 + 1000);
    const range = (vs) => { let lo = Math.min(...vs), hi = Math.max(...vs); if (hi - lo < 1e-9) { lo -= 1; hi += 1; } const m = (hi - lo) * 0.1; return [lo >= 0 ? Math.max(0, lo - m) : lo - m, hi + m]; };
    const [plo, phi] = range(series.price), [dlo, dhi] = range(series.demand);
    const x = (t) => pad.l + (t - t0) / (t1 - t0) * (w - pad.l - pad.r);
    const yp = (v) => h - pad.b - (v - plo) / (phi - plo) * (h - pad.t - pad.b);
    const yd = (v) => h - pad.b - (v - dlo) / (dhi - dlo) * (h - pad.t - pad.b);
    g.strokeStyle = '#e2e5eb';
    g.lineWidth = 1;
    for (let i = 0; i <= 4; i++) {
      const y = pad.t + i * (h - pad.t - pad.b) / 4;
      g.beginPath(); g.moveTo(pad.l, y); g.lineTo(w - pad.r, y); g.stroke();
      g.fillStyle = '#2457c5'; g.textAlign = 'right';
      g.fillText((phi - i * (phi - plo) / 4).toFixed(2), pad.l - 4, y + 4);
      g.fillStyle = '#b26a00'; g.textAlign = 'left';
      g.fillText((dhi - i * (dhi - dlo) / 4).toFixed(dhi - dlo < 10 ? 2 : 0), w - pad.r + 4, y + 4);
    }
    g.fillStyle = '#6b7385'; g.textAlign = 'left';
    g.fillText(fmt.time(t0), pad.l, h - 6);
    g.textAlign = 'right';
    g.fillText(fmt.time(t1), w - pad.r, h - 6);
    const line = (vals, y, color, step) => {
      g.strokeStyle = color; g.lineWidth = 2; g.beginPath();
      vals.forEach((v, i) => {
        const px = x(series.t[i]), py = y(v);
        if (i === 0) g.moveTo(px, py);
        else if (step) { g.lineTo(px, y(vals[i - 1])); g.lineTo(px, py); }
        else g.lineTo(px, py);
      });
      if (step) g.lineTo(w - pad.r, y(vals[vals.length - 1]));
      g.stroke();
    };
    line(series.demand, yd, '#b26a00', false);
    line(series.price, yp, '#2457c5', true);
  }

  function showMsg(text, error) {
    const m = $('control-msg');
    m.textContent = text;
    m.className = 'msg' + (error ? ' error' : '');
  }

  // api calls the pricing API with the session (or no auth, when off).
  async function api(method, path, body) {
    const r = await fetch(path, {
      method, credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', 'X-Pricestream-Dashboard': '1' },
      body: body ? JSON.stringify(body) : undefined,
    });
    if (!r.ok) {
      let msg = r.status + ' ' + r.statusText;
      try { const e = await r.json(); if (e.error && e.error.message) msg = e.error.message; } catch (e) { /* not JSON */ }
      throw new Error(msg);
    }
    return r.json();
  }

  function killSwitch(on) {
    const reason = $('kill-reason').value.trim() || (on ? 'stopped from the dashboard' : '');
    api('PUT', '/v1/pricing/kill-switch', { on, reason })
      .then(() => showMsg(on ? 'kill switch on: every price change is refused' : 'kill switch off'))
      .catch((e) => showMsg('kill switch: ' + e.message, true));
  }

  function freeze(id, on) {
    const path = '/v1/pricing/freezes/' + encodeURIComponent(id);
    const reason = $('kill-reason').value.trim();
    (on ? api('PUT', path, reason ? { reason } : undefined) : api('DELETE', path))
      .then(() => showMsg((on ? 'froze ' : 'unfroze ') + id))
      .catch((e) => showMsg((on ? 'freeze ' : 'unfreeze ') + id + ': ' + e.message, true));
  }

  let filterTimer = null;
  function start() {
    $('filter').addEventListener('input', (ev) => {
      clearTimeout(filterTimer);
      filterTimer = setTimeout(() => { state.filter = ev.target.value.trim(); state.product = ''; connect(); }, 300);
    });
    $('kill-on').addEventListener('click', () => killSwitch(true));
    $('kill-off').addEventListener('click', () => killSwitch(false));
    window.addEventListener('resize', () => { if (state.last) drawChart(state.last.series); });
    connect();
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
