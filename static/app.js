// The page's small behaviours: connection indicator, filter (kept in ?q=), problems-only and compact views,
// relative times, what each card says aloud, the details toggle, and no silent clicks while not live.
(function () {
  function conn() {
    return document.body.dataset.conn;
  }
  function set(state) {
    document.body.dataset.conn = state;
  }
  // Only the page's own stream drives the indicator; a details panel's socket opening or closing does not.
  function isMain(e) {
    return e.target && e.target.id === "services";
  }
  document.addEventListener("htmx:ws:after:connection", function (e) {
    if (isMain(e)) set(document.querySelector(".banner-stale") ? "stale" : "live");
  });
  document.addEventListener("htmx:ws:close", function (e) {
    if (isMain(e)) set("reconnecting");
  });
  document.addEventListener("htmx:ws:error", function (e) {
    if (isMain(e)) set("reconnecting");
  });

  // Filter, problems only: hide cards whose name, namespace or kind does not contain every word
  // typed, hide namespaces left empty, say so when nothing matches. Purely local; re-applied when
  // the card list is re-rendered (services came or went at runtime).
  function isProblem(card) {
    var st = card.querySelector(".state");
    if (!st) return false;
    var r = st.getAttribute("data-rollout");
    return st.getAttribute("data-locked") === "true" || (r !== "complete" && r !== "loading");
  }
  function applyFilter() {
    var input = document.getElementById("filter");
    if (!input) return;
    var words = input.value.toLowerCase().split(/\s+/).filter(Boolean);
    var problems = document.getElementById("problems-only");
    var onlyProblems = problems && problems.checked;
    var shown = 0;
    document.querySelectorAll(".svc").forEach(function (card) {
      var text = card.getAttribute("data-search") || "";
      var hide = !words.every(function (w) { return text.indexOf(w) >= 0; }) || (onlyProblems && !isProblem(card));
      if (card.hidden !== hide) card.hidden = hide;
      if (!hide) shown++;
    });
    document.querySelectorAll("section.group").forEach(function (g) {
      g.hidden = g.querySelector(".svc:not([hidden])") === null;
    });
    var none = document.getElementById("no-match");
    if (none) {
      var any = document.querySelector(".svc") !== null;
      none.hidden = shown > 0 || !any;
      none.textContent = onlyProblems && words.length === 0 ? "No service has a problem right now." : "No service matches \u201c" + input.value + "\u201d" + (onlyProblems ? " among those with problems." : ".");
    }
  }
  function saveView() {
    var input = document.getElementById("filter");
    var url = new URL(location.href);
    if (input && input.value) url.searchParams.set("q", input.value);
    else url.searchParams.delete("q");
    ["problems-only", "compact"].forEach(function (id) {
      var box = document.getElementById(id);
      if (box && box.checked) url.searchParams.set(id, "1");
      else url.searchParams.delete(id);
    });
    history.replaceState(null, "", url.toString());
  }
  function applyCompact() {
    var box = document.getElementById("compact");
    document.body.classList.toggle("compact", !!(box && box.checked));
  }
  document.addEventListener("input", function (e) {
    if (!e.target) return;
    if (e.target.id === "filter" || e.target.id === "problems-only") applyFilter();
    if (e.target.id === "compact") applyCompact();
    if (e.target.id === "filter" || e.target.id === "problems-only" || e.target.id === "compact") saveView();
  });

  // Relative times ("3 min ago"), exact UTC on hover (the server sets the title).
  function ago(iso) {
    var t = Date.parse(iso);
    if (isNaN(t)) return null;
    var s = Math.max(0, Math.round((Date.now() - t) / 1000));
    if (s < 5) return "just now";
    if (s < 90) return s + " s ago";
    if (s < 5400) return Math.round(s / 60) + " min ago";
    if (s < 129600) return Math.round(s / 3600) + " h ago";
    return Math.round(s / 86400) + " d ago";
  }
  function refreshTimes(root) {
    (root || document).querySelectorAll("time[datetime]").forEach(function (el) {
      var iso = el.getAttribute("datetime");
      if (!iso || el.closest(".pods")) return;
      var text = ago(iso);
      if (text && el.textContent !== text) el.textContent = text;
    });
  }

  // What a card says aloud: its state, or how its last restart ended. The live region itself stays
  // in place (pushes replace the state block beside it), so only real changes are announced.
  function speak(card) {
    var st = card.querySelector(".state");
    var region = card.querySelector(".said");
    if (!st || !region) return;
    var said = st.getAttribute("data-said") || "";
    if (region.textContent !== said) region.textContent = said;
    dropStarted(card);
  }

  // "Restart … started" gives way once the card says how that restart ended — also when the push
  // with the outcome arrived before the POST's own answer (a fast rollout).
  function dropStarted(card) {
    var st = card.querySelector(".state");
    var flash = card.querySelector(".flash-slot .flash-ok");
    var outcome = st && st.getAttribute("data-outcome");
    if (flash && outcome && flash.getAttribute("data-restarted-at") === outcome) flash.remove();
  }

  document.addEventListener("htmx:after:swap", function (e) {
    var target = e.target && e.target.closest ? e.target.closest(".svc") : null;
    if (target) dropStarted(target);
    var c = conn();
    if (c !== "reconnecting" && c !== "connecting") set(document.querySelector(".banner-stale") ? "stale" : "live");
  });

  // Per pushed card only (a page may hold thousands): say what changed, refresh its times, and
  // re-judge it for "problems only".
  function onCardsChanged(records) {
    var cards = new Set();
    var regrouped = false;
    records.forEach(function (r) {
      r.addedNodes.forEach(function (n) {
        if (n.nodeType !== 1) return;
        if (n.classList.contains("state")) cards.add(n.closest(".svc"));
        // The whole card list re-rendered (services added or removed at runtime): keep the filter and times on it.
        else if (n.classList.contains("group") || n.classList.contains("svc")) regrouped = true;
      });
    });
    if (regrouped) {
      applyFilter();
      refreshTimes(document);
    }
    var problems = document.getElementById("problems-only");
    var words = (document.getElementById("filter") || { value: "" }).value.toLowerCase().split(/\s+/).filter(Boolean);
    cards.forEach(function (card) {
      if (!card) return;
      speak(card);
      refreshTimes(card);
      if (problems && problems.checked) {
        var text = card.getAttribute("data-search") || "";
        var hide = !words.every(function (w) { return text.indexOf(w) >= 0; }) || !isProblem(card);
        if (card.hidden !== hide) {
          card.hidden = hide;
          var g = card.closest("section.group");
          if (g) g.hidden = g.querySelector(".svc:not([hidden])") === null;
        }
      }
    });
  }

  // No silent clicks: while the page is not live, Restart answers with why nothing was sent.
  document.addEventListener(
    "click",
    function (e) {
      var button = e.target && e.target.closest ? e.target.closest("button.restart") : null;
      if (!button || conn() === "live") return;
      e.preventDefault();
      e.stopImmediatePropagation();
      var card = button.closest(".svc");
      var slot = card && card.querySelector(".flash-slot");
      if (slot) {
        var state = conn() === "stale" ? "the app has lost the connection to the Kubernetes API" : "the page is reconnecting to the app";
        slot.innerHTML = "";
        var p = document.createElement("div");
        p.className = "flash flash-warn";
        p.setAttribute("role", "alert");
        p.textContent = "Not sent: " + state + ". Wait until the header says Live, then try again.";
        slot.appendChild(p);
      }
    },
    true,
  );

  // The details toggle: opens the panel in place (an htmx GET, started from here so that thousands of
  // cards do not each need htmx wiring at load), closes it by removing it (which closes its socket).
  document.addEventListener(
    "click",
    function (e) {
      var t = e.target && e.target.closest ? e.target.closest("button.details-toggle") : null;
      if (!t) return;
      var slot = document.getElementById(t.getAttribute("aria-controls"));
      if (t.getAttribute("aria-expanded") === "true") {
        e.preventDefault();
        e.stopImmediatePropagation();
        t.setAttribute("aria-expanded", "false");
        t.textContent = "Details";
        // Removed through htmx so it cleans up: the panel's websocket closes and stays closed.
        if (slot && slot.firstElementChild) htmx.swap({ text: "", target: slot.firstElementChild, swap: "delete", sourceElement: t });
        return;
      }
      t.setAttribute("aria-expanded", "true");
      t.textContent = "Hide details";
      if (slot) htmx.ajax("GET", t.getAttribute("data-details"), { source: t, target: slot, swap: "innerHTML" });
    },
    true,
  );

  document.addEventListener("DOMContentLoaded", function () {
    var params = new URL(location.href).searchParams;
    ["problems-only", "compact"].forEach(function (id) {
      var box = document.getElementById(id);
      if (box && params.get(id) === "1") box.checked = true;
    });
    document.querySelectorAll(".details-slot").forEach(function (slot) {
      if (!slot.firstElementChild) return;
      var t = document.querySelector('[aria-controls="' + slot.id + '"]');
      if (t) {
        t.setAttribute("aria-expanded", "true");
        t.textContent = "Hide details";
      }
    });
    var main = document.getElementById("services");
    if (main) new MutationObserver(onCardsChanged).observe(main, { childList: true, subtree: true });
    applyCompact();
    applyFilter();
    refreshTimes(document);
    setInterval(function () { refreshTimes(document); }, 30000);
  });
})();
