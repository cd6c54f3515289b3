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

  // "Did you mean …@gmail.com?" under the email field: services/intake/email_typos.py's rule
  // (one edit from a listed provider, a swap of neighbours counting as one) on its list.
  function oneEditApart(a, b) {
    if (a === b || Math.abs(a.length - b.length) > 1) { return false; }
    var i = 0;
    while (i < a.length && a[i] === b[i]) { i++; }
    if (a.length === b.length) {
      return a.slice(i + 1) === b.slice(i + 1) ||
        (a[i] === b[i + 1] && a[i + 1] === b[i] && a.slice(i + 2) === b.slice(i + 2));
    }
    return a.length > b.length ? a.slice(i + 1) === b.slice(i) : a.slice(i) === b.slice(i + 1);
  }
  document.querySelectorAll("input[data-typo-domains]").forEach(function (input) {
    var out = document.getElementById("email-suggestion");
    if (!out) { return; }
    var providers = input.getAttribute("data-typo-domains").split(" ");
    function check() {
      var value = input.value.trim(), at = value.lastIndexOf("@");
      var domain = value.slice(at + 1).toLowerCase(), fixed = null;
      if (at > 0 && providers.indexOf(domain) < 0) {
        fixed = providers.filter(function (p) { return oneEditApart(domain, p); })[0] || null;
      }
      out.replaceChildren();
      out.hidden = !fixed;
      if (!fixed) { return; }
      var address = value.slice(0, at + 1) + fixed;
      var parts = out.getAttribute("data-text").split("{address}");
      var button = document.createElement("button");
      button.type = "button";
      button.className = "linkish";
      button.dir = "ltr";
      button.textContent = address;
      button.addEventListener("click", function () {
        input.value = address;
        out.hidden = true;
        input.focus();
      });
      out.append(parts[0], button, parts[1] || "");
    }
    input.addEventListener("change", check);
    input.addEventListener("blur", check);
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
