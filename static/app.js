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
  // A push that carries the server's "watch stale" banner flips the indicator to stale; its
  // removal flips it back to live.
  document.addEventListener("htmx:after:swap", function () {
    if (document.body.dataset.conn === "reconnecting" || document.body.dataset.conn === "connecting") return;
    set(document.querySelector(".banner-stale") ? "stale" : "live");
  });
})();
