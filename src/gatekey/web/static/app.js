// Gatekey's pages: a few lines of plain JS on top of server-rendered HTML.
(function () {
  "use strict";
  var csrfMeta = document.querySelector('meta[name="csrf"]');
  var csrf = csrfMeta ? csrfMeta.content : "";
  var CHANNEL = "gatekey-oauth";

  function toast(text) {
    var el = document.getElementById("toast");
    if (!el) { return; }
    el.textContent = text;
    el.hidden = false;
    clearTimeout(el._timer);
    el._timer = setTimeout(function () { el.hidden = true; }, 5000);
  }

  // Sent URL-encoded: Gatekey takes no file uploads, and refuses multipart/form-data (415).
  function post(url, body) {
    return fetch(url, {
      method: "POST",
      headers: { "X-CSRF-Token": csrf, "Accept": "application/json" },
      body: new URLSearchParams(body || new FormData()),
      credentials: "same-origin"
    }).then(function (response) {
      return response.json().catch(function () {
        return { ok: false, message: "Gatekey answered " + response.status + "; try again." };
      });
    });
  }

  function placeCard(id, html) {
    var cards = document.getElementById("cards");
    if (!cards || !html) { return; }
    var holder = document.createElement("div");
    holder.innerHTML = html.trim();
    var card = holder.firstElementChild;
    var existing = document.getElementById("card-" + id);
    if (existing) { existing.replaceWith(card); } else { cards.prepend(card); }
    var empty = document.getElementById("empty");
    if (empty) { empty.hidden = true; }
    refreshAttention();
    return card;
  }

  // The "needs attention" banner, as the server sees it now: after a reconnect, a test or a
  // delete it gains or loses connections (and goes away) without a reload.
  function refreshAttention() {
    var holder = document.getElementById("attention");
    if (!holder) { return; }
    fetch("/connections/attention", { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) { if (html !== null) { holder.innerHTML = html; } })
      .catch(function () { /* the next change tries again */ });
  }

  function fillUsage(holder, flows) {
    holder.innerHTML = "";
    var intro = document.createElement("p");
    if (!flows.length) {
      intro.textContent = "No flow uses this connection.";
      holder.appendChild(intro);
      return;
    }
    intro.className = "warning";
    intro.textContent = "These flows use it and will fail until they use another connection:";
    holder.appendChild(intro);
    var list = document.createElement("ul");
    flows.forEach(function (flow) {
      var item = document.createElement("li");
      item.textContent = flow.name + " (step" + (flow.steps.length === 1 ? " " : "s ") +
        flow.steps.join(", ") + ")";
      list.appendChild(item);
    });
    holder.appendChild(list);
  }

  // A field's name as its form shows it ("API key"), else its own name without the part of
  // the path that says which group it is in ("fields.api_key" -> "api_key").
  function fieldLabel(form, field) {
    var input = form.querySelector('[name="' + field.replace(/^fields\./, "field.") + '"]');
    var label = input && input.id && form.querySelector('label[for="' + input.id + '"]');
    if (label) { return label.firstChild.textContent.trim(); }
    return field.replace(/^(fields|config)\./, "");
  }

  // Each field's error once, under its field ("API key is required"); the box above the
  // buttons says only what no field of the form can show.
  function showErrors(form, result) {
    var box = form.querySelector(".form-error");
    form.querySelectorAll(".field-error").forEach(function (el) { el.hidden = true; });
    form.querySelectorAll("[aria-invalid]").forEach(function (el) { el.removeAttribute("aria-invalid"); });
    var elsewhere = [];
    var fields = result.fields || [];
    fields.forEach(function (f) {
      var said = fieldLabel(form, f.field) + " " + f.message;
      var el = form.querySelector('.field-error[data-field="' + f.field + '"]');
      if (!el) { elsewhere.push(said); return; }
      el.textContent = said;
      el.hidden = false;
      var input = el.id && form.querySelector('[aria-describedby~="' + el.id + '"]');
      if (input) { input.setAttribute("aria-invalid", "true"); }
    });
    if (!box) { return; }
    var text = fields.length ? elsewhere.join("; ") : (result.message || "Something went wrong.");
    box.textContent = text;
    box.hidden = !text;
    var skip = form.querySelector("[data-skip-test]");
    if (skip && result.next === "skip_test") {
      var offer = document.createElement("button");
      offer.type = "button";
      offer.className = "secondary";
      offer.textContent = "Save without checking";
      offer.addEventListener("click", function () {
        skip.checked = true;
        skip.dispatchEvent(new Event("change", { bubbles: true }));
        form.requestSubmit();
      });
      box.appendChild(offer);
    }
  }

  // "Save without checking": the button says what it will do.
  document.addEventListener("change", function (event) {
    var skip = event.target.closest("[data-skip-test]");
    if (!skip) { return; }
    var save = skip.form.querySelector("[data-save]");
    if (save) { save.textContent = skip.checked ? "Save without checking" : "Save and test"; }
  });

  // A key file chosen for a field: its text fills the field's box (nothing is uploaded as a
  // file, and nothing leaves the page before the form is submitted).
  document.addEventListener("change", function (event) {
    var pick = event.target.closest("input[data-file-into]");
    if (!pick || !pick.files || !pick.files[0]) { return; }
    var box = document.getElementById(pick.dataset.fileInto);
    pick.files[0].text().then(function (text) {
      if (box) { box.value = text.trim(); box.dispatchEvent(new Event("input", {bubbles: true})); }
      pick.value = "";
    });
  });

  // Forms that submit with fetch and answer JSON: inline errors, no half-done pages.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.matches("form[data-fetch]")) { return; }
    event.preventDefault();
    var url = form.getAttribute("action") ||
      form.dataset.action.replace("{id}", encodeURIComponent(form.dataset.id || ""));
    var button = form.querySelector('button[type="submit"]');
    if (button) { button.disabled = true; }
    post(url, new FormData(form)).then(function (result) {
      if (button) { button.disabled = false; }
      if (!result.ok) { showErrors(form, result); return; }
      var dialog = form.closest("dialog");
      if (dialog) { dialog.close(); }
      if (result.redirect) { location.href = result.redirect; return; }
      if (result.reload) { location.reload(); return; }
      if (result.removed) {
        var gone = document.getElementById("card-" + result.removed);
        if (gone && gone.closest(".detail-grid")) { location.href = "/connections"; return; }
        if (gone) { gone.remove(); }
        refreshAttention();
        toast(result.message);
        return;
      }
      if (result.html) { placeCard(result.id, result.html); toast("Saved"); }
    });
  });

  // Buttons that post one action (set default, test, remove a client).
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-post]");
    if (!button) { return; }
    var menu = button.closest("details");
    if (menu) { menu.open = false; }  // so that the result below the menu can be seen
    button.disabled = true;
    post(button.dataset.post).then(function (result) {
      button.disabled = false;
      var card = button.closest(".conn");
      if (result.redirect) { location.href = result.redirect; return; }
      if (result.reload) { location.reload(); return; }
      if (result.html) { card = placeCard(result.id, result.html) || card; }
      var message = card && card.querySelector(".card-message");
      if (message) {
        message.textContent = result.message || (result.ok ? "Done" : "Failed");
        message.className = "card-message " + (result.ok ? "ok" : "bad");
      } else if (result.message) { toast(result.message); }
    });
  });

  // Dialogs: new connection, rename, delete.
  document.addEventListener("click", function (event) {
    var opener = event.target.closest("[data-dialog]");
    if (opener) {
      var dialog = document.getElementById("dialog-" + opener.dataset.dialog);
      if (!dialog) { return; }
      var form = dialog.querySelector("form[data-fetch]");
      if (form) {
        form.dataset.id = opener.dataset.id || "";
        form.querySelectorAll(".form-error").forEach(function (el) { el.hidden = true; });
      }
      dialog.querySelectorAll('[data-fill="name"]').forEach(function (el) {
        el.textContent = opener.dataset.name || "";
      });
      var name = dialog.querySelector('input[name="name"]');
      if (name && opener.dataset.name) { name.value = opener.dataset.name; }
      var menu = opener.closest("details");
      if (menu) { menu.open = false; }
      dialog.querySelectorAll("[data-oauth-only]").forEach(function (el) {
        el.hidden = !opener.dataset.oauth;
      });
      var sameApp = dialog.querySelector("select[data-same-app]");
      if (sameApp) {
        sameApp.innerHTML = "";
        document.querySelectorAll(".conn").forEach(function (other) {
          var button = other.querySelector('[data-dialog="delete"]');
          if (other.dataset.id === opener.dataset.id || !button) { return; }
          if (other.dataset.app !== opener.dataset.appKey) { return; }
          var option = document.createElement("option");
          option.value = other.dataset.id;
          option.textContent = button.dataset.name;
          sameApp.appendChild(option);
        });
      }
      var usageHolder = dialog.querySelector('[data-fill="usage"]');
      if (usageHolder) {
        fetch("/connections/" + encodeURIComponent(opener.dataset.id) + "/usage", { credentials: "same-origin" })
          .then(function (r) { return r.json(); })
          .then(function (found) { fillUsage(usageHolder, found.flows || []); });
      }
      var bodyHolder = dialog.querySelector(".dialog-body");
      if (bodyHolder && opener.dataset.app) {
        bodyHolder.innerHTML = "";
        fetch("/connections/new?app=" + encodeURIComponent(opener.dataset.app) +
              "&connection_id=" + encodeURIComponent(opener.dataset.id), { credentials: "same-origin" })
          .then(function (r) { return r.text(); })
          .then(function (html) { bodyHolder.innerHTML = html; });
      }
      dialog.showModal();
      return;
    }
    if (event.target.closest("[data-close]")) { event.target.closest("dialog").close(); }
  });

  var appSelect = document.getElementById("new-app");
  var wanted = new URLSearchParams(window.location.search).get("new");
  if (appSelect && wanted) {
    setTimeout(function () {
      document.getElementById("dialog-new").showModal();
      appSelect.value = wanted;
      appSelect.dispatchEvent(new Event("change"));
    }, 0);
  }
  if (appSelect) {
    appSelect.addEventListener("change", function () {
      var holder = document.getElementById("new-form");
      holder.innerHTML = "";
      if (!appSelect.value) { return; }
      fetch("/connections/new?app=" + encodeURIComponent(appSelect.value), { credentials: "same-origin" })
        .then(function (r) { return r.text(); })
        .then(function (html) {
          holder.innerHTML = html;
          var first = holder.querySelector("input:not([type=hidden])");
          if (first) { first.focus(); }
        });
    });
  }

  // "How to connect": another way of the same app loads its own form in place (the name kept).
  document.addEventListener("change", function (event) {
    var way = event.target.closest("input[data-way]");
    if (!way) { return; }
    var form = way.closest("form");
    var holder = form.parentElement;
    var named = form.querySelector("#new-name");
    var name = named ? named.value : "";
    fetch("/connections/new?app=" + encodeURIComponent(way.dataset.app) +
          "&auth_kind=" + encodeURIComponent(way.value), { credentials: "same-origin" })
      .then(function (r) { return r.text(); })
      .then(function (html) {
        holder.innerHTML = html;
        var renamed = holder.querySelector("#new-name");
        if (renamed && name) { renamed.value = name; }
        var chosen = holder.querySelector("input[data-way]:checked");
        if (chosen) { chosen.focus(); }
      });
  });

  document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
    select.addEventListener("change", function () { select.form.submit(); });
  });

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (!button) { return; }
    navigator.clipboard.writeText(button.dataset.copy).then(function () { toast("Copied " + button.dataset.copy); });
  });

  // Connect and Reconnect: the popup opens on the click itself (browsers block later ones);
  // the outcome arrives by postMessage, by BroadcastChannel, or by polling the session.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-connect]");
    if (!button) { return; }
    var form = button.closest("form");
    // Said where the button is: the form's error box, the card's message line, or a toast.
    var holder = button.closest(".conn, .fix, .attention li");
    var errorBox = (form && form.querySelector(".form-error")) ||
      (holder && holder.querySelector(".card-message")) || null;
    function explain(text, offer) {
      if (!errorBox) { toast(text); return; }
      errorBox.textContent = text;
      errorBox.className = errorBox.className.replace(/\b(ok|bad)\b/g, "").trim() + " bad";
      errorBox.hidden = false;
      if (offer) { errorBox.appendChild(offer); }
    }
    var popup = window.open("about:blank", "gatekey-oauth", "popup,width=560,height=720");
    if (!popup) {
      explain("Your browser blocked the sign-in window. Allow popups for this site, then click " +
        button.textContent.trim() + " again.");
      return;
    }
    popup.document.title = "Connecting…";
    var body = form ? new FormData(form) : new FormData();
    if (button.dataset.connectionId) { body.set("connection_id", button.dataset.connectionId); }
    if (button.dataset.app) { body.set("app", button.dataset.app); }
    if (button.dataset.allowSwitch) { body.set("allow_account_switch", "1"); }
    button.disabled = true;
    post("/connections/oauth", body).then(function (started) {
      if (!started.ok) {
        popup.close();
        button.disabled = false;
        explain(started.message);
        return;
      }
      popup.location.href = started.authorize_url;
      follow(started.session_id, popup, function (outcome) {
        button.disabled = false;
        if (outcome.status === "succeeded") {
          fetch("/connections/" + outcome.connection_id + "/card", { credentials: "same-origin" })
            .then(function (r) { return r.text(); })
            .then(function (html) {
              placeCard(outcome.connection_id, html);
              var dialog = button.closest("dialog");
              if (dialog) { dialog.close(); }
              toast(button.dataset.connectionId ? "Reconnected" : "Connected");
              document.dispatchEvent(new CustomEvent("gatekey:connected", { detail: outcome.connection_id }));
            });
        } else if (outcome.status === "closed") {
          explain("The sign-in window was closed before you finished. Click " +
            button.textContent.trim() + " to try again.");
        } else if (outcome.error_code === "account_mismatch") {
          // Never a silent switch: the person says so, with a click of its own (a new popup).
          var again = document.createElement("button");
          again.type = "button";
          again.className = "secondary small";
          again.textContent = "Reconnect and switch accounts";
          again.dataset.connect = "";
          again.dataset.connectionId = button.dataset.connectionId || "";
          again.dataset.allowSwitch = "1";
          explain(outcome.error_message, again);
        } else {
          explain(outcome.error_message || "The sign-in did not complete; try again.");
        }
      });
    });
  });

  // The run page: a run still queued or running is shown as it goes, and a run waiting for
  // its connection is shown again once that connection is reconnected (Re-run turns on).
  var runView = document.getElementById("run-view");
  function refreshRun() {
    return fetch("/runs/" + encodeURIComponent(runView.dataset.run), { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (html === null) { return; }
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("run-view");
        if (!fresh) { return; }
        runView.innerHTML = fresh.innerHTML;
        if (!fresh.hasAttribute("data-follow")) { runView.removeAttribute("data-follow"); }
      });
  }
  if (runView) {
    var following = setInterval(function () {
      if (!runView.hasAttribute("data-follow")) { clearInterval(following); return; }
      refreshRun().catch(function () { /* try again on the next tick */ });
    }, 1000);
    document.addEventListener("gatekey:connected", function () { refreshRun(); });
  }

  function follow(sessionId, popup, done) {
    var finished = false;
    var channel = null;
    function finish(outcome) {
      if (finished) { return; }
      finished = true;
      window.removeEventListener("message", onMessage);
      if (channel) { channel.close(); }
      clearInterval(timer);
      done(outcome);
    }
    function onMessage(event) {
      if (event.origin !== window.location.origin) { return; }
      var data = event.data || {};
      if (data.type === CHANNEL && data.session_id === sessionId) { finish(data); }
    }
    window.addEventListener("message", onMessage);
    if ("BroadcastChannel" in window) {
      channel = new BroadcastChannel(CHANNEL);
      channel.onmessage = function (event) {
        if (event.data && event.data.session_id === sessionId) { finish(event.data); }
      };
    }
    var closedSeen = 0;
    var timer = setInterval(function () {
      fetch("/connections/oauth/" + sessionId, { credentials: "same-origin" })
        .then(function (r) { return r.json(); })
        .then(function (state) {
          if (state.status && state.status !== "pending") { finish(state); return; }
          if (popup.closed) {
            closedSeen += 1;
            if (closedSeen >= 2) { finish({ status: "closed" }); }
          }
        })
        .catch(function () { /* try again on the next tick */ });
    }, 1500);
  }
})();
