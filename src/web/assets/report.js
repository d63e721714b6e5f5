// shopsim HTML report: everything it needs is in this file (uPlot, map.js and the data in
// #report-data); it makes no request. Charts are uPlot; the machine map is map.js's, the same
// as the live page's, with the run's final occupancy on the shopper states.
(function () {
  'use strict';
  var data = JSON.parse(document.getElementById('report-data').textContent);
  var main = document.getElementById('report');
  document.getElementById('run-id').textContent = data.runId;
  document.getElementById('generated').textContent = 'generated ' + data.generatedAt;
  var COLORS = ['#2563eb', '#059669', '#d97706', '#dc2626', '#7c3aed'];

  function section(id, title) {
    var s = document.createElement('section');
    s.id = id;
    var h = document.createElement('h2');
    h.textContent = title;
    s.appendChild(h);
    main.appendChild(s);
    return s;
  }
  function table(parent, head, rows, classes) {
    var t = document.createElement('table');
    t.className = 'data';
    var tr = document.createElement('tr');
    head.forEach(function (h) { var th = document.createElement('th'); th.textContent = h; tr.appendChild(th); });
    t.appendChild(tr);
    rows.forEach(function (r, i) {
      var row = document.createElement('tr');
      r.forEach(function (c, j) {
        var td = document.createElement('td');
        td.textContent = c === null || c === undefined ? '—' : String(c);
        if (classes && classes[i] && classes[i][j]) td.className = classes[i][j];
        row.appendChild(td);
      });
      t.appendChild(row);
    });
    parent.appendChild(t);
    return t;
  }
  var pct = function (x) { return x === null || x === undefined ? '—' : (x * 100).toFixed(1) + '%'; };

  // One uPlot chart; `bars` draws bars (categories on x), else lines. The element carries the
  // number of points it was given (data-points), as on the live page.
  function chart(parent, id, title, labels, xs, series, opts) {
    opts = opts || {};
    var div = document.createElement('div');
    div.className = 'chart';
    div.id = id;
    parent.appendChild(div);
    var bars = opts.bars ? uPlot.paths.bars({ size: [0.6, 60] }) : null;
    var u = new uPlot({
      title: title, width: Math.min(1000, Math.max(480, main.clientWidth - 40)), height: 200,
      scales: { x: { time: false } },
      axes: [labels ? { values: function (_u, ticks) { return ticks.map(function (t) { return labels[t] === undefined ? '' : labels[t]; }); } } : {}, {}],
      series: [{ label: opts.xLabel || 'x' }].concat(series.map(function (s, i) {
        var o = { label: s.label, stroke: COLORS[i % COLORS.length], width: 1.5 };
        if (bars) { o.paths = bars; o.fill = COLORS[i % COLORS.length] + '99'; o.points = { show: false }; }
        return o;
      })),
    }, [xs].concat(series.map(function (s) { return s.values; })), div);
    div.dataset.points = String(xs.length);
    return u;
  }

  // ---- the run ------------------------------------------------------------------------------
  var facts = section('facts', 'Run');
  table(facts, ['', ''], data.facts);

  // ---- thresholds ---------------------------------------------------------------------------
  var th = section('thresholds', 'Thresholds');
  if (data.thresholds.length === 0) th.appendChild(document.createTextNode('No --threshold was given.'));
  else table(th, ['threshold', 'figure', 'result'], data.thresholds.map(function (t) { return [t.threshold, t.actual === null ? 'no data' : t.actual, t.ok ? 'ok' : 'FAILED']; }),
    data.thresholds.map(function (t) { return [null, null, t.ok ? 'ok' : 'failed']; }));

  // ---- funnel and conversion ----------------------------------------------------------------
  var fu = section('funnel', 'Funnel');
  var steps = data.funnel.map(function (f) { return f.step; });
  chart(fu, 'chart-funnel', 'Sessions by outcome', steps, steps.map(function (_s, i) { return i; }), [{ label: 'count', values: data.funnel.map(function (f) { return f.count; }) }], { bars: true, xLabel: 'step' });
  var sessions = data.funnel[0] ? data.funnel[0].count : 0;
  table(fu, ['step', 'count', 'of sessions'], data.funnel.map(function (f) { return [f.step, f.count, sessions > 0 ? pct(f.count / sessions) : '—']; }));

  var cv = section('conversion', 'Conversion by simulated hour and weekday');
  var hourLabels = data.byHour.map(function (h) { return (h.hour < 10 ? '0' : '') + h.hour + ':00'; });
  chart(cv, 'chart-hour', 'Sessions and checkouts by simulated hour (UTC)', hourLabels, data.byHour.map(function (h) { return h.hour; }),
    [{ label: 'sessions', values: data.byHour.map(function (h) { return h.sessions; }) }, { label: 'checkouts', values: data.byHour.map(function (h) { return h.checkouts; }) }], { bars: true, xLabel: 'hour' });
  chart(cv, 'chart-hour-conversion', 'Conversion by simulated hour (checkouts / sessions)', hourLabels, data.byHour.map(function (h) { return h.hour; }),
    [{ label: 'conversion', values: data.byHour.map(function (h) { return h.conversion; }) }], { xLabel: 'hour' });
  var dayLabels = data.byWeekday.map(function (d) { return d.weekday; });
  chart(cv, 'chart-weekday', 'Conversion by simulated weekday', dayLabels, data.byWeekday.map(function (_d, i) { return i; }),
    [{ label: 'conversion', values: data.byWeekday.map(function (d) { return d.conversion; }) }], { bars: true, xLabel: 'weekday' });
  table(cv, ['weekday', 'sessions', 'checkouts', 'conversion'], data.byWeekday.map(function (d) { return [d.weekday, d.sessions, d.checkouts, pct(d.conversion)]; }));
  if (data.cycles.length) {
    chart(cv, 'chart-cycles', 'Per simulated hour (cycle)', null, data.cycles.map(function (c) { return c.cycle; }),
      ['sessions', 'checkouts', 'abandoned', 'failed'].map(function (k) { return { label: k, values: data.cycles.map(function (c) { return c[k]; }) }; }), { xLabel: 'cycle' });
  }

  // ---- latency ------------------------------------------------------------------------------
  var la = section('latency', 'Store latency');
  if (!data.latency) la.appendChild(document.createTextNode('No store latency: the run used the in-process mock store (--mock-api).'));
  else {
    table(la, ['all calls', 'p50 ms', 'p95 ms', 'p99 ms', 'max ms', 'mean ms', 'calls'], [['all', data.latency.p50, data.latency.p95, data.latency.p99, data.latency.max, data.latency.mean, data.latency.count]]);
    var hl = data.histogram.map(function (b, i) { return b.le === null ? '> ' + data.histogram[i - 1].le + ' ms' : '≤ ' + b.le + ' ms'; });
    chart(la, 'chart-histogram', 'Latency histogram (calls per bucket)', hl, data.histogram.map(function (_b, i) { return i; }), [{ label: 'calls', values: data.histogram.map(function (b) { return b.count; }) }], { bars: true, xLabel: 'latency' });
    table(la, ['endpoint', 'calls', 'errors', 'rejected', 'p50 ms', 'p95 ms', 'p99 ms', 'max ms'], data.endpoints.map(function (e) { return [e.endpoint, e.count, e.errors, e.rejected, e.p50, e.p95, e.p99, e.max]; }));
  }
  if (data.dbCommit) {
    var c = data.dbCommit;
    table(la, ['database commits', 'p50 ms', 'p95 ms', 'p99 ms', 'max ms', 'mean ms', 'commits'], [['commit', c.p50, c.p95, c.p99, c.max, c.mean, c.count]]);
  }

  // ---- workers (--workers N threads, shopsim worker processes) -------------------------------
  if (data.workers && data.workers.length > 0) {
    var wk = section('workers', 'Workers — ' + data.workers.length + (data.workersTotal ? ', ' + data.workersTotal.live + ' live at the end' : ''));
    var wrows = data.workers.map(function (w) { return [w.id, w.status, w.cohorts, w.agentCycles, w.agentCyclesPerS, w.requests, w.requestsPerS, w.memoryMb + ' (' + w.memoryKind + ')']; });
    var wcls = data.workers.map(function (w) { return [null, w.status === 'lost' || w.status === 'stale' ? 'failed' : null]; });
    if (data.workersTotal) {
      var t = data.workersTotal;
      wrows.push(['all', t.live + ' of ' + t.workers + ' live', t.cohorts, t.agentCycles, t.agentCyclesPerS, t.requests, t.requestsPerS, t.memoryMb]);
    }
    table(wk, ['worker', 'status', 'cohorts', 'agent-cycles', 'agent-cycles/s', 'requests', 'req/s', 'memory MB'], wrows, wcls);
  }

  // ---- machine map with the final occupancy -------------------------------------------------
  var mp = section('map', 'Machines' + (data.occupancy ? ' — final occupancy, ' + data.occupancy.total + ' shoppers' : ''));
  var mapBox = document.createElement('div');
  mapBox.id = 'map-box';
  mp.appendChild(mapBox);
  data.graphs.forEach(function (g) { window.ShopsimMap.drawMachine(g, mapBox); });
  if (data.occupancy) window.ShopsimMap.setCounts(data.occupancy.counts, mapBox);

  // ---- config -------------------------------------------------------------------------------
  var cf = section('config', 'Configuration (public settings; no secrets)');
  var pre = document.createElement('pre');
  pre.className = 'config';
  pre.textContent = JSON.stringify(data.config, null, 2);
  cf.appendChild(pre);
  document.body.dataset.rendered = 'yes';
})();
