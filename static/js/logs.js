// The log viewer: follows one container, or every pod of a workload, over the live websocket
// (the "logs" kind, see deployments/logs/__init__.py). Lines carry a cursor per stream, so a
// reconnect resumes after the last one shown and a line is never shown twice. The page keeps
// at most data-max-lines lines (the download has them all).
(function () {
  "use strict";

  var CLOSE_UNAUTHENTICATED = 4401;
  var COLOURS = 8;

  function start(root) {
    var d = root.dataset;
    var workload = !!d.workloadKind;
    var maxLines = parseInt(d.maxLines, 10) || 10000;
    var tail = d.tail ? parseInt(d.tail, 10) : null;
    var cursors = {}; // "pod/container" -> last cursor shown
    var colours = {};
    var hiddenContainers = {};
    var follow = true;
    var shown = 0;
    var dropped = 0;
    var filter = { text: "", regex: null, only: false };
    var q = function (sel) { return document.querySelector(sel); };
    var stateEl = q("[data-log-state]");
    var resumeButton = q("[data-log-resume]");

    function setState(text, kind) {
      if (!stateEl) return;
      stateEl.textContent = text;
      stateEl.dataset.state = kind || "";
    }

    function note(sel, text) {
      var el = q(sel);
      if (!el) return;
      el.textContent = text;
      el.hidden = !text;
    }

    function colourOf(pod) {
      if (!(pod in colours)) colours[pod] = Object.keys(colours).length % COLOURS;
      return "pod-c" + colours[pod];
    }

    // Filtering and highlighting ----------------------------------------------------------
    function matcher() {
      if (filter.regex) return filter.regex;
      if (!filter.text) return null;
      var escaped = filter.text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
      return new RegExp(escaped, "gi");
    }

    function paint(line) {
      var span = line.querySelector(".log-text");
      var text = line.logText;
      var re = matcher();
      span.textContent = "";
      var matched = false;
      if (re) {
        re.lastIndex = 0;
        var at = 0;
        var m;
        while ((m = re.exec(text)) !== null) {
          if (m[0] === "") { re.lastIndex += 1; continue; }
          matched = true;
          span.appendChild(document.createTextNode(text.slice(at, m.index)));
          var mark = document.createElement("mark");
          mark.textContent = m[0];
          span.appendChild(mark);
          at = m.index + m[0].length;
        }
        span.appendChild(document.createTextNode(text.slice(at)));
      } else {
        span.textContent = text;
      }
      var hideByFilter = filter.only && re !== null && !matched;
      line.hidden = hideByFilter || !!hiddenContainers[line.dataset.container];
    }

    function repaintAll() {
      Array.prototype.forEach.call(root.children, paint);
    }

    // Lines -----------------------------------------------------------------------------------
    function makeLine(pod, container, cursor, ts, text) {
      var key = pod + "/" + container;
      if (cursors[key] !== undefined && cursor <= cursors[key]) return null;
      cursors[key] = cursor;
      var line = document.createElement("div");
      line.className = "log-line";
      line.dataset.pod = pod;
      line.dataset.container = container;
      line.dataset.cursor = cursor;
      line.logText = text;
      var stamp = document.createElement("span");
      stamp.className = "log-ts";
      stamp.textContent = ts + " ";
      line.appendChild(stamp);
      if (workload) {
        var src = document.createElement("span");
        src.className = "log-src " + colourOf(pod);
        src.textContent = pod + "/" + container + " ";
        line.appendChild(src);
      }
      var body = document.createElement("span");
      body.className = "log-text";
      line.appendChild(body);
      paint(line);
      return line;
    }

    function append(lines) {
      // lines: [pod, container, cursor, ts, text]
      var frag = document.createDocumentFragment();
      lines.forEach(function (l) {
        var line = makeLine(l[0], l[1], l[2], l[3], l[4]);
        if (line) { frag.appendChild(line); shown += 1; }
      });
      root.appendChild(frag);
      var over = root.children.length - maxLines;
      while (over-- > 0) root.removeChild(root.firstChild);
      if (root.children.length >= maxLines) q("[data-log-capped]").hidden = false;
      // The reader may have scrolled up since the last automatic scroll, before the scroll
      // event told us: that pauses auto-scroll too.
      if (follow && root.scrollTop < lastAuto - 5) pause();
      if (follow) scrollToEnd();
    }

    var lastAuto = 0;
    function scrollToEnd() {
      root.scrollTop = root.scrollHeight;
      lastAuto = root.scrollTop;
    }

    function pause() {
      follow = false;
      if (resumeButton) resumeButton.hidden = false;
    }

    function streamLines(stream, lines) {
      return lines.map(function (l) { return [stream.pod, stream.container, l[0], l[1], l[2]]; });
    }

    function describeState(m, who) {
      var where = who ? who + ": " : "";
      if (m.state === "ended") {
        return where + "pod deleted" + (m.ended_at ? " at " + m.ended_at : "") + ", showing kept lines";
      }
      if (m.state === "terminated") return where + "container terminated; waiting for a restart";
      if (m.state === "restarted") return where + (m.detail || "container restarted") + "; following the new instance";
      if (m.state === "error") return where + "cannot read the log: " + (m.reason || m.detail || "");
      if (m.state === "waiting") return where + "container not started yet: " + (m.reason || "");
      return "";
    }

    function markPod(stream, text) {
      var item = document.querySelector('[data-pod-item="' + CSS.escape(stream.pod) + '"]');
      if (!item) {
        var list = q("[data-log-pods]");
        if (!list) return;
        item = document.createElement("li");
        item.dataset.podItem = stream.pod;
        item.textContent = stream.pod;
        list.appendChild(item);
      }
      item.classList.add(colourOf(stream.pod));
      if (text !== undefined) item.dataset.state = text;
      item.title = text || "";
      item.classList.toggle("ended", /deleted/.test(text || ""));
    }

    function onMessage(m) {
      switch (m.type) {
        case "logs.backlog":
          append(streamLines(m.stream, m.lines));
          if (m.previous) setState("previous instance (not followed)", "ok");
          else setState(m.state === "ended" ? "pod gone" : "following", m.state === "ended" ? "error" : "ok");
          note("[data-log-status]", describeState(m));
          if (m.missed) note("[data-log-dropped]", m.missed + " lines were written while disconnected and are no longer kept here; the download has what the cluster still holds");
          break;
        case "logs.workload_backlog":
          m.streams.forEach(function (s) { markPod(s, describeState(s)); });
          append(m.lines.map(function (l) { return [l[1], l[2], l[3], l[0], l[4]]; }));
          setState("following " + Object.keys(colours).length + " pods", "ok");
          break;
        case "logs.lines":
          append(streamLines(m.stream, m.lines));
          break;
        case "logs.dropped":
          dropped += m.count;
          note("[data-log-dropped]", dropped + " lines dropped to protect the browser; the download has them all");
          break;
        case "logs.status":
          var text = describeState(m);
          if (workload) markPod(m.stream, text || m.state);
          else note("[data-log-status]", text);
          break;
        case "error":
          setState(m.error, "error");
          break;
      }
    }

    // The socket ------------------------------------------------------------------------------
    function subscription() {
      var s = { cluster: d.cluster, kind: "logs", namespace: d.namespace, tail_lines: tail };
      if (workload) {
        s[d.workloadKind] = d.workloadName;
        if (Object.keys(cursors).length) s.cursors = cursors;
      } else {
        s.pod = d.pod;
        s.container = d.container;
        s.previous = d.previous === "1";
        s.timestamps = root.classList.contains("show-ts");
        var k = d.pod + "/" + d.container;
        if (cursors[k] !== undefined) s.cursor = cursors[k];
      }
      return s;
    }

    function connect(attempt) {
      if (!workload && !d.container) {
        setState("this pod has no containers to read", "error");
        return;
      }
      var scheme = location.protocol === "https:" ? "wss://" : "ws://";
      var socket = new WebSocket(scheme + location.host + "/ws/live/");
      socket.onopen = function () {
        attempt = 0;
        socket.send(JSON.stringify({ subscribe: subscription() }));
      };
      socket.onmessage = function (event) {
        try {
          onMessage(JSON.parse(event.data));
        } catch (err) {
          console.error("logs: bad message", err);
        }
      };
      socket.onclose = function (event) {
        if (event.code === CLOSE_UNAUTHENTICATED) {
          setState("session ended: sign in again", "error");
          return;
        }
        var delay = Math.min(30000, 500 * Math.pow(2, attempt));
        setState("disconnected, reconnecting in " + Math.round(delay / 1000) + " s", "error");
        setTimeout(function () { connect(attempt + 1); }, delay);
      };
    }

    // Controls --------------------------------------------------------------------------------
    root.addEventListener("scroll", function () {
      var atBottom = root.scrollHeight - root.scrollTop - root.clientHeight < 30;
      if (!atBottom && root.scrollTop < lastAuto - 5) pause();
      else if (atBottom && !follow) resume();
    });
    function resume() {
      follow = true;
      if (resumeButton) resumeButton.hidden = true;
      scrollToEnd();
    }
    if (resumeButton) resumeButton.addEventListener("click", resume);
    var filterInput = q("[data-log-filter]");
    var regexBox = q("[data-log-regex]");
    function readFilter() {
      filter.text = filterInput.value;
      filter.regex = null;
      filterInput.setCustomValidity("");
      if (regexBox && regexBox.checked && filter.text) {
        try {
          filter.regex = new RegExp(filter.text, "gi");
        } catch (err) {
          filterInput.setCustomValidity("not a regular expression: " + err.message);
          filterInput.reportValidity();
        }
      }
      repaintAll();
    }
    if (filterInput) filterInput.addEventListener("input", readFilter);
    if (regexBox) regexBox.addEventListener("change", readFilter);
    var only = q("[data-log-only]");
    if (only) only.addEventListener("change", function () { filter.only = only.checked; repaintAll(); });
    var wrap = q("[data-log-wrap]");
    if (wrap) wrap.addEventListener("change", function () { root.classList.toggle("nowrap", !wrap.checked); });
    var stamps = q("[data-log-timestamps]");
    var download = q("[data-log-download]");
    function showStamps() {
      root.classList.toggle("show-ts", stamps.checked);
      if (download) {
        var url = new URL(download.href, location.href);
        url.searchParams.set("timestamps", stamps.checked ? "true" : "false");
        download.href = url.pathname + url.search;
      }
    }
    if (stamps) stamps.addEventListener("change", showStamps);
    if (stamps) showStamps();
    document.querySelectorAll("[data-log-choice]").forEach(function (el) {
      if (el.type === "checkbox") el.addEventListener("change", function () { el.form.submit(); });
    });
    document.querySelectorAll("[data-log-container]").forEach(function (box) {
      box.addEventListener("change", function () {
        hiddenContainers[box.value] = !box.checked;
        repaintAll();
      });
    });
    connect(0);
  }

  document.addEventListener("DOMContentLoaded", function () {
    var root = document.getElementById("log-root");
    if (root) start(root);
  });
})();
