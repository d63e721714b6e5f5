// The statechart map, shared by the live page (app.js) and the HTML report (report.js): draws
// one machine graph (from /api/graph or the report's data) as SVG boxes and arrows, and puts
// shopper counts on the shopper machine's states. Plain script, no dependencies.
(function () {
  'use strict';
  var SVG = 'http://www.w3.org/2000/svg';
  var W = 150, H = 30, GX = 30, GY = 22;

  function el(name, attrs, parent, text) {
    var e = document.createElementNS(SVG, name);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    if (parent) parent.appendChild(e);
    return e;
  }

  /**
   * Draws `graph` into `container`; returns { "machine/region/state": <g> }. `onStateClick(id)`
   * (optional) is called when a shopper state is clicked.
   */
  function drawMachine(graph, container, onStateClick) {
    var nodes = {};
    var box = document.createElement('div');
    box.className = 'machine';
    box.dataset.machine = graph.id;
    var h3 = document.createElement('h3');
    h3.textContent = graph.id + (graph.description ? ' — ' + graph.description : '');
    box.appendChild(h3);
    graph.regions.forEach(function (region) {
      var width = region.cols * (W + GX) + 40, height = region.rows * (H + GY) + 10;
      if (region.id) {
        var label = document.createElement('div');
        label.className = 'region-label';
        label.textContent = 'region ' + region.id;
        box.appendChild(label);
      }
      var svg = el('svg', { width: width + 120, height: height, 'data-region': region.id || graph.id });
      var defs = el('defs', {}, svg);
      var mk = el('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 10, refY: 5, markerWidth: 6, markerHeight: 6, orient: 'auto-start-reverse' }, defs);
      el('path', { d: 'M 0 0 L 10 5 L 0 10 z', fill: '#9aa5b5' }, mk);
      var pos = {};
      region.nodes.forEach(function (n) { pos[n.id] = { x: 10 + n.col * (W + GX), y: 5 + n.row * (H + GY) }; });
      region.edges.forEach(function (e) {
        var a = pos[e.from], b = pos[e.to];
        if (!a || !b || e.from === e.to) return;
        var d;
        if (b.y > a.y && a.x === b.x) d = 'M' + (a.x + W / 2) + ' ' + (a.y + H) + ' L' + (b.x + W / 2) + ' ' + b.y;
        else {
          // Back or side edges loop around the right of the boxes.
          var off = W + 12 + Math.abs(b.y - a.y) / 12;
          d = 'M' + (a.x + W) + ' ' + (a.y + H / 2) + ' C' + (a.x + off) + ' ' + (a.y + H / 2) + ' ' + (b.x + off) + ' ' + (b.y + H / 2) + ' ' + (b.x + W) + ' ' + (b.y + H / 2);
        }
        el('path', { d: d, class: 'edge' }, svg).appendChild(el('title', {}, null, e.event));
      });
      region.nodes.forEach(function (n) {
        var p = pos[n.id];
        var g = el('g', { class: 'state', transform: 'translate(' + p.x + ',' + p.y + ')', 'data-state': n.id }, svg);
        el('title', {}, g, n.id + (n.description ? ': ' + n.description : ''));
        el('rect', { width: W, height: H }, g);
        el('text', { x: 8, y: H / 2 }, g, n.id);
        if (graph.id === 'shopper') {
          var c = el('text', { x: W - 8, y: H / 2, class: 'count', 'data-state-count': n.id }, g, '–');
          c.dataset.count = '0';
          if (onStateClick) g.addEventListener('click', function () { onStateClick(n.id); });
        }
        nodes[graph.id + '/' + region.id + '/' + n.id] = g;
      });
      box.appendChild(svg);
    });
    container.appendChild(box);
    return nodes;
  }

  /** Writes `counts` (state → shoppers) on the shopper states under `root` (default: document). */
  function setCounts(counts, root) {
    (root || document).querySelectorAll('[data-state-count]').forEach(function (t) {
      var n = counts[t.getAttribute('data-state-count')] || 0;
      t.textContent = String(n);
      t.dataset.count = String(n);
      t.parentNode.classList.toggle('occupied', n > 0);
    });
  }

  window.ShopsimMap = { drawMachine: drawMachine, setCounts: setCounts };
})();
