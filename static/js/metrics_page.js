// The metrics pages: charts from the series the page was rendered with (#metrics-data), then
// each new sample from the live websocket's "metrics" subscription appended to them.
(function () {
  "use strict";

  function chartsFor(data) {
    var charts = {};
    document.querySelectorAll("[data-chart]").forEach(function (el) {
      var name = el.dataset.chart;
      var series = data.series.filter(function (s) { return s.name === name; });
      var refs = [];
      if (data.capacity && (name === "cpu" || name === "memory")) {
        var alloc = data.capacity.allocatable[name], req = data.capacity.requested[name];
        if (alloc !== null) refs.push({ label: "allocatable", value: alloc, color: "#111827" });
        if (req !== null) refs.push({ label: "requested", value: req, color: "#f59e0b" });
      }
      var chart = new window.MetricsCharts.Chart(el, {
        unit: series.length ? series[0].unit : el.dataset.unit || "", span: data.window_seconds, refs: refs,
      });
      chart.step = data.step_seconds;
      series.forEach(function (s) { chart.add(s.label, s.points, null, s.label === "total" || s.label === "used"); });
      chart.draw();
      charts[name] = chart;
    });
    return charts;
  }

  function apply(charts, data, message) {
    var t = message.t, v = message.values || {};
    function put(name, label, value) { if (charts[name]) charts[name].append(label, t, value); }
    if (data.kind === "deployment") {
      Object.keys(message.pods || {}).forEach(function (pod) {
        put("cpu", pod, message.pods[pod][0]);
        put("memory", pod, message.pods[pod][1]);
      });
      put("cpu", "total", v.cpu); put("memory", "total", v.memory);
      put("replicas", "spec", v.replicas); put("replicas", "ready", v.ready);
      put("autoscaler", "current", v.hpa_current); put("autoscaler", "target", v.hpa_target);
    } else {
      var label = data.kind === "node" ? "used" : data.name;
      put("cpu", label, v.cpu); put("memory", label, v.memory);
    }
    document.querySelectorAll("[data-newest]").forEach(function (el) {
      el.dataset.newest = String(t);
      el.textContent = window.MetricsCharts.formatTime(t);
    });
  }

  function connect(data, charts, attempt) {
    var indicator = document.querySelector("[data-metrics-live]");
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var socket = new WebSocket(scheme + location.host + "/ws/live/");
    var subscription = JSON.parse(document.getElementById("metrics-subscription").textContent);
    socket.onopen = function () { socket.send(JSON.stringify({ subscribe: subscription })); };
    socket.onmessage = function (event) {
      var message = JSON.parse(event.data);
      if (message.type === "subscribed" && indicator) { indicator.textContent = "live"; indicator.dataset.state = "live"; attempt = 0; }
      else if (message.type === "error" && indicator) { indicator.textContent = message.error; indicator.dataset.state = "error"; }
      else if (message.type === "metrics.sample") {
        // The page said "no samples yet": now there are, so show them.
        if (data.status !== "ok") { location.reload(); return; }
        apply(charts, data, message);
      }
    };
    socket.onclose = function () {
      if (indicator) { indicator.textContent = "reconnecting…"; indicator.dataset.state = "down"; }
      setTimeout(function () { connect(data, charts, attempt + 1); }, Math.min(30000, 1000 * Math.pow(2, attempt)));
    };
  }

  function ages() {
    document.querySelectorAll("[data-age-of]").forEach(function (el) {
      var t = +document.querySelector(el.dataset.ageOf).dataset.newest;
      if (t) el.textContent = Math.max(0, Math.round(Date.now() / 1000 - t)) + " s ago";
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var holder = document.getElementById("metrics-data");
    if (!holder || !window.MetricsCharts) return;
    var data = JSON.parse(holder.textContent);
    var charts = data.status === "ok" ? chartsFor(data) : {};
    window.metricsPage = { data: data, charts: charts };
    if (data.status !== "no_metrics_api") connect(data, charts, 0);
    ages();
    setInterval(ages, 1000);
  });
})();
