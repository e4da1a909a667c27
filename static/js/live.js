// Live pages: one websocket to /ws/live/, subscriptions declared by #live-root, and section
// refreshes through htmx. Elements with data-live-on="kind ..." and hx-trigger="live-refresh"
// are re-rendered by the server when one of their kinds changes (debounced), so the numbers
// shown are always computed server-side from the watcher's cache.
(function () {
  "use strict";

  // A burst of changes (a rollout, a big relist) becomes one refresh: a section waits
  // DEBOUNCE_MS after a change, and refreshes at most once every MIN_INTERVAL_MS.
  var DEBOUNCE_MS = 300;
  var MIN_INTERVAL_MS = 1500;
  var pending = new Map();
  var lastRefresh = new Map();

  function configureHtmx() {
    if (!window.htmx) return;
    // Form errors (400 invalid, 404 gone, 502/503 cluster trouble) come back as fragments.
    htmx.config.responseHandling = [
      { code: "204", swap: false },
      { code: "[23]..", swap: true },
      { code: "(400|404|409|502|503)", swap: true, error: false },
      { code: "[45]..", swap: false, error: true },
    ];
  }

  function setIndicator(text, state) {
    document.querySelectorAll("[data-live-indicator]").forEach(function (el) {
      el.textContent = text;
      el.dataset.state = state;
    });
  }

  // The server closes the socket with these codes when the session is gone (logged out in
  // another tab, expired) or the account was deactivated: controlplane/live/consumers.py.
  var CLOSE_UNAUTHENTICATED = 4401;
  var CLOSE_DEACTIVATED = 4403;

  function loginUrl() {
    var login = document.body.dataset.loginUrl || "/accounts/login/";
    return login + "?next=" + encodeURIComponent(location.pathname + location.search);
  }

  var ended = false;

  function sessionEnded() {
    // Refreshes still pending would only be sent to the login page: the indicator says it.
    ended = true;
    pending.forEach(function (timer) { clearTimeout(timer); });
    pending.clear();
    document.querySelectorAll("[data-live-indicator]").forEach(function (el) {
      var link = document.createElement("a");
      link.href = loginUrl();
      link.textContent = "sign in again";
      el.textContent = "session ended — ";
      el.appendChild(link);
      el.dataset.state = "ended";
    });
  }

  function refresh(el) {
    // A user typing into a form inside the section keeps their input: refresh after blur.
    if (el.contains(document.activeElement) && document.activeElement.tagName === "INPUT") {
      document.activeElement.addEventListener("blur", function () { schedule(el); }, { once: true });
      return;
    }
    lastRefresh.set(el.id, Date.now());
    // A row has its own event: "live-refresh" would bubble up and refresh its section too.
    if (window.htmx) htmx.trigger(el, el.dataset.liveKey ? "live-refresh-row" : "live-refresh");
  }

  function schedule(el) {
    // Sections are swapped (outerHTML): track them by id, not by element.
    var key = el.id;
    if (ended || pending.has(key)) return;
    var since = Date.now() - (lastRefresh.get(key) || 0);
    var delay = Math.max(DEBOUNCE_MS, MIN_INTERVAL_MS - since);
    pending.set(key, setTimeout(function () {
      pending.delete(key);
      var current = document.getElementById(key);
      if (current) refresh(current);
    }, delay));
  }

  function sectionsFor(kind) {
    return document.querySelectorAll('[data-live-on~="' + kind + '"]');
  }

  // Which row a change concerns ("namespace/name"): the object's own key, its autoscaler's
  // target for an HPA, the target of an action.
  function rowKey(kind, data) {
    if (kind === "actions") {
      var action = data.action || {};
      return action.namespace && action.name ? action.namespace + "/" + action.name : null;
    }
    if (kind === "horizontalpodautoscalers") {
      var obj = data.object || {};
      var meta = obj.metadata || {};
      var target = (obj.spec || {}).scaleTargetRef || {};
      return target.kind === "Deployment" && meta.namespace ? meta.namespace + "/" + target.name : null;
    }
    return data.key || null;
  }

  // A section with data-live-rows="kinds" re-renders only the row a change of those kinds
  // concerns (each row, data-live-key, refreshes on "live-refresh-row"), so a change to one
  // deployment of thousands never re-sends the list. The whole section is refreshed for what a
  // row cannot show: an object added or deleted, a relist, a change to a row not on this page
  // while a filter or a status column's order could bring it here (no data-live-rows-stable).
  function scheduleFor(section, kind, data) {
    var rowKinds = (section.dataset.liveRows || "").split(/\s+/);
    var key = rowKey(kind, data);
    var modified = kind === "actions" || kind === "horizontalpodautoscalers" || data.event === "MODIFIED";
    if (rowKinds.indexOf(kind) < 0 || !key || !modified) return schedule(section);
    var stable = section.hasAttribute("data-live-rows-stable");
    var row = Array.prototype.find.call(section.querySelectorAll("[data-live-key]"), function (el) {
      return el.dataset.liveKey === key;
    });
    if (row && row.id && stable) schedule(row);
    else if (!stable) schedule(section);
  }

  // Subscriptions of the current connection not yet confirmed.
  var awaiting = 0;

  function onMessage(data) {
    if (data.type === "kube.event") {
      sectionsFor(data.kind).forEach(function (el) { scheduleFor(el, data.kind, data); });
      document.body.dispatchEvent(new CustomEvent("live:kube", { detail: data }));
    } else if (data.type === "action.update") {
      var action = data.action || {};
      document.querySelectorAll('[data-action-id="' + action.id + '"]').forEach(function (el) {
        el.textContent = action.status;
        el.className = "pill status-" + action.status;
        el.title = action.error || "";
      });
      sectionsFor("actions").forEach(function (el) { scheduleFor(el, "actions", data); });
    } else if (data.type === "error") {
      console.warn("live: " + data.error);
      setIndicator("live updates refused: " + data.error, "error");
    } else if (data.type === "subscribed") {
      awaiting -= 1;
      if (awaiting === 0) catchUp();
    }
  }

  // Once every subscription is in place, every live section is re-rendered once (a change
  // between the page's render, or a disconnect, and now reached no subscriber), and only then
  // does the page say "live".
  function catchUp() {
    var ids = Array.prototype.map.call(document.querySelectorAll("[data-live-on]"), function (el) {
      return el.id;
    }).filter(Boolean);
    var left = new Set(ids);
    var settled = false;
    function finish() {
      if (settled) return;
      settled = true;
      document.body.removeEventListener("htmx:afterSettle", onDone);
      document.body.removeEventListener("htmx:responseError", onDone);
      setIndicator("live", "live");
    }
    function onDone(event) {
      var target = event.detail && event.detail.elt;
      if (target && left.delete(target.id) && left.size === 0) finish();
    }
    if (!ids.length || !window.htmx) return finish();
    document.body.addEventListener("htmx:afterSettle", onDone);
    document.body.addEventListener("htmx:responseError", onDone);
    ids.forEach(function (id) {
      var el = document.getElementById(id);
      if (el) refresh(el);
      else left.delete(id);
    });
    if (left.size === 0) finish();
    // A section that never answers must not keep the page from saying it is live.
    setTimeout(finish, 3000);
  }

  function connect(root, attempt) {
    var cluster = root.dataset.liveCluster;
    // A page for one namespace names it; a user whose role covers some namespaces only
    // subscribes in each of them (data-live-namespaces), since cluster-wide is refused.
    var namespaces = (root.dataset.liveNamespaces || "").split(/\s+/).filter(Boolean);
    if (!namespaces.length) namespaces = [root.dataset.liveNamespace || null];
    var kinds = (root.dataset.liveKinds || "").split(/\s+/).filter(Boolean);
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var socket = new WebSocket(scheme + location.host + "/ws/live/");
    socket.onopen = function () {
      attempt = 0;
      kinds.forEach(function (kind) {
        namespaces.forEach(function (namespace) {
          socket.send(JSON.stringify({ subscribe: { cluster: cluster, kind: kind, namespace: namespace } }));
        });
      });
      if (root.dataset.liveActions) {
        socket.send(JSON.stringify({ subscribe: { cluster: cluster, kind: "actions" } }));
      }
      awaiting = kinds.length * namespaces.length + (root.dataset.liveActions ? 1 : 0);
    };
    socket.onmessage = function (event) {
      try {
        onMessage(JSON.parse(event.data));
      } catch (err) {
        console.error("live: bad message", err);
      }
    };
    socket.onclose = function (event) {
      if (event.code === CLOSE_UNAUTHENTICATED) {
        sessionEnded();
        return;
      }
      if (event.code === CLOSE_DEACTIVATED) {
        setIndicator("live updates stopped: this account is deactivated", "error");
        return;
      }
      var delay = Math.min(30000, 500 * Math.pow(2, attempt));
      setIndicator("disconnected, retrying in " + Math.round(delay / 1000) + " s", "error");
      setTimeout(function () { connect(root, attempt + 1); }, delay);
    };
  }

  // "3 s ago" labels stay true while the page is open.
  function tickAges() {
    var now = Date.now() / 1000;
    document.querySelectorAll("[data-as-of]").forEach(function (el) {
      var asOf = parseFloat(el.dataset.asOf);
      var label = el.querySelector(".ago");
      if (!label || isNaN(asOf)) return;
      var s = Math.max(0, Math.round(now - asOf));
      label.textContent = s < 60 ? s + " s ago" : s < 3600 ? Math.floor(s / 60) + " min ago" : Math.floor(s / 3600) + " h ago";
    });
  }

  function reportErrors() {
    document.body.addEventListener("htmx:responseError", function (event) {
      var status = event.detail.xhr.status;
      var text = status === 403 ? "You are not allowed to do that." :
        "The server answered " + status + "; the page may be out of date. Reload to retry.";
      var box = document.getElementById("live-status");
      box.textContent = text;
      box.hidden = false;
    });
    document.body.addEventListener("htmx:sendError", function () {
      var box = document.getElementById("live-status");
      box.textContent = "The server is unreachable; changes were not sent.";
      box.hidden = false;
    });
  }

  function autosubmit() {
    document.querySelectorAll("form[data-autosubmit] select").forEach(function (select) {
      select.addEventListener("change", function () { select.form.submit(); });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    configureHtmx();
    reportErrors();
    autosubmit();
    var root = document.getElementById("live-root");
    if (root && (root.dataset.liveKinds || root.dataset.liveActions)) connect(root, 0);
    setInterval(tickAges, 1000);
  });
})();
