// shopsim live page: plain script, served by shopsim itself (no CDN). The token comes from the
// URL fragment (#token=…), which the browser never sends to a server; it is kept in
// sessionStorage so a reload keeps working, and sent as Authorization: Bearer.
(function () {
  'use strict';
  var m = /token=([A-Za-z0-9_-]+)/.exec(location.hash);
  if (m) {
    sessionStorage.setItem('shopsim-token', m[1]);
    history.replaceState(null, '', location.pathname);
  }
  var token = sessionStorage.getItem('shopsim-token');
  var $ = function (id) { return document.getElementById(id); };
  if (!token) { $('token-missing').hidden = false; return; }
  var headers = { Authorization: 'Bearer ' + token };

  // ---- machine map (drawn by map.js, shared with the HTML report) ---------------------------
  var stateNodes = {}; // "machine/region/state" → <g>
  var lastState = null;
  var selected = null; // shopper state whose ids are listed
  var followed = null; // shopper id followed
  var followLog = [];

  function drawMachine(graph) {
    var nodes = window.ShopsimMap.drawMachine(graph, $('map'), selectState);
    for (var k in nodes) stateNodes[k] = nodes[k];
  }

  function selectState(id) {
    selected = id;
    for (var k in stateNodes) stateNodes[k].classList.toggle('selected', k === 'shopper//' + id);
    renderSelection();
  }

  function renderSelection() {
    var d = $('state-detail');
    if (!selected || !lastState || !lastState.occupancy) { d.hidden = true; return; }
    d.hidden = false;
    d.textContent = '';
    var ids = lastState.occupancy.samples[selected] || [];
    var p = document.createElement('p');
    p.textContent = 'In ' + selected + ': ' + (lastState.occupancy.counts[selected] || 0) + ' shoppers' + (ids.length ? '; a few of them: ' : '.');
    d.appendChild(p);
    ids.forEach(function (id) {
      var a = document.createElement('button');
      a.className = 'shopper-link';
      a.textContent = id;
      a.addEventListener('click', function () { followed = id; followLog = []; follow(); });
      d.appendChild(a);
    });
  }

  function follow() {
    if (!followed) return;
    fetch('/api/shopper?id=' + encodeURIComponent(followed), { headers: headers }).then(function (r) { return r.json(); }).then(function (s) {
      var d = $('shopper-detail');
      d.hidden = false;
      d.textContent = '';
      if (s.error) { d.textContent = s.error; return; }
      var stateName = typeof s.state === 'string' ? s.state : JSON.stringify(s.state);
      var last = followLog[followLog.length - 1];
      if (!last || last.state !== stateName) followLog.push({ at: new Date().toLocaleTimeString(), state: stateName });
      if (followLog.length > 20) followLog.shift();
      var h = document.createElement('h3');
      h.textContent = 'Following ' + s.id + ' — now ' + stateName;
      d.appendChild(h);
      var ol = document.createElement('ol');
      followLog.forEach(function (t) { var li = document.createElement('li'); li.textContent = t.at + ' ' + t.state; ol.appendChild(li); });
      d.appendChild(ol);
      var pre = document.createElement('pre');
      pre.textContent = JSON.stringify(s.context, null, 1);
      d.appendChild(pre);
    }).catch(function () {});
  }

  function renderMap(state) {
    var occ = state.occupancy;
    if (occ) {
      window.ShopsimMap.setCounts(occ.counts);
      $('occupancy-total').textContent = occ.total + ' shoppers (walk ' + state.sampleMs + ' ms)';
    }
    var orch = state.orchestrator || {};
    for (var k in stateNodes) {
      var parts = k.split('/');
      if (parts[0] === 'orchestrator') stateNodes[k].classList.toggle('current', orch[parts[1]] === parts[2]);
    }
  }

  // ---- charts ------------------------------------------------------------------------------
  var charts = {};
  var data = { seconds: [], hours: [] };
  var COLORS = ['#2563eb', '#d97706', '#dc2626', '#059669', '#7c3aed', '#0891b2', '#be185d', '#4b5563'];
  function chart(id, title, series, xIsTime) {
    var width = Math.max(360, $('charts').clientWidth - 40);
    var opts = {
      title: title, width: width, height: 160,
      scales: { x: { time: xIsTime } },
      series: [{ label: xIsTime ? 'time' : 'cycle' }].concat(series.map(function (s, i) { return { label: s, stroke: COLORS[i % COLORS.length], width: 1.5 }; })),
    };
    var c = new uPlot(opts, [[]].concat(series.map(function () { return []; })), $(id));
    c._series = series;
    charts[id] = c;
    return c;
  }

  var endpointNames = [];
  var endpointPct = 'p95', endpointChartPct = null;
  // p50 / p95 / p99 buttons above the per-endpoint chart.
  function endpointPicker() {
    var bar = document.createElement('div');
    bar.className = 'pct-picker';
    ['p50', 'p95', 'p99'].forEach(function (p) {
      var b = document.createElement('button');
      b.textContent = p;
      b.dataset.pct = p;
      b.disabled = p === endpointPct;
      b.addEventListener('click', function () { endpointPct = p; renderCharts(); });
      bar.appendChild(b);
    });
    $('chart-endpoints').appendChild(bar);
  }
  function setupCharts() {
    chart('chart-rps', 'Requests/s (current), the limiter\'s pace and 429 answers/s', ['req/s', 'pace', '429/s'], true);
    chart('chart-latency', 'Store latency since start, ms', ['p50', 'p95', 'p99'], true);
    chart('chart-hours', 'Per simulated hour', ['sessions', 'checkouts', 'abandoned', 'failed'], false);
    chart('chart-conversion', 'Conversion per simulated hour', ['checkouts / sessions'], false);
    chart('chart-commit', 'Database commit latency since start, ms', ['p50', 'p95'], true);
    chart('chart-active', 'Active agents', ['active'], true);
    chart('chart-memory', 'Memory (RSS), MB', ['rss'], true);
    chart('chart-breaker', 'Breaker open (1) / closed (0)', ['open'], true);
  }

  function col(rows, f) { return rows.map(f); }
  function renderCharts() {
    var s = data.seconds, h = data.hours;
    // How many points each chart holds, on its element (what a reader or a test can check).
    for (var id in charts) charts[id].root.parentNode.dataset.points = String(id === 'chart-hours' || id === 'chart-conversion' ? h.length : s.length);
    var t = col(s, function (p) { return p.t; });
    charts['chart-rps'].setData([t, col(s, function (p) { return p.rps; }), col(s, function (p) { return p.pace === undefined ? null : p.pace; }), col(s, function (p) { return p.r429 === undefined ? 0 : p.r429; })]);
    charts['chart-latency'].setData([t, col(s, function (p) { return p.p50; }), col(s, function (p) { return p.p95; }), col(s, function (p) { return p.p99; })]);
    charts['chart-commit'].setData([t, col(s, function (p) { return p.commitP50 === undefined ? null : p.commitP50; }), col(s, function (p) { return p.commitP95 === undefined ? null : p.commitP95; })]);
    charts['chart-active'].setData([t, col(s, function (p) { return p.active; })]);
    charts['chart-memory'].setData([t, col(s, function (p) { return p.rssMb; })]);
    charts['chart-breaker'].setData([t, col(s, function (p) { return p.breakerOpen; })]);
    var c = col(h, function (p) { return p.cycle; });
    charts['chart-hours'].setData([c, col(h, function (p) { return p.sessions; }), col(h, function (p) { return p.checkouts; }), col(h, function (p) { return p.abandoned; }), col(h, function (p) { return p.failed; })]);
    charts['chart-conversion'].setData([c, col(h, function (p) { return p.conversion; })]);
    // Per-endpoint p95: the chart is made once the endpoints are known (HTTP store only).
    var names = {};
    s.forEach(function (p) { for (var k in p.endpoints) names[k] = true; });
    var list = Object.keys(names).sort();
    if (list.length && (list.join() !== endpointNames.join() || endpointPct !== endpointChartPct)) {
      endpointNames = list;
      endpointChartPct = endpointPct;
      if (charts['chart-endpoints']) charts['chart-endpoints'].destroy();
      $('chart-endpoints').textContent = '';
      endpointPicker();
      chart('chart-endpoints', endpointPct + ' per endpoint since start, ms', list, true);
      charts['chart-endpoints'].root.parentNode.dataset.percentile = endpointPct;
    }
    if (charts['chart-endpoints']) {
      var field = endpointPct === 'p50' ? 'endpointsP50' : endpointPct === 'p99' ? 'endpointsP99' : 'endpoints';
      charts['chart-endpoints'].setData([t].concat(endpointNames.map(function (n) { return col(s, function (p) { var e = p[field] || {}; return e[n] === undefined ? null : e[n]; }); })));
    }
  }

  // ---- state, banner, controls --------------------------------------------------------------
  function fmtSeconds(x) {
    if (x === null || x === undefined) return '—';
    x = Math.round(x);
    var h = Math.floor(x / 3600), m = Math.floor((x % 3600) / 60), s = x % 60;
    return (h ? h + 'h ' : '') + (h || m ? m + 'm ' : '') + s + 's';
  }
  // One line: each --threshold, its figure so far, ok / FAILED (data-failed: how many fail).
  function renderThresholds(list) {
    var box = $('thresholds');
    box.hidden = list.length === 0;
    box.textContent = '';
    var failed = 0;
    list.forEach(function (t, i) {
      if (i) box.appendChild(document.createTextNode(' · '));
      var span = document.createElement('span');
      span.className = 'threshold ' + (t.ok ? 'ok' : 'failed');
      span.dataset.threshold = t.threshold;
      span.dataset.ok = String(t.ok);
      var fig = t.actual === null ? 'no data' : (Number.isInteger(t.actual) ? String(t.actual) : t.actual.toPrecision(4));
      span.textContent = t.threshold + ' ' + fig + ' ' + (t.ok ? 'ok' : 'FAILED');
      if (!t.ok) failed++;
      box.appendChild(span);
    });
    box.dataset.failed = String(failed);
  }

  // The cohorts' workers: a row each (data-status ok / stale / lost / left) and the merged totals.
  function renderWorkers(t) {
    var box = $('workers');
    box.hidden = !t;
    if (!t) return;
    var body = $('workers-rows');
    body.textContent = '';
    t.rows.forEach(function (r) {
      var tr = document.createElement('tr');
      tr.dataset.worker = r.id;
      tr.dataset.status = r.status;
      tr.className = 'worker ' + r.status;
      [r.id, r.status === 'ok' || r.status === 'busy' ? r.status : r.status.toUpperCase(), String(r.cohorts), r.agent_cycles_per_s.toFixed(1), r.requests_per_s.toFixed(1),
        Math.round(r.memory_mb) + ' MB' + (r.memory_kind === 'heap' ? ' heap' : ' RSS'), r.heartbeat_age_s.toFixed(1) + ' s ago'].forEach(function (v) {
        var td = document.createElement('td');
        td.textContent = v;
        tr.appendChild(td);
      });
      body.appendChild(tr);
    });
    var x = t.totals;
    $('workers-total').textContent = x.live + '/' + x.workers + ' ok · ' + x.cohorts + ' cohorts · ' + x.agent_cycles_per_s.toFixed(1) + ' agent-cycles/s · ' + x.requests_per_s.toFixed(1) + ' req/s · ' + Math.round(x.memory_mb) + ' MB';
  }

  function renderState(state) {
    lastState = state;
    renderWorkers(state.workers || null);
    $('run-id').textContent = state.runId || '';
    $('run-status').textContent = state.status;
    $('run-status').dataset.status = state.status;
    $('clock').textContent = 'cycle ' + state.cycle + '/' + state.totalCycles + ' · simulated ' + (state.simulatedTime || '') + ' · ETA ' + fmtSeconds(state.etaSeconds);
    $('btn-pause').disabled = state.status !== 'running';
    $('btn-resume').disabled = state.status !== 'paused' && state.status !== 'breaker_open';
    renderThresholds(state.thresholds || []);
    var pc = state.pacing;
    $('pacing').hidden = !pc;
    if (pc) $('pacing').textContent = (pc.limit > 0 ? 'pace ' + pc.pace + ' of ' + pc.limit + ' req/s' : 'no rate limit') + ' · 429s ' + pc.responses429 + ' (retried ' + pc.retried429 + ')';
    var b = state.breaker;
    var banner = $('breaker-banner');
    if (b && b.state === 'open') {
      banner.hidden = false;
      banner.textContent = 'Circuit breaker OPEN (' + b.lastCycleFailures + ' failures > ' + b.threshold + '; trips ' + b.trips + '). Most frequent errors: ' +
        (b.recentErrors || []).map(function (e) { return e.message + ' ×' + e.count; }).join('; ');
    } else banner.hidden = true;
    if (b) $('footer').textContent = 'breaker ' + b.state + ' · trips ' + b.trips + ' · threshold ' + b.threshold + ' failures/cycle · last checkpoint ' + (state.lastCheckpoint || '—');
    renderMap(state);
    renderSelection();
  }

  document.querySelectorAll('#controls button').forEach(function (btn) {
    btn.addEventListener('click', function () {
      var action = btn.dataset.action;
      $('control-result').textContent = action + '…';
      fetch('/api/' + action, { method: 'POST', headers: headers }).then(function (r) { return r.json(); }).then(function (r) {
        $('control-result').textContent = r.error ? r.error : action + ': ' + (r.checkpoint || r.status || 'ok');
      }).catch(function (e) { $('control-result').textContent = action + ' failed: ' + e.message; });
    });
  });

  var renderTimes = [];
  function onMessage(msg) {
    var t0 = performance.now();
    handle(msg);
    // What one update costs the page (shown in the footer and on <body data-render-ms>).
    renderTimes.push(performance.now() - t0);
    if (renderTimes.length > 60) renderTimes.shift();
    var max = Math.max.apply(null, renderTimes);
    document.body.dataset.renderMs = (Math.round(renderTimes[renderTimes.length - 1] * 10) / 10) + '';
    document.body.dataset.renderMsMax = (Math.round(max * 10) / 10) + '';
    $('render-time').textContent = 'page update ' + document.body.dataset.renderMs + ' ms (max ' + document.body.dataset.renderMsMax + ' ms over the last 60)';
  }

  function handle(msg) {
    if (msg.type === 'full') {
      data.seconds = msg.seconds || [];
      data.hours = msg.hours || [];
    } else {
      if (msg.point) data.seconds.push(msg.point);
      if (data.seconds.length > 3600) data.seconds.shift();
      (msg.hours || []).forEach(function (h) { data.hours.push(h); });
      // As bounded as the server's history: the last 10,000 hours.
      if (data.hours.length > 10000) data.hours.splice(0, data.hours.length - 10000);
    }
    if (msg.state) renderState(msg.state);
    renderCharts();
    if (followed) follow();
  }

  // Server-sent events read with fetch (EventSource cannot send the Authorization header).
  function connect() {
    fetch('/api/events', { headers: headers }).then(function (res) {
      if (!res.ok) throw new Error('HTTP ' + res.status);
      var reader = res.body.getReader(), dec = new TextDecoder(), buf = '';
      function pump() {
        return reader.read().then(function (r) {
          if (r.done) throw new Error('closed');
          buf += dec.decode(r.value, { stream: true });
          var i;
          while ((i = buf.indexOf('\n\n')) >= 0) {
            var chunk = buf.slice(0, i);
            buf = buf.slice(i + 2);
            if (chunk.indexOf('data: ') === 0) onMessage(JSON.parse(chunk.slice(6)));
          }
          return pump();
        });
      }
      return pump();
    }).catch(function () {
      $('run-status').textContent = 'disconnected (the run may have ended)';
      $('run-status').dataset.status = 'stopped';
      setTimeout(connect, 2000);
    });
  }

  fetch('/api/graph', { headers: headers }).then(function (r) {
    if (r.status === 401) { $('token-missing').hidden = false; throw new Error('401'); }
    return r.json();
  }).then(function (graphs) {
    graphs.forEach(drawMachine);
    setupCharts();
    connect();
  }).catch(function () {});
})();
