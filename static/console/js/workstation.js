// Agent workstation (/console/poste/): open items as tabs, citizen panel, live list, shortcuts.
// No inline script (CSP): strings come from the json_script "ws-strings". Case tabs are htmx
// partials (console.workstation_views); chat tabs are the chat app's agent panel, each a
// ChatClient of chat.js (window.GuichetChat.mount). See docs/console.md, "Poste de travail".
(function () {
  "use strict";
  var root = document.querySelector("[data-workstation]");
  if (!root) { return; }
  var strings = {};
  try { strings = JSON.parse(document.getElementById("ws-strings").textContent); } catch (e) { /* defaults */ }
  function t(name) { return strings[name] || name; }

  var tabsBar = root.querySelector("[data-ws-tabs]");
  var panels = root.querySelector("[data-ws-panels]");
  var empty = root.querySelector("[data-ws-empty]");
  var citizenBox = root.querySelector("[data-ws-citizen]");
  var citizenEmpty = root.querySelector("[data-ws-citizen-empty]");
  var announcer = root.querySelector("[data-ws-announce]");
  var listStatus = root.querySelector("[data-ws-list-status]");
  var itemsBox = document.getElementById("ws-items");
  var queueBox = document.getElementById("ws-queue");
  var help = document.getElementById("ws-help");
  var sound = document.querySelector("[data-ws-sound]");
  var baseTitle = document.title;
  var tabs = {};
  var order = [];
  var active = null;

  function key(reference) { return String(reference).replace(/[^A-Za-z0-9]/g, ""); }
  function urlFor(attribute, reference) {
    return root.getAttribute(attribute).replace("/0/", "/" + encodeURIComponent(reference) + "/");
  }

  // --- sound (the preference is shared with the chat desk: static/guichet/js/alert-sound.js)
  var alertSound = window.GuichetAlertSound(sound);
  function beep() { alertSound.beep(false); }

  function announce(text) {
    if (!announcer) { return; }
    announcer.textContent = "";
    window.setTimeout(function () { announcer.textContent = text; }, 50);
  }

  // --- tabs ---------------------------------------------------------------------------------

  function updateTitle() {
    var total = 0;
    order.forEach(function (k) { total += tabs[k].unread; });
    document.title = total ? "(" + total + ") " + baseTitle : baseTitle;
  }

  function setUnread(entry, count) {
    entry.unread = count;
    entry.badge.hidden = count === 0;
    entry.badge.replaceChildren();
    if (count) {
      var hidden = document.createElement("span");
      hidden.className = "fr-sr-only";
      hidden.textContent = " " + t("unread");
      entry.badge.append(String(count), hidden);
    }
    updateTitle();
  }

  function flash(entry) {
    entry.tab.classList.remove("ws-tab--alert");
    void entry.tab.offsetWidth;  // restart the animation
    entry.tab.classList.add("ws-tab--alert");
  }

  function entryOf(node) {
    var panel = node && node.closest ? node.closest("[role=tabpanel][data-ws-key]") : null;
    return panel ? tabs[panel.getAttribute("data-ws-key")] : null;
  }

  var chatHooks = {
    isAttended: function (client) {
      var entry = entryOf(client.root);
      return document.hasFocus() && entry && entry.key === active && client.root.contains(document.activeElement);
    },
    onUnread: function (client, count) {
      var entry = entryOf(client.root);
      if (entry) { setUnread(entry, count); }
    },
    onIncoming: function (client) {
      var entry = entryOf(client.root);
      if (!entry || chatHooks.isAttended(client)) { return; }
      beep();
      flash(entry);
      announce(t("new_message") + " : " + entry.label);
      scheduleRefresh();
    },
    onClosed: function () { scheduleRefresh(); }
  };

  function openItem(spec, focus) {
    if (!spec || !spec.reference || !spec.url) { return null; }
    var k = key(spec.reference);
    if (tabs[k]) {
      if (focus !== false) { activate(k, true); }
      return tabs[k];
    }
    var tab = document.createElement("button");
    tab.type = "button";
    tab.id = "ws-tab-" + k;
    tab.className = "ws-tab";
    tab.setAttribute("role", "tab");
    tab.setAttribute("aria-controls", "ws-panel-" + k);
    tab.setAttribute("aria-selected", "false");
    tab.tabIndex = -1;
    var label = (spec.title ? spec.title + " · " : "") + spec.reference;
    var text = document.createElement("span");
    text.textContent = label;
    var badge = document.createElement("span");
    badge.className = "fr-badge fr-badge--sm fr-badge--info fr-badge--no-icon ws-tab__unread";
    badge.hidden = true;
    tab.appendChild(text);
    tab.appendChild(badge);
    tab.setAttribute("data-kind", spec.kind || "case");
    tabsBar.appendChild(tab);
    var panel = document.createElement("div");
    panel.id = "ws-panel-" + k;
    panel.className = "ws-panel";
    panel.setAttribute("role", "tabpanel");
    panel.setAttribute("aria-labelledby", tab.id);
    panel.setAttribute("data-ws-key", k);
    panel.hidden = true;
    panels.appendChild(panel);
    var citizen = document.createElement("div");
    citizen.hidden = true;
    citizenBox.appendChild(citizen);
    var entry = {
      key: k, reference: spec.reference, kind: spec.kind || "case", url: spec.url, label: label,
      title: spec.title || "",
      tab: tab, badge: badge, panel: panel, citizen: citizen, unread: 0
    };
    tabs[k] = entry;
    order.push(k);
    if (empty) { empty.hidden = true; }
    load(entry);
    if (focus !== false || active === null) { activate(k, focus !== false); }
    saveTabs();
    return entry;
  }

  // Open tabs survive a reload of the page (this browser tab only: sessionStorage).
  var TABS_KEY = "guichet-ws-tabs";
  function saveTabs() {
    try {
      window.sessionStorage.setItem(TABS_KEY, JSON.stringify({
        active: active ? tabs[active].reference : null,
        tabs: order.filter(function (k) {
          return !tabs[k].panel.querySelector("[data-ws-gone]");  // transferred away
        }).map(function (k) {
          var e = tabs[k];
          return { reference: e.reference, kind: e.kind, url: e.url, title: e.title };
        })
      }));
    } catch (e) { /* storage unavailable: tabs are not kept */ }
  }
  function savedTabs() {
    try { return JSON.parse(window.sessionStorage.getItem(TABS_KEY) || "null"); } catch (e) { return null; }
  }

  function load(entry) {
    window.fetch(entry.url, { credentials: "same-origin", headers: { "HX-Request": "true" } })
      .then(function (response) {
        if (!response.ok) { throw new Error(String(response.status)); }
        return response.text();
      }).then(function (html) {
        entry.panel.innerHTML = html;
        if (window.htmx) { window.htmx.process(entry.panel); }
        var chat = entry.panel.querySelector("[data-chat]");
        if (chat && window.GuichetChat) { window.GuichetChat.mount(chat, chatHooks); }
        loadCitizen(entry);
      }).catch(function () {
        var p = document.createElement("p");
        p.className = "fr-error-text";
        p.textContent = t("load_error");
        entry.panel.replaceChildren(p);
      });
  }

  function loadCitizen(entry) {
    if (!window.htmx) { return; }
    // Each request has its own source element: htmx queues requests per source, and tabs
    // restored together must not drop each other's panel.
    window.htmx.ajax("GET", urlFor("data-citizen-url", entry.reference), {
      source: entry.citizen, target: entry.citizen, swap: "innerHTML"
    });
  }

  function activate(k, moveFocus) {
    var entry = tabs[k];
    if (!entry) { return; }
    active = k;
    order.forEach(function (other) {
      var item = tabs[other];
      var on = other === k;
      item.tab.setAttribute("aria-selected", on ? "true" : "false");
      item.tab.tabIndex = on ? 0 : -1;
      item.panel.hidden = !on;
      item.citizen.hidden = !on;
    });
    if (citizenEmpty) { citizenEmpty.hidden = true; }
    entry.tab.classList.remove("ws-tab--alert");
    if (entry.kind !== "chat") { setUnread(entry, 0); }
    markCurrentRow();
    saveTabs();
    if (moveFocus) { entry.tab.focus(); }
  }

  function closeTab(k) {
    var entry = tabs[k];
    if (!entry) { return; }
    var chat = entry.panel.querySelector("[data-chat]");
    if (chat && chat.guichetChat) { chat.guichetChat.stop(); }
    var index = order.indexOf(k);
    order.splice(index, 1);
    delete tabs[k];
    entry.tab.remove();
    entry.panel.remove();
    entry.citizen.remove();
    announce(t("closed_tab"));
    updateTitle();
    saveTabs();
    if (active === k) {
      active = null;
      var next = order[Math.min(index, order.length - 1)];
      if (next) {
        activate(next, true);
      } else {
        if (empty) { empty.hidden = false; }
        if (citizenEmpty) { citizenEmpty.hidden = false; }
        markCurrentRow();
        focusList();
      }
    }
  }

  function cycleTab(step) {
    if (!order.length) { return; }
    var index = active === null ? -1 : order.indexOf(active);
    activate(order[(index + step + order.length) % order.length], true);
  }

  tabsBar.addEventListener("click", function (event) {
    var tab = event.target.closest("[role=tab]");
    if (tab) { activate(tab.id.replace("ws-tab-", ""), true); }
  });
  tabsBar.addEventListener("keydown", function (event) {
    var moves = { ArrowRight: 1, ArrowLeft: -1 };
    if (event.key in moves) { event.preventDefault(); cycleTab(moves[event.key]); }
    else if (event.key === "Home" && order.length) { event.preventDefault(); activate(order[0], true); }
    else if (event.key === "End" && order.length) { event.preventDefault(); activate(order[order.length - 1], true); }
    else if (event.key === "Delete" && active) { event.preventDefault(); closeTab(active); }
  });

  // --- work list ----------------------------------------------------------------------------

  function visibleList() { return queueBox && !queueBox.hidden ? queueBox : itemsBox; }
  function rows() { return Array.prototype.slice.call(visibleList().querySelectorAll("[data-ws-open]")); }

  function focusList() {
    var list = rows();
    (list[0] || document.getElementById("ws-list")).focus();
  }

  function moveRow(step) {
    var list = rows();
    if (!list.length) { return; }
    var index = list.indexOf(document.activeElement);
    if (index === -1 && active) {
      index = list.findIndex(function (a) { return key(a.getAttribute("data-reference")) === active; });
    }
    var next = list[Math.max(0, Math.min(list.length - 1, index + step))];
    next.focus();
  }

  function specOf(link) {
    return {
      reference: link.getAttribute("data-reference"), kind: link.getAttribute("data-kind"),
      url: link.getAttribute("data-url"), title: link.getAttribute("data-title")
    };
  }

  function openNext() {
    var list = itemsBox.querySelectorAll("[data-ws-open]");
    for (var i = 0; i < list.length; i += 1) {
      if (!tabs[key(list[i].getAttribute("data-reference"))]) { openItem(specOf(list[i]), true); return; }
    }
    if (list.length) { openItem(specOf(list[0]), true); }
  }

  function markCurrentRow() {
    Array.prototype.forEach.call(root.querySelectorAll("[data-ws-open]"), function (link) {
      if (active && key(link.getAttribute("data-reference")) === active) {
        link.setAttribute("aria-current", "true");
      } else {
        link.removeAttribute("aria-current");
      }
    });
  }

  root.addEventListener("click", function (event) {
    var link = event.target.closest("[data-ws-open]");
    if (!link || event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) { return; }
    event.preventDefault();
    openItem(specOf(link), true);
  });

  // Refresh of the list: never while the agent's own request is on its way; focus is kept on
  // the same row (or the list) when the rows are replaced.
  var refreshTimer = null;
  function scheduleRefresh() {
    if (refreshTimer) { window.clearTimeout(refreshTimer); }
    refreshTimer = window.setTimeout(refreshList, 300);
  }
  function refreshList() {
    refreshTimer = null;
    if (!window.htmx) { return; }
    if (itemsBox.querySelector(".htmx-request")) { scheduleRefresh(); return; }
    window.htmx.ajax("GET", root.getAttribute("data-items-url"), { source: itemsBox, target: itemsBox, swap: "innerHTML" });
    if (queueBox && !queueBox.hidden) {
      window.htmx.ajax("GET", root.getAttribute("data-queue-url"), { source: queueBox, target: queueBox, swap: "innerHTML" });
    }
  }
  var keptFocus = null;
  document.addEventListener("htmx:beforeSwap", function (event) {
    var target = event.detail.target;
    if (target === itemsBox || target === queueBox) {
      var row = document.activeElement && document.activeElement.closest("[data-ws-row]");
      keptFocus = row && target.contains(row) ? { box: target, ref: row.getAttribute("data-ws-row"), take: document.activeElement.tagName === "BUTTON" } : (target.contains(document.activeElement) ? { box: target } : null);
    }
    // Forms of the workstation answer 400 with the form and its errors: show them.
    if (root.contains(target) && event.detail.xhr && event.detail.xhr.status === 400) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });
  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail.target;
    if ((target === itemsBox || target === queueBox) && keptFocus && keptFocus.box === target) {
      var row = keptFocus.ref ? target.querySelector('[data-ws-row="' + keptFocus.ref + '"]') : null;
      var node = row ? row.querySelector(keptFocus.take ? "button" : "[data-ws-open]") : null;
      (node || target.querySelector("[data-ws-open]") || document.getElementById("ws-list")).focus();
      keptFocus = null;
    }
    if (target === itemsBox) {
      markCurrentRow();
      if (listStatus) { listStatus.textContent = t("list_updated"); }
    }
  });
  document.addEventListener("routing:case-assigned", scheduleRefresh);
  document.addEventListener("routing:case-unassigned", scheduleRefresh);
  document.body.addEventListener("guichet:worklist-changed", scheduleRefresh);
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") { scheduleRefresh(); }
  });

  // The two lists (my contacts, the queues of my services).
  var listTabs = Array.prototype.slice.call(root.querySelectorAll("[data-ws-lists] [role=tab]"));
  function showList(tab, moveFocus) {
    listTabs.forEach(function (other) {
      var on = other === tab;
      other.setAttribute("aria-selected", on ? "true" : "false");
      other.tabIndex = on ? 0 : -1;
      document.getElementById(other.getAttribute("aria-controls")).hidden = !on;
    });
    if (tab.getAttribute("aria-controls") === "ws-queue" && window.htmx) {
      window.htmx.ajax("GET", root.getAttribute("data-queue-url"), { source: queueBox, target: queueBox, swap: "innerHTML" });
    }
    if (moveFocus) { tab.focus(); }
  }
  listTabs.forEach(function (tab, index) {
    tab.addEventListener("click", function () { showList(tab, false); });
    tab.addEventListener("keydown", function (event) {
      if (event.key === "ArrowRight" || event.key === "ArrowLeft") {
        event.preventDefault();
        showList(listTabs[(index + 1) % listTabs.length], true);
      }
    });
  });

  // "Prendre" in a queue, or a screen-pop: open the item.
  document.body.addEventListener("guichet:open-item", function (event) { openItem(event.detail, true); });
  document.addEventListener("routing:workstation-open", function (event) {
    var item = event.detail || {};
    var entry = openItem(item, item.focus !== false && !isTyping(document.activeElement));
    if (entry) {
      beep();
      flash(entry);
      // An appointment about to start: its context (topic, mode, time) rather than a bare name.
      announce(item.appointment ? entry.label + " — " + item.appointment.notice : t("new_item") + " " + entry.label);
    }
    scheduleRefresh();
  });

  // --- inside a case tab ----------------------------------------------------------------------

  function caseOf(node) { return node && node.closest ? node.closest("[data-ws-case]") : null; }
  function activePanel() { return active ? tabs[active].panel : null; }

  function toggleNote(box, on) {
    var toggle = box.querySelector("[data-ws-note-toggle]");
    if (!toggle) { return; }
    if (typeof on === "boolean") { toggle.checked = on; }
    var note = toggle.checked;
    box.querySelector("[data-ws-reply-form]").hidden = note;
    box.querySelector("[data-ws-note-form]").hidden = !note;
    var field = box.querySelector(note ? "[data-ws-note]" : "[data-ws-reply]");
    if (field) { field.focus(); }
  }

  root.addEventListener("change", function (event) {
    if (event.target.matches("[data-ws-note-toggle]")) { toggleNote(caseOf(event.target)); }
    if (event.target.matches("[data-ws-files]")) { describeFiles(event.target); }
  });

  function focusReply(panel) {
    if (!panel) { return; }
    var box = panel.querySelector("[data-ws-case]");
    if (box) {
      toggleNote(box, false);
      return;
    }
    var field = panel.querySelector("[data-chat-composer] textarea");
    if (field) { field.focus(); }
  }

  function transfer(panel) {
    if (!panel) { return; }
    var button = panel.querySelector("[data-ws-action=transfer]");
    if (button) { button.click(); return; }
    var form = panel.querySelector(".chat-panel__transfer");
    if (form) {
      var details = form.closest("details");
      if (details) { details.open = true; }
      var first = form.querySelector("select, textarea, input:not([type=hidden])");
      if (first) { first.focus(); }
    }
  }

  function closeAction(panel) {
    if (!panel) { return; }
    var button = panel.querySelector("[data-ws-action=close]");
    if (button) { button.click(); return; }
    var summary = panel.querySelector(".chat-panel__summary textarea");
    if (summary) { summary.focus(); }
  }

  root.addEventListener("click", function (event) {
    var button = event.target.closest("[data-ws-action]");
    if (!button) { return; }
    var action = button.getAttribute("data-ws-action");
    var entry = entryOf(button) || (active ? tabs[active] : null);
    if (action === "close-tab" && entry) { closeTab(entry.key); }
    else if (action === "close") {
      var box = caseOf(button);
      var zone = box && document.getElementById(button.getAttribute("aria-controls"));
      if (zone) {
        zone.hidden = !zone.hidden;
        button.setAttribute("aria-expanded", zone.hidden ? "false" : "true");
        var radio = zone.querySelector("input[type=radio]");
        if (!zone.hidden && radio) { radio.focus(); }
      }
    } else if (action === "transfer") {
      button.setAttribute("aria-expanded", "true");
    } else if (action === "details") {
      focusReply(activePanel());
    }
  });

  // Drag and drop of attachments on the reply box (checked on the server like any upload).
  function describeFiles(input) {
    var names = Array.prototype.map.call(input.files || [], function (f) { return f.name; });
    var hint = input.parentNode.querySelector("[data-ws-file-names]");
    if (!hint) {
      hint = document.createElement("p");
      hint.className = "fr-hint-text fr-mb-0";
      hint.setAttribute("data-ws-file-names", "");
      hint.setAttribute("aria-live", "polite");
      input.parentNode.appendChild(hint);
    }
    hint.textContent = names.length ? t("files") + " " + names.join(", ") : "";
  }
  root.addEventListener("dragover", function (event) {
    var zone = event.target.closest && event.target.closest("[data-ws-composer]");
    if (!zone) { return; }
    event.preventDefault();
    zone.classList.add("ws-case__composer--drop");
  });
  root.addEventListener("dragleave", function (event) {
    var zone = event.target.closest && event.target.closest("[data-ws-composer]");
    if (zone) { zone.classList.remove("ws-case__composer--drop"); }
  });
  root.addEventListener("drop", function (event) {
    var zone = event.target.closest && event.target.closest("[data-ws-composer]");
    if (!zone || !event.dataTransfer || !event.dataTransfer.files.length) { return; }
    event.preventDefault();
    zone.classList.remove("ws-case__composer--drop");
    var input = zone.querySelector("[data-ws-files]");
    if (!input || typeof DataTransfer === "undefined") { return; }
    var all = new DataTransfer();
    Array.prototype.forEach.call(input.files, function (f) { all.items.add(f); });
    Array.prototype.forEach.call(event.dataTransfer.files, function (f) { all.items.add(f); });
    input.files = all.files;
    describeFiles(input);
  });

  // After a form of a tab is answered its content is replaced: put the focus back in the tab.
  var focusAfter = null;
  document.addEventListener("htmx:beforeRequest", function (event) {
    var entry = entryOf(event.detail.elt);
    if (entry && entry.panel.contains(document.activeElement)) { focusAfter = entry.key; }
  });
  document.addEventListener("htmx:afterSettle", function () {
    // A chat ended with its summary, or transferred, from its tab: the load and list change.
    // (The swapped element is detached by then: look in the tabs, not at the event's target.)
    order.forEach(function (k) {
      var done = tabs[k].panel.querySelector("[data-chat-finished]:not([data-ws-seen]), [data-chat-transferred]:not([data-ws-seen])");
      if (done) { done.setAttribute("data-ws-seen", ""); scheduleRefresh(); }
    });
    var entry = focusAfter ? tabs[focusAfter] : null;
    focusAfter = null;
    if (!entry) { return; }
    if (document.activeElement && document.activeElement !== document.body && document.contains(document.activeElement)) { return; }
    var node = entry.panel.querySelector("[aria-invalid=true], .fr-alert, [data-ws-reply]:not([hidden])");
    if (node && node.classList.contains("fr-alert")) { node.tabIndex = -1; }
    (node || entry.tab).focus();
    // Transferred away: the case is no longer this agent's to read.
    if (entry.panel.querySelector("[data-ws-gone]")) { entry.citizen.replaceChildren(); saveTabs(); }
  });

  // --- the dialog of the citizen panel's actions ------------------------------------------
  // "Enregistrer un contact", "Diagnostic guidé" and "Inviter à partager l'écran" load their
  // form or view into one modal <dialog> (htmx: hx-target="#ws-dialog-body"); their answers
  // stay in it. Escape or "Fermer" closes it and gives the focus back to the action's button;
  // closing a co-browsing view ends the session.
  var dialog = root.querySelector("[data-ws-dialog]");
  var dialogBody = dialog ? dialog.querySelector("[data-ws-dialog-body]") : null;
  var dialogReturn = null;
  var dialogReturnPlace = null;
  // Set by a request that opens the dialog: only its answer opens it. An answer that settles
  // after the agent closed the dialog (Escape pressed between htmx's swap and its settle, on a
  // loaded machine) leaves it closed.
  var dialogOpening = false;
  function closeDialog(giveBack) {
    if (!dialog || !dialog.open) { return; }
    if (!giveBack) { dialogReturn = null; dialogReturnPlace = null; }
    dialog.close();
  }
  if (dialog) {
    document.addEventListener("htmx:beforeRequest", function (event) {
      if (event.detail.target === dialogBody && !dialog.open) {
        dialogOpening = true;
        var opener = event.detail.elt.closest("[data-ws-dialog-opener]") || event.detail.elt.querySelector("[data-ws-dialog-opener]");
        dialogReturn = opener || document.activeElement;
        // The citizen panel may be reloaded meanwhile (a contact recorded): remember the
        // button's place in it to give the focus back to its successor.
        dialogReturnPlace = null;
        var holder = dialogReturn;
        while (holder && holder.parentNode && holder.parentNode !== citizenBox) { holder = holder.parentNode; }
        if (holder && holder.parentNode === citizenBox) {
          dialogReturnPlace = {
            holder: holder,
            index: Array.prototype.indexOf.call(holder.querySelectorAll("[data-ws-dialog-opener]"), dialogReturn)
          };
        }
      }
    });
    document.addEventListener("htmx:afterSettle", function (event) {
      if (event.detail.target !== dialogBody) { return; }
      if (!dialog.open) {
        if (!dialogOpening) { dialogBody.replaceChildren(); return; }
        dialog.showModal();
      }
      dialogOpening = false;
      var viewer = dialogBody.querySelector("#cobrowse-viewer");
      if (viewer && window.GuichetCobrowseAgent) { window.GuichetCobrowseAgent.mount(viewer); }
      var focus = dialogBody.querySelector("[aria-invalid=true]") || dialogBody.querySelector("#ws-dialog-title");
      if (focus) { focus.focus(); }
    });
    dialog.addEventListener("close", function () {
      var viewer = dialogBody.querySelector("#cobrowse-viewer");
      if (viewer && viewer.guichetCobrowse) { viewer.guichetCobrowse.stop(); }
      dialogBody.replaceChildren();
      if (dialogReturn && !document.contains(dialogReturn) && dialogReturnPlace) {
        dialogReturn = dialogReturnPlace.holder.querySelectorAll("[data-ws-dialog-opener]")[dialogReturnPlace.index] || null;
      }
      if (dialogReturn && document.contains(dialogReturn)) { dialogReturn.focus(); }
      dialogReturn = null;
      dialogReturnPlace = null;
    });
    dialog.addEventListener("click", function (event) {
      if (event.target.closest("[data-ws-dialog-close]")) { closeDialog(true); }
      else if (event.target.closest("[data-ws-dialog-dismiss]")) { closeDialog(false); }
    });
  }
  // A citizen panel refreshed while the focus is on one of its actions keeps it there.
  var panelFocus = null;
  document.addEventListener("htmx:beforeSwap", function (event) {
    var target = event.detail.target;
    panelFocus = null;
    if (target && target.parentNode === citizenBox && target.contains(document.activeElement)) {
      var openers = target.querySelectorAll("[data-ws-dialog-opener]");
      panelFocus = { box: target, index: Array.prototype.indexOf.call(openers, document.activeElement) };
    }
  });
  document.addEventListener("htmx:afterSwap", function (event) {
    if (!panelFocus || event.detail.target !== panelFocus.box) { return; }
    var node = panelFocus.index >= 0 ? panelFocus.box.querySelectorAll("[data-ws-dialog-opener]")[panelFocus.index] : null;
    panelFocus = null;
    if (node && !(dialog && dialog.open)) { node.focus(); }
  });

  // A form of the dialog changed a case (contact recorded, diagnosis saved): reload its tab.
  document.body.addEventListener("guichet:case-changed", function (event) {
    var entry = tabs[key((event.detail || {}).reference || "")];
    if (entry && entry.kind !== "chat") { load(entry); }
  });

  // --- keyboard -------------------------------------------------------------------------------

  function isTyping(node) {
    if (!node || node === document.body) { return false; }
    if (node.isContentEditable) { return true; }
    var tag = node.tagName;
    if (tag === "TEXTAREA" || tag === "SELECT") { return true; }
    return tag === "INPUT" && !/^(checkbox|radio|button|submit|reset|file)$/.test(node.type);
  }

  var helpReturn = null;
  function openHelp() {
    if (!help || help.open) { return; }
    helpReturn = document.activeElement;
    help.showModal();
    var close = help.querySelector("[data-ws-help-close]");
    if (close) { close.focus(); }
  }
  if (help) {
    help.addEventListener("close", function () { if (helpReturn && helpReturn.focus) { helpReturn.focus(); } });
  }
  Array.prototype.forEach.call(document.querySelectorAll("[data-ws-help]"), function (button) {
    button.addEventListener("click", openHelp);
  });

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || (help && help.open) || (dialog && dialog.open)) { return; }
    var target = event.target;
    if (isTyping(target)) {
      if (event.key === "Escape" && active && root.contains(target)) {
        event.preventDefault();
        tabs[active].tab.focus();
      } else if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && target.tagName === "TEXTAREA") {
        var form = target.closest("form");
        var box = caseOf(target);
        if (form && box) {
          event.preventDefault();
          var send = form.querySelector("[data-ws-send]") || form.querySelector("[type=submit]");
          if (send) { send.click(); }
        }
      }
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey) { return; }
    var panel = activePanel();
    var handled = true;
    switch (event.key) {
      case "?": openHelp(); break;
      case "j": moveRow(1); break;
      case "k": moveRow(-1); break;
      case "n": openNext(); break;
      case "o": cycleTab(1); break;
      case "O": cycleTab(-1); break;
      case "r": focusReply(panel); break;
      case "i": if (panel && panel.querySelector("[data-ws-case]")) { toggleNote(panel.querySelector("[data-ws-case]"), !panel.querySelector("[data-ws-note-toggle]").checked); } break;
      case "t": transfer(panel); break;
      case "c": closeAction(panel); break;
      case "x": if (active) { closeTab(active); } break;
      case "l": focusList(); break;
      default:
        if (/^[1-9]$/.test(event.key) && order[Number(event.key) - 1]) {
          activate(order[Number(event.key) - 1], true);
        } else {
          handled = false;
        }
    }
    if (handled) { event.preventDefault(); }
  });

  // --- start: the tabs open before a reload, the live chats, the item of a deep link ---------
  var saved = savedTabs();
  if (saved && Array.isArray(saved.tabs)) {
    saved.tabs.forEach(function (spec) { openItem(spec, false); });
  }
  // A live chat is never left unwatched: each one assigned to the agent gets its tab.
  Array.prototype.forEach.call(itemsBox.querySelectorAll("[data-ws-open][data-live]"), function (link) {
    openItem(specOf(link), false);
  });
  if (panels.getAttribute("data-initial")) {
    var initial = openItem({
      reference: panels.getAttribute("data-initial"), kind: panels.getAttribute("data-initial-kind"),
      url: panels.getAttribute("data-initial-url"), title: panels.getAttribute("data-initial-title")
    }, false);
    if (initial) { activate(initial.key, false); }
  } else if (saved && saved.active && tabs[key(saved.active)]) {
    activate(key(saved.active), false);
  }
})();
// The columns fill the window under the header, whatever its height (it wraps on narrow screens).
(function () {
  "use strict";
  var header = document.querySelector(".ws-header");
  if (!header) { return; }
  function measure() {
    document.documentElement.style.setProperty("--ws-header-height", header.offsetHeight + "px");
  }
  measure();
  window.addEventListener("resize", measure);
})();
