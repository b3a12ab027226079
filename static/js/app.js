// Taskpulse page script: live-connection status, presence heartbeats and the
// offline queue for progress updates. No dependencies; htmx and its
// WebSocket extension do the live swapping.
(function () {
  "use strict";

  var socket = null;
  var lastActivitySent = 0;
  var ACTIVITY_EVERY_MS = 60000;

  function setLiveStatus(text, ok) {
    document.querySelectorAll("[data-live-status]").forEach(function (el) {
      el.textContent = text;
      el.classList.toggle("is-live", ok);
    });
  }

  document.body.addEventListener("htmx:wsOpen", function (e) {
    socket = e.detail.socketWrapper;
    setLiveStatus("Live", true);
    lastActivitySent = 0;
    reportActivity();
    flush();
  });
  document.body.addEventListener("htmx:wsClose", function () {
    socket = null;
    setLiveStatus("Offline — reconnecting…", false);
  });

  // Presence: tell the server the person is active, at most once a minute.
  function reportActivity() {
    var now = Date.now();
    if (socket && now - lastActivitySent > ACTIVITY_EVERY_MS) {
      lastActivitySent = now;
      socket.send(JSON.stringify({ type: "active" }));
    }
  }
  ["keydown", "pointerdown", "scroll", "focus"].forEach(function (type) {
    window.addEventListener(type, reportActivity, { passive: true, capture: true });
  });

  // ---------- Toasts and dialogs ----------
  // Messages stay in view (the box is fixed), are announced (role=alert)
  // and close with their button; they also leave on their own after a while.
  function toast(message) {
    var box = document.getElementById("toasts");
    if (!box) return;
    var div = document.createElement("div");
    div.className = "toast toast-error";
    div.setAttribute("role", "alert");
    var text = document.createElement("p");
    text.textContent = message;
    var close = document.createElement("button");
    close.type = "button";
    close.className = "toast-close";
    close.setAttribute("data-dismiss", "");
    close.setAttribute("aria-label", "Dismiss");
    close.textContent = "\u00d7";
    div.appendChild(text);
    div.appendChild(close);
    box.appendChild(div);
    setTimeout(function () { div.remove(); }, 15000);
  }
  document.addEventListener("click", function (e) {
    var dismiss = e.target.closest && e.target.closest("[data-dismiss]");
    if (dismiss) dismiss.closest(".toast").remove();
    // A button that opens a confirmation <dialog> (no inline script).
    var opener = e.target.closest && e.target.closest("[data-opens]");
    if (opener) {
      var dialog = document.getElementById(opener.getAttribute("data-opens"));
      if (dialog && dialog.showModal) dialog.showModal();
    }
  });

  // ---------- People pickers: type to narrow a long list ----------
  document.addEventListener("input", function (e) {
    var id = e.target.getAttribute && e.target.getAttribute("data-filter-for");
    var select = id && document.getElementById(id);
    if (!select) return;
    var words = e.target.value.toLowerCase().split(/\s+/).filter(Boolean);
    Array.prototype.forEach.call(select.options, function (option) {
      var text = option.textContent.toLowerCase();
      // Chosen people stay in view whatever the filter.
      option.hidden = !option.selected && !words.every(function (w) { return text.indexOf(w) >= 0; });
    });
  });

  // ---------- Chosen people as chips (removable) above their picker ----------
  function renderChips(list) {
    var select = document.getElementById(list.getAttribute("data-chips-for"));
    if (!select) return;
    list.textContent = "";
    Array.prototype.forEach.call(select.selectedOptions, function (option) {
      var item = document.createElement("li");
      item.textContent = option.textContent + " ";
      var remove = document.createElement("button");
      remove.type = "button";
      remove.className = "chip-remove";
      remove.textContent = "×";
      remove.setAttribute("aria-label", "Remove " + option.textContent);
      remove.addEventListener("click", function () {
        option.selected = false;
        renderChips(list);
        select.focus();
      });
      item.appendChild(remove);
      list.appendChild(item);
    });
  }
  document.querySelectorAll("[data-chips-for]").forEach(renderChips);
  document.addEventListener("change", function (e) {
    var id = e.target.id;
    var list = id && document.querySelector('[data-chips-for="' + id + '"]');
    if (list) renderChips(list);
  });

  // ---------- Skills: type to narrow the list (chosen ones stay) ----------
  document.addEventListener("input", function (e) {
    var id = e.target.getAttribute && e.target.getAttribute("data-filter-skills");
    var box = id && document.getElementById(id);
    if (!box) return;
    var words = e.target.value.toLowerCase().split(/\s+/).filter(Boolean);
    box.querySelectorAll(".skill-pick").forEach(function (pick) {
      var text = pick.textContent.toLowerCase();
      var chosen = pick.querySelector("select").value !== "";
      pick.hidden = !chosen && !words.every(function (w) { return text.indexOf(w) >= 0; });
    });
  });

  // ---------- Sortable tables (the rows of the current page) ----------
  document.addEventListener("click", function (e) {
    var button = e.target.closest && e.target.closest("button[data-sort]");
    if (!button) return;
    var table = button.closest("table");
    var body = table && table.tBodies[0];
    if (!body) return;
    var key = "sort" + button.getAttribute("data-sort").replace(/^./, function (c) { return c.toUpperCase(); });
    var ascending = button.getAttribute("aria-sort") !== "ascending";
    table.querySelectorAll("button[data-sort]").forEach(function (b) { b.removeAttribute("aria-sort"); });
    button.setAttribute("aria-sort", ascending ? "ascending" : "descending");
    var numeric = ["sortKey", "sortPriority", "sortProgress", "sortDue"].indexOf(key) >= 0;
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = a.dataset[key] || "", y = b.dataset[key] || "";
      var order = numeric ? Number(x) - Number(y) : x.localeCompare(y);
      return ascending ? order : -order;
    });
    rows.forEach(function (row) { body.appendChild(row); });
  });

  // ---------- Sidebar on narrow screens ----------
  var menu = document.querySelector("[data-menu]");
  var sidebar = document.getElementById("sidebar");
  if (menu && sidebar) {
    menu.addEventListener("click", function () {
      var open = menu.getAttribute("aria-expanded") !== "true";
      menu.setAttribute("aria-expanded", String(open));
      sidebar.classList.toggle("is-open", open);
      if (open) { var first = sidebar.querySelector("a"); if (first) first.focus(); }
    });
    document.addEventListener("keydown", function (e) {
      if (e.key === "Escape" && sidebar.classList.contains("is-open")) {
        sidebar.classList.remove("is-open");
        menu.setAttribute("aria-expanded", "false");
        menu.focus();
      }
    });
  }

  // ---------- Offline queue ----------
  var root = document.querySelector("[data-offline-queue]");
  if (!root) return;
  var storageKey = "taskpulse-queue-" + root.getAttribute("data-offline-queue");
  var sending = false;
  var retryTimer = null;
  var signedOut = false;

  function load() {
    try {
      return JSON.parse(localStorage.getItem(storageKey) || "[]");
    } catch (err) {
      return [];
    }
  }
  function save(queue) {
    localStorage.setItem(storageKey, JSON.stringify(queue));
    showPending(queue);
  }
  function newKey() {
    var bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }
  function csrfToken() {
    var headers = document.body.getAttribute("hx-headers");
    try {
      return JSON.parse(headers)["X-CSRF-Token"];
    } catch (err) {
      return "";
    }
  }

  function showPending(queue) {
    var byTask = {};
    queue.forEach(function (item) { byTask[item.task] = (byTask[item.task] || 0) + 1; });
    document.querySelectorAll(".progress-form").forEach(function (form) {
      var note = form.querySelector(".pending-note");
      var n = byTask[form.getAttribute("data-task")] || 0;
      if (!note) return;
      note.hidden = n === 0;
      note.textContent = n === 0 ? "" : n + (n === 1 ? " update" : " updates") + " waiting to be sent";
    });
    var status = document.querySelector("[data-queue-status]");
    if (status) {
      status.hidden = queue.length === 0;
      status.textContent = queue.length === 0 ? "" :
        queue.length + " pending " + (queue.length === 1 ? "update" : "updates") + "; they are sent when the connection returns.";
    }
  }

  function swapState(html) {
    var tpl = document.createElement("template");
    tpl.innerHTML = html.trim();
    var fresh = tpl.content.firstElementChild;
    var old = fresh && document.getElementById(fresh.id);
    if (old) {
      old.replaceWith(fresh);
      var form = fresh.closest("form");
      var slider = form && form.querySelector("[data-role=slider]");
      if (slider) slider.value = fresh.getAttribute("data-progress");
    }
  }

  function scheduleRetry() {
    if (retryTimer) return;
    retryTimer = setTimeout(function () { retryTimer = null; flush(); }, 3000);
  }

  // Sends queued updates one at a time, in order. A network failure, a
  // server error or "try later" stops the run (kept for later); any other
  // answer, success or refusal, removes the item: a replay of the same key is
  // harmless. Signed out, the queue waits for a page loaded after signing in.
  function flush() {
    if (sending) return;
    var queue = load();
    if (queue.length === 0) return;
    sending = true;
    var item = queue[0];
    var body = new URLSearchParams(item.body);
    body.set("csrf_token", csrfToken());
    fetch(item.url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Accept": "application/json", "X-CSRF-Token": csrfToken() },
      body: body
    }).then(function (res) {
      return res.json().catch(function () { return {}; }).then(function (data) {
        if (res.status === 401) {
          signedOut = true;
          toast("Your session ended; sign in again to send the pending updates.");
          throw new Error("signed out");
        }
        if (res.status >= 500 || res.status === 408 || res.status === 429) throw new Error("try later");
        var rest = load().filter(function (q) { return q.key !== item.key; });
        save(rest);
        if (res.ok) {
          if (data.state_html) swapState(data.state_html);
        } else {
          toast(data.error || "The update was refused.");
        }
        sending = false;
        flush();
      });
    }).catch(function () {
      sending = false;
      showPending(load());
      if (!signedOut) scheduleRetry();
    });
  }

  document.addEventListener("submit", function (e) {
    var form = e.target;
    if (!form.classList || !form.classList.contains("progress-form")) return;
    e.preventDefault();
    var data = new FormData(form, e.submitter);
    var queue = load();
    // Behind other pending updates, the version the page shows is already
    // stale: send it as "apply to the current state", in order.
    if (queue.length > 0) data.delete("version");
    data.set("idempotency_key", newKey());
    queue.push({
      task: form.getAttribute("data-task"),
      url: form.getAttribute("action"),
      key: data.get("idempotency_key"),
      body: new URLSearchParams(data).toString()
    });
    save(queue);
    var notes = form.querySelector("textarea[name=notes]");
    if (notes) notes.value = "";
    flush();
  });

  document.addEventListener("input", function (e) {
    if (e.target.matches && e.target.matches("[data-role=slider]")) {
      var out = e.target.form && e.target.form.querySelector("[data-role=percent]");
      if (out) out.textContent = e.target.value + "%";
    }
  });

  // A live update or resync may re-render cards: show their pending updates again.
  document.body.addEventListener("htmx:wsAfterMessage", function () { showPending(load()); });
  window.addEventListener("online", flush);
  showPending(load());
  flush();
})();
