// Time-series charts of the metrics pages, drawn on canvas: no chart library.
//
// Each chart has two stacked canvases: the plot, and an overlay for the hover line, so moving
// the mouse never redraws the data. A live point extends each line by one segment on the plot
// canvas; only a point beyond the time axis (or above the value axis) redraws the whole chart,
// and the axis is laid out with head-room so that happens about once per tenth of the window.
// Lines longer than the plot is wide are drawn as one min/max stroke per pixel column, so
// 100 series of 24 h at 15 s (576,000 points) cost one pass over the points, not 576,000 lineTo.
(function () {
  "use strict";

  var COLORS = ["#2563eb", "#16a34a", "#dc2626", "#9333ea", "#ea580c", "#0891b2", "#be185d",
    "#4d7c0f", "#7c3aed", "#b45309", "#0f766e", "#6b7280"];
  var PAD = { left: 64, right: 12, top: 10, bottom: 24 };

  function formatValue(value, unit) {
    if (value === null || value === undefined) return "–";
    if (unit === "cores") return value < 1 ? (value * 1000).toFixed(1) + "m cores" : value.toFixed(3) + " cores";
    if (unit === "bytes") {
      var units = ["B", "KiB", "MiB", "GiB", "TiB"], i = 0;
      while (Math.abs(value) >= 1024 && i < units.length - 1) { value /= 1024; i++; }
      return value.toFixed(i ? 1 : 0) + " " + units[i];
    }
    return (Math.round(value * 1000) / 1000) + (unit ? " " + unit : "");
  }

  function formatTime(t) {
    return new Date(t * 1000).toISOString().replace("T", " ").slice(0, 19) + " UTC";
  }

  function Chart(root, options) {
    this.root = root;
    this.unit = options.unit || "";
    this.span = options.span;  // seconds shown
    this.refs = options.refs || [];  // horizontal reference lines: {label, value, color}
    this.series = [];
    this.stats = { fullDraws: 0, appends: 0, lastDrawMs: 0 };
    root.classList.add("chart");
    this.plot = document.createElement("canvas");
    this.overlay = document.createElement("canvas");
    this.overlay.className = "chart-overlay";
    this.tip = document.createElement("div");
    this.tip.className = "chart-tip";
    this.tip.hidden = true;
    this.legend = document.createElement("div");
    this.legend.className = "chart-legend";
    var stack = document.createElement("div");
    stack.className = "chart-stack";
    stack.appendChild(this.plot);
    stack.appendChild(this.overlay);
    stack.appendChild(this.tip);
    root.appendChild(stack);
    root.appendChild(this.legend);
    var self = this;
    this.overlay.addEventListener("mousemove", function (e) { self.hover(e); });
    this.overlay.addEventListener("mouseleave", function () { self.unhover(); });
  }

  Chart.prototype.add = function (label, points, color, emphasis) {
    var times = new Float64Array(points.length), values = new Float64Array(points.length);
    for (var i = 0; i < points.length; i++) { times[i] = points[i][0]; values[i] = points[i][1]; }
    var s = { label: label, times: times, values: values, n: points.length,
      color: color || COLORS[this.series.length % COLORS.length], bold: !!emphasis };
    this.series.push(s);
    return s;
  };

  Chart.prototype.layout = function () {
    var ratio = window.devicePixelRatio || 1;
    var width = this.root.clientWidth || 600, height = this.root.dataset.height ? +this.root.dataset.height : 220;
    [this.plot, this.overlay].forEach(function (c) {
      c.width = width * ratio; c.height = height * ratio;
      c.style.width = width + "px"; c.style.height = height + "px";
      c.getContext("2d").setTransform(ratio, 0, 0, ratio, 0, 0);
    });
    this.width = width; this.height = height;
  };

  // The axes, with head-room: time runs to a tenth of the span past the newest point, values
  // to a quarter above the largest, so live points mostly fit without rescaling.
  Chart.prototype.scale = function () {
    var tmax = -Infinity, vmax = 0;
    this.series.forEach(function (s) {
      if (s.n) tmax = Math.max(tmax, s.times[s.n - 1]);
      for (var i = 0; i < s.n; i++) if (s.values[i] > vmax) vmax = s.values[i];
    });
    this.refs.forEach(function (r) { if (r.value > vmax) vmax = r.value; });
    if (!isFinite(tmax)) tmax = Date.now() / 1000;
    this.t1 = tmax + this.span / 10;
    this.t0 = this.t1 - this.span;
    this.v1 = vmax > 0 ? vmax * 1.25 : 1;
  };

  Chart.prototype.x = function (t) {
    return PAD.left + (t - this.t0) / (this.t1 - this.t0) * (this.width - PAD.left - PAD.right);
  };
  Chart.prototype.y = function (v) {
    return this.height - PAD.bottom - v / this.v1 * (this.height - PAD.top - PAD.bottom);
  };

  Chart.prototype.draw = function () {
    var started = performance.now();
    this.layout();
    this.scale();
    var ctx = this.plot.getContext("2d"), self = this;
    ctx.clearRect(0, 0, this.width, this.height);
    this.axes(ctx);
    this.refs.forEach(function (r) {
      ctx.strokeStyle = r.color; ctx.setLineDash([6, 4]); ctx.lineWidth = 1.5;
      ctx.beginPath(); ctx.moveTo(PAD.left, self.y(r.value)); ctx.lineTo(self.width - PAD.right, self.y(r.value)); ctx.stroke();
      ctx.setLineDash([]);
    });
    this.series.forEach(function (s) { self.line(ctx, s); });
    this.renderLegend();
    this.stats.fullDraws++;
    this.stats.lastDrawMs = performance.now() - started;
  };

  Chart.prototype.axes = function (ctx) {
    ctx.fillStyle = "#6b7280"; ctx.strokeStyle = "#e5e7eb"; ctx.lineWidth = 1; ctx.font = "11px sans-serif";
    for (var i = 0; i <= 4; i++) {
      var v = this.v1 * i / 4, y = this.y(v);
      ctx.beginPath(); ctx.moveTo(PAD.left, y); ctx.lineTo(this.width - PAD.right, y); ctx.stroke();
      ctx.fillText(formatValue(v, this.unit), 2, y + 4);
    }
    for (var j = 0; j <= 4; j++) {
      var t = this.t0 + (this.t1 - this.t0) * j / 4;
      ctx.fillText(formatTime(t).slice(11, 16), this.x(t) - 14, this.height - 6);
    }
  };

  // One continuous path per series. Points that share a pixel column become at most four
  // vertices (first, min, max, last: what that column would show anyway), so a day of 15 s
  // samples costs the rasterizer about the plot's width in vertices, not 5,760.
  // Every stroke is a 1-pixel hairline: Skia rasterizes those on a fast path, while a width of
  // 1.2 or 2 made the same day of samples 20 to 40 times slower in Chromium (measured in
  // bench.metrics_sampling). A bold series is a second hairline one pixel below.
  Chart.prototype.line = function (ctx, s) {
    this.path(ctx, s);
    if (s.bold) { ctx.save(); ctx.translate(0, 1); this.path(ctx, s); ctx.restore(); }
  };

  Chart.prototype.path = function (ctx, s) {
    if (!s.n) return;
    ctx.strokeStyle = s.color; ctx.lineWidth = 1; ctx.beginPath();
    var col = null, first = 0, lo = 0, hi = 0, last = 0, gap = this.gapAfter(), self = this;
    function flush(move) {
      if (col === null) return;
      if (move) ctx.moveTo(col, first); else ctx.lineTo(col, first);
      if (lo !== first) ctx.lineTo(col, lo);
      if (hi !== lo) ctx.lineTo(col, hi);
      if (last !== hi) ctx.lineTo(col, last);
    }
    var pendingMove = true;
    for (var i = 0; i < s.n; i++) {
      var px = Math.round(self.x(s.times[i])), py = self.y(s.values[i]);
      var broken = i > 0 && s.times[i] - s.times[i - 1] > gap;
      if (px === col && !broken) {
        if (py < lo) lo = py;
        if (py > hi) hi = py;
        last = py;
        continue;
      }
      flush(pendingMove);
      pendingMove = broken;
      col = px; first = lo = hi = last = py;
    }
    flush(pendingMove);
    ctx.stroke();
  };

  // A pause longer than this between two points is drawn as a gap, not a straight line.
  Chart.prototype.gapAfter = function () { return (this.step || 15) * 3; };

  // A live point: one more segment, unless it falls outside the axes.
  Chart.prototype.append = function (label, t, value) {
    var s = null;
    for (var i = 0; i < this.series.length; i++) if (this.series[i].label === label) s = this.series[i];
    if (!s) { s = this.add(label, [], null, label === "total"); }
    if (s.n && t <= s.times[s.n - 1]) return false;  // already shown (a reconnect's repeat)
    if (value === null || value === undefined) return false;
    if (s.n === s.times.length) {
      var times = new Float64Array(Math.max(16, s.n * 2)), values = new Float64Array(times.length);
      times.set(s.times); values.set(s.values); s.times = times; s.values = values;
    }
    s.times[s.n] = t; s.values[s.n] = value; s.n++;
    if (t > this.t1 || value > this.v1 || s.n === 1) { this.draw(); return true; }
    var ctx = this.plot.getContext("2d");
    for (var dy = 0; dy <= (s.bold ? 1 : 0); dy++) {
      ctx.strokeStyle = s.color; ctx.lineWidth = 1; ctx.beginPath();
      if (s.n > 1 && t - s.times[s.n - 2] <= this.gapAfter()) {
        ctx.moveTo(this.x(s.times[s.n - 2]), this.y(s.values[s.n - 2]) + dy);
        ctx.lineTo(this.x(t), this.y(value) + dy);
      } else {
        ctx.arc(this.x(t), this.y(value) + dy, 1.5, 0, 2 * Math.PI);
      }
      ctx.stroke();
    }
    this.stats.appends++;
    this.root.dataset.points = String(this.pointCount());
    return true;
  };

  Chart.prototype.pointCount = function () {
    return this.series.reduce(function (n, s) { return n + s.n; }, 0);
  };

  Chart.prototype.renderLegend = function () {
    var legend = this.legend, unit = this.unit;
    legend.textContent = "";
    this.series.concat(this.refs).forEach(function (s) {
      var item = document.createElement("span");
      item.className = "chart-key";
      var swatch = document.createElement("i");
      swatch.style.background = s.color;
      item.appendChild(swatch);
      item.appendChild(document.createTextNode(s.label + (s.value !== undefined ? " " + formatValue(s.value, unit) : "")));
      legend.appendChild(item);
    });
    this.root.dataset.points = String(this.pointCount());
  };

  function nearest(s, t) {
    var lo = 0, hi = s.n - 1;
    if (hi < 0) return -1;
    while (lo < hi) { var mid = (lo + hi) >> 1; if (s.times[mid] < t) lo = mid + 1; else hi = mid; }
    if (lo > 0 && Math.abs(s.times[lo - 1] - t) < Math.abs(s.times[lo] - t)) lo--;
    return lo;
  }

  // Hover: a vertical line at the nearest sample and the exact values and time of each series
  // there (the nearest ones to the pointer first when there are many).
  Chart.prototype.hover = function (e) {
    var rect = this.overlay.getBoundingClientRect(), mx = e.clientX - rect.left, my = e.clientY - rect.top;
    var t = this.t0 + (mx - PAD.left) / (this.width - PAD.left - PAD.right) * (this.t1 - this.t0);
    var rows = [], self = this, at = null;
    this.series.forEach(function (s) {
      var i = nearest(s, t);
      if (i < 0 || Math.abs(s.times[i] - t) > self.gapAfter()) return;
      if (at === null || Math.abs(s.times[i] - t) < Math.abs(at - t)) at = s.times[i];
      rows.push({ s: s, t: s.times[i], v: s.values[i], d: Math.abs(self.y(s.values[i]) - my) });
    });
    var ctx = this.overlay.getContext("2d");
    ctx.clearRect(0, 0, this.width, this.height);
    if (!rows.length) { this.tip.hidden = true; return; }
    rows.sort(function (a, b) { return a.d - b.d; });
    ctx.strokeStyle = "#111827"; ctx.lineWidth = 1; ctx.beginPath();
    ctx.moveTo(this.x(at), PAD.top); ctx.lineTo(this.x(at), this.height - PAD.bottom); ctx.stroke();
    this.tip.textContent = "";
    var head = document.createElement("div");
    head.className = "chart-tip-time";
    head.textContent = formatTime(at);
    this.tip.appendChild(head);
    rows.slice(0, 8).forEach(function (r) {
      var row = document.createElement("div");
      row.textContent = r.s.label + ": " + formatValue(r.v, self.unit) + (r.t !== at ? " at " + formatTime(r.t).slice(11, 19) : "");
      self.tip.appendChild(row);
      ctx.fillStyle = r.s.color; ctx.beginPath(); ctx.arc(self.x(r.t), self.y(r.v), 3, 0, 2 * Math.PI); ctx.fill();
    });
    if (rows.length > 8) {
      var more = document.createElement("div");
      more.className = "muted";
      more.textContent = "and " + (rows.length - 8) + " more";
      this.tip.appendChild(more);
    }
    this.tip.hidden = false;
    this.tip.style.left = Math.min(mx + 12, this.width - 220) + "px";
    this.tip.style.top = "4px";
  };

  Chart.prototype.unhover = function () {
    this.overlay.getContext("2d").clearRect(0, 0, this.width, this.height);
    this.tip.hidden = true;
  };

  window.MetricsCharts = { Chart: Chart, formatValue: formatValue, formatTime: formatTime };
})();
