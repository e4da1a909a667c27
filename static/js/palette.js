// The command palette and the single-key shortcuts.
//
// On any page of a cluster, "/" (or Ctrl-K / Cmd-K) opens the palette: type part of a
// workload's name, pick it with the arrow keys and Enter, and its page opens. The matches
// come from /c/<cluster>/search/ (#palette-root names it), which reads the watcher's cache
// and only answers with namespaces this user may view.
//
// On a page whose elements carry data-shortcut="<key>" (the deployment page's actions), that
// key opens the action: a <details class="confirm"> is opened with its first field focused,
// so nothing happens until its confirm button is pressed; a link is followed. Escape closes an
// open confirmation. Keys typed into a field, or with Ctrl/Alt/Cmd held, are never shortcuts.
(function () {
  "use strict";

  var DEBOUNCE_MS = 120;
  var RETRY_MS = 2000;

  function editable(el) {
    if (!el || !el.tagName) return false;
    var tag = el.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || el.isContentEditable;
  }

  // The palette ---------------------------------------------------------------------------

  function Palette(root) {
    this.url = root.dataset.searchUrl;
    this.results = [];
    this.selected = -1;
    this.timer = null;
    this.retry = null;
    this.controller = null;
    this.seq = 0;
    this.enterWaiting = false;
    this.returnFocus = null;
    this.build(root.dataset.clusterLabel || "");
  }

  Palette.prototype.build = function (clusterLabel) {
    var self = this;
    var dialog = document.createElement("dialog");
    dialog.id = "palette";
    dialog.className = "palette";
    dialog.setAttribute("aria-label", "Jump to a workload");
    var label = document.createElement("label");
    label.htmlFor = "palette-input";
    label.className = "palette-label";
    label.textContent = "Jump to a workload" + (clusterLabel ? " on " + clusterLabel : "");
    var input = document.createElement("input");
    input.id = "palette-input";
    input.type = "text";
    input.autocomplete = "off";
    input.spellcheck = false;
    input.placeholder = "part of a deployment's name, or namespace/name";
    input.setAttribute("role", "combobox");
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-controls", "palette-results");
    input.setAttribute("aria-expanded", "false");
    var list = document.createElement("ul");
    list.id = "palette-results";
    list.className = "palette-results";
    list.setAttribute("role", "listbox");
    list.setAttribute("aria-label", "Matching workloads");
    var status = document.createElement("p");
    status.className = "palette-status small muted";
    status.setAttribute("aria-live", "polite");
    var hint = document.createElement("p");
    hint.className = "palette-hint small muted";
    hint.textContent = "↑ ↓ to choose, Enter to open, Esc to close";
    dialog.append(label, input, list, status, hint);
    document.body.appendChild(dialog);
    this.dialog = dialog;
    this.input = input;
    this.list = list;
    this.status = status;

    input.addEventListener("input", function () { self.schedule(); });
    input.addEventListener("keydown", function (event) { self.onKey(event); });
    dialog.addEventListener("close", function () { self.closed(); });
    // A click on the backdrop (the dialog element itself, outside its box) closes it.
    dialog.addEventListener("click", function (event) {
      if (event.target === dialog) dialog.close();
    });
  };

  Palette.prototype.isOpen = function () {
    return this.dialog.open;
  };

  Palette.prototype.open = function () {
    if (this.isOpen()) {
      this.input.focus();
      return;
    }
    this.returnFocus = document.activeElement;
    this.dialog.showModal();
    this.input.value = "";
    this.input.focus();
    this.search();
  };

  Palette.prototype.closed = function () {
    clearTimeout(this.timer);
    clearTimeout(this.retry);
    this.timer = null;
    if (this.controller) this.controller.abort();
    this.controller = null;
    this.enterWaiting = false;
    this.input.setAttribute("aria-expanded", "false");
    if (this.returnFocus && this.returnFocus.focus && document.contains(this.returnFocus)) {
      this.returnFocus.focus();
    }
  };

  Palette.prototype.schedule = function () {
    var self = this;
    clearTimeout(this.timer);
    this.timer = setTimeout(function () {
      self.timer = null;
      self.search();
    }, DEBOUNCE_MS);
  };

  Palette.prototype.pending = function () {
    return this.timer !== null || this.controller !== null;
  };

  Palette.prototype.search = function () {
    var self = this;
    if (this.controller) this.controller.abort();
    var controller = new AbortController();
    this.controller = controller;
    var seq = ++this.seq;
    var query = this.input.value;
    fetch(this.url + "?q=" + encodeURIComponent(query), {
      headers: { Accept: "application/json" },
      credentials: "same-origin",
      signal: controller.signal,
    }).then(function (response) {
      var json = (response.headers.get("Content-Type") || "").indexOf("application/json") === 0;
      if (!json) throw new Error("signed out? reload the page");
      return response.json().then(function (body) { return { status: response.status, body: body }; });
    }).then(function (answer) {
      if (seq !== self.seq) return;
      self.controller = null;
      self.show(answer.status, answer.body);
    }).catch(function (err) {
      if (err.name === "AbortError" || seq !== self.seq) return;
      self.controller = null;
      self.results = [];
      self.render();
      self.status.textContent = "Search failed: " + err.message;
    });
  };

  Palette.prototype.show = function (status, body) {
    this.results = body.results || [];
    this.selected = this.results.length ? 0 : -1;
    this.render();
    if (status !== 200) {
      var why = body.note || (body.errors && JSON.stringify(body.errors)) || "status " + status;
      this.status.textContent = "Search unavailable: " + why;
      // The watcher's cache comes back by itself (a relist, a restarted watcher): ask again.
      if (status === 503) this.retryLater();
    } else if (!this.results.length) {
      this.status.textContent = "No workload matches.";
    } else {
      var more = body.total > this.results.length ? " (first " + this.results.length + " of " + body.total + ")" : "";
      this.status.textContent = this.results.length + " match" + (this.results.length === 1 ? "" : "es") + more + ", from the watcher cache";
    }
    if (this.enterWaiting) {
      this.enterWaiting = false;
      this.go();
    }
  };

  Palette.prototype.retryLater = function () {
    var self = this;
    clearTimeout(this.retry);
    this.retry = setTimeout(function () {
      if (self.isOpen() && !self.pending()) self.search();
    }, RETRY_MS);
  };

  Palette.prototype.render = function () {
    var self = this;
    this.list.textContent = "";
    this.results.forEach(function (row, index) {
      var item = document.createElement("li");
      item.id = "palette-option-" + index;
      item.setAttribute("role", "option");
      item.setAttribute("aria-selected", index === self.selected ? "true" : "false");
      item.dataset.url = row.url;
      var link = document.createElement("a");
      link.href = row.url;
      link.tabIndex = -1;
      var name = document.createElement("span");
      name.className = "mono";
      name.textContent = row.name;
      var where = document.createElement("span");
      where.className = "muted small";
      where.textContent = " " + row.kind + " in " + row.namespace + " · " + row.ready + "/" + row.desired + " ready";
      link.append(name, where);
      item.appendChild(link);
      item.addEventListener("mousemove", function () { self.select(index); });
      self.list.appendChild(item);
    });
    this.input.setAttribute("aria-expanded", this.results.length ? "true" : "false");
    this.markSelected();
  };

  Palette.prototype.select = function (index) {
    if (!this.results.length) return;
    this.selected = (index + this.results.length) % this.results.length;
    this.markSelected();
  };

  Palette.prototype.markSelected = function () {
    var self = this;
    Array.prototype.forEach.call(this.list.children, function (item, index) {
      var on = index === self.selected;
      item.setAttribute("aria-selected", on ? "true" : "false");
      if (on) item.scrollIntoView({ block: "nearest" });
    });
    if (this.selected >= 0) this.input.setAttribute("aria-activedescendant", "palette-option-" + this.selected);
    else this.input.removeAttribute("aria-activedescendant");
  };

  Palette.prototype.go = function () {
    var row = this.results[this.selected];
    if (row) window.location.assign(row.url);
  };

  Palette.prototype.onKey = function (event) {
    if (event.key === "ArrowDown") {
      event.preventDefault();
      this.select(this.selected + 1);
    } else if (event.key === "ArrowUp") {
      event.preventDefault();
      this.select(this.selected - 1);
    } else if (event.key === "Enter") {
      event.preventDefault();
      // Typed faster than the answer came: go once the answer for what was typed is in.
      if (this.pending()) this.enterWaiting = true;
      else this.go();
    }
    // Escape: the <dialog> closes itself (its cancel event) and focus goes back.
  };

  // Single-key actions ----------------------------------------------------------------------

  function openConfirm(target) {
    document.querySelectorAll("details.confirm[open]").forEach(function (other) {
      if (other !== target) other.open = false;
    });
    target.open = true;
    var field = target.querySelector("form input:not([type=hidden]), form button[type=submit]");
    if (field) {
      field.focus();
      if (field.select) field.select();
    }
    target.scrollIntoView({ block: "nearest" });
  }

  function shortcut(key) {
    if (!/^[a-z]$/.test(key)) return false;
    var targets = Array.prototype.filter.call(
      document.querySelectorAll('[data-shortcut="' + key + '"]'),
      function (el) { return !el.hidden; }
    );
    var target = targets[0];
    if (!target) return false;
    if (target.tagName === "DETAILS") openConfirm(target);
    else target.click();
    return true;
  }

  function closeConfirms() {
    var open = document.querySelectorAll("details.confirm[open]");
    open.forEach(function (details) {
      details.open = false;
      var summary = details.querySelector("summary");
      if (summary) summary.focus();
    });
    return open.length > 0;
  }

  // The action bar is not re-rendered (an open confirmation must stay open), so what it says
  // follows the live rollout card: pause or resume, and which revision a roll back goes to.
  function syncActions() {
    var card = document.getElementById("deployment-rollout");
    if (!card) return;
    var paused = card.dataset.paused === "1";
    var pause = document.getElementById("action-pause");
    var resume = document.getElementById("action-resume");
    if (pause) pause.hidden = paused;
    if (resume) resume.hidden = !paused;
    var rollback = document.getElementById("action-rollback");
    var previous = card.dataset.previousRevision;
    if (!rollback || !previous) return;
    var text = rollback.querySelector("[data-rollback-text]");
    if (text) {
      text.textContent = "Go back from revision " + card.dataset.revision + " to revision " +
        previous + ", as kubectl rollout undo.";
      text.hidden = false;
    }
    rollback.querySelectorAll("[data-rollback-none]").forEach(function (el) { el.hidden = true; });
    rollback.querySelectorAll("[data-rollback-later]").forEach(function (el) { el.hidden = false; });
  }

  function addOpener(palette) {
    var account = document.querySelector(".topbar .account");
    if (!account) return;
    var button = document.createElement("button");
    button.type = "button";
    button.className = "link palette-open";
    button.setAttribute("aria-keyshortcuts", "/ Control+K Meta+K");
    button.append("Jump to… ");
    var kbd = document.createElement("kbd");
    kbd.textContent = "/";
    button.appendChild(kbd);
    button.addEventListener("click", function () { palette.open(); });
    account.insertBefore(button, account.firstChild);
  }

  document.addEventListener("DOMContentLoaded", function () {
    var root = document.getElementById("palette-root");
    var palette = root && root.dataset.searchUrl ? new Palette(root) : null;
    if (palette) addOpener(palette);
    syncActions();
    document.body.addEventListener("htmx:afterSettle", syncActions);

    document.addEventListener("keydown", function (event) {
      if (event.defaultPrevented || event.isComposing) return;
      if (palette && palette.isOpen()) return; // its own keys, and the dialog's Escape
      var modifier = event.ctrlKey || event.metaKey;
      if (palette && modifier && !event.altKey && !event.shiftKey && event.key.toLowerCase() === "k") {
        event.preventDefault();
        palette.open();
        return;
      }
      if (modifier || event.altKey) return;
      if (event.key === "Escape") {
        if (closeConfirms()) event.preventDefault();
        return;
      }
      if (editable(event.target)) return;
      if (event.key === "/" && palette) {
        event.preventDefault();
        palette.open();
      } else if (shortcut(event.key)) {
        event.preventDefault();
      }
    });
  });
})();
