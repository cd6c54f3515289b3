// The embedded form tells the partner's page how tall it is, so their iframe fits it
// (the snippet on the share page listens, for messages from our origin only). After a
// post (check your inbox, or errors), it asks to be brought into view: the message
// would otherwise sit above the reader's view. Without this script, or without the
// partner's snippet, the iframe keeps its fixed height and scrolls inside.
(function () {
  "use strict";
  if (window.parent === window) { return; }
  var reveal = document.body.classList.contains("embed-reveal");
  var box = document.querySelector(".embed") || document.body;
  var last = 0;
  function post(bringIntoView) {
    // The content's own box: the document stretches to the frame, so it could only grow.
    var height = Math.ceil(box.getBoundingClientRect().bottom + window.scrollY);
    if (height === last && !bringIntoView) { return; }
    last = height;
    // Only the height and "bring me into view": the iframe's own load event tells the
    // partner's page as much. Nothing about the signer ever leaves the frame.
    window.parent.postMessage({ type: "petition-embed", height: height, reveal: bringIntoView }, "*");
  }
  post(reveal);
  if (reveal) {
    var message = document.getElementById("embed-message") ||
      document.querySelector(".embed-notice, #error-summary");
    if (message) { message.scrollIntoView({ block: "start" }); }
  }
  if (window.ResizeObserver) {
    new ResizeObserver(function () { post(false); }).observe(box);
  }
  window.addEventListener("load", function () { post(false); });
})();
