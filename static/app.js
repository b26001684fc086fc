// Shows the websocket's connection state on <body data-conn>; the server marks staleness itself.
(function () {
  function set(state) {
    document.body.dataset.conn = state;
  }
  document.addEventListener("htmx:ws:after:connection", function () {
    set("live");
  });
  document.addEventListener("htmx:ws:close", function () {
    set("reconnecting");
  });
  document.addEventListener("htmx:ws:error", function () {
    set("reconnecting");
  });
  // The filter box: hides cards whose name, namespace or kind does not contain every word typed,
  // and namespaces left empty. Purely local; re-applied after every swap (cards are re-rendered
  // when services come or go).
  function applyFilter() {
    var input = document.getElementById("filter");
    if (!input) return;
    var words = input.value.toLowerCase().split(/\s+/).filter(Boolean);
    document.querySelectorAll(".svc").forEach(function (card) {
      var text = card.getAttribute("data-search") || "";
      card.hidden = !words.every(function (w) { return text.indexOf(w) >= 0; });
    });
    document.querySelectorAll("section.group").forEach(function (g) {
      g.hidden = g.querySelector(".svc:not([hidden])") === null;
    });
  }
  document.addEventListener("input", function (e) {
    if (e.target && e.target.id === "filter") applyFilter();
  });

  // A push that carries the server's "watch stale" banner flips the indicator to stale; its
  // removal flips it back to live.
  document.addEventListener("htmx:after:swap", function () {
    // Services added or removed at runtime re-render the cards: keep the filter on them.
    applyFilter();
    if (document.body.dataset.conn === "reconnecting" || document.body.dataset.conn === "connecting") return;
    set(document.querySelector(".banner-stale") ? "stale" : "live");
  });
})();
