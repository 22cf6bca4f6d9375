/* Names for what third-party components render without one (checked by the accessibility tests):
 * inside an element with data-a11y-name (layouts.components.named), a dbc.Progress's
 * role=progressbar element and a dcc.Upload's file input get that name as aria-label. Runs after
 * the page changes, at most four times a second, and touches nothing else.
 */
(function () {
  "use strict";

  var EVERY_MS = 250;
  var pending = false;

  function nameUnnamed() {
    pending = false;
    var holders = document.querySelectorAll("[data-a11y-name]");
    for (var h = 0; h < holders.length; h++) {
      var name = holders[h].getAttribute("data-a11y-name");
      var targets = holders[h].querySelectorAll("[role=progressbar], input[type=file]");
      for (var t = 0; t < targets.length; t++) {
        if (targets[t].getAttribute("aria-label") !== name) targets[t].setAttribute("aria-label", name);
      }
    }
  }

  function later() {
    if (!pending) {
      pending = true;
      setTimeout(nameUnnamed, EVERY_MS);
    }
  }

  function start() {
    nameUnnamed();
    new MutationObserver(later).observe(document.body, {childList: true, subtree: true});
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
