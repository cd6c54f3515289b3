// Progressive enhancement only: every page works without this file.
(function () {
  "use strict";
  // Move focus to the error summary so screen-reader users hear what went wrong.
  var summary = document.getElementById("error-summary");
  if (summary) { summary.focus(); }

  // "Copy link" buttons and read-only link fields.
  document.querySelectorAll("[data-copy]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () {
      var target = document.getElementById(button.getAttribute("data-copy"));
      if (!target || !navigator.clipboard) { return; }
      navigator.clipboard.writeText(target.value || target.textContent).then(function () {
        var done = button.getAttribute("data-copied");
        if (done) { button.textContent = done; }
      });
    });
  });

  // Opening the sign box's choices unsticks the box (site.css): keep them in view.
  document.querySelectorAll("details.choices").forEach(function (details) {
    details.addEventListener("toggle", function () {
      if (details.open) { details.querySelector("summary").scrollIntoView({ block: "nearest" }); }
    });
  });

  // A live count under a limited box. maxlength cuts pasted text silently: lift it and
  // say how much is over instead (the server refuses an over-long comment, clearly).
  document.querySelectorAll("textarea[maxlength][data-count]").forEach(function (area) {
    var out = document.getElementById(area.getAttribute("data-count"));
    var max = parseInt(area.getAttribute("maxlength"), 10);
    if (!out || !max) { return; }
    area.removeAttribute("maxlength");
    var digits = new Intl.NumberFormat(document.documentElement.lang);
    function update() {
      var left = max - Array.from(area.value).length;  // code points, as the server counts
      var n = Math.abs(left);
      var key = (left < 0 ? "over" : "left") + (n === 1 ? "One" : "");
      out.textContent = out.dataset[key].replace("{num}", digits.format(n));
      out.classList.toggle("char-over", left < 0);
    }
    area.addEventListener("input", update);
    update();
  });

  // The system share sheet on devices that have one.
  document.querySelectorAll("[data-share]").forEach(function (button) {
    if (!navigator.share) { return; }
    button.hidden = false;
    button.addEventListener("click", function () {
      navigator.share({
        title: button.getAttribute("data-title") || document.title,
        text: button.getAttribute("data-text") || "",
        url: button.getAttribute("data-share")
      }).catch(function () {});
    });
  });
})();
