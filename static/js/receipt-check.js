// Checks a receipt in the browser, from the public log, without sending it anywhere.
// Progressive enhancement: without this file (or without WebCrypto) the form posts the
// receipt to the server, which checks it there. Why it fetches every entry bundle,
// and what that does and doesn't prove: docs/SECURITY.md, "Checking a receipt in the
// browser".
(function () {
  "use strict";
  var form = document.getElementById("receipt-form");
  if (!form || !window.crypto || !crypto.subtle || !window.fetch || !window.TextEncoder) { return; }
  var box = document.getElementById("browser-result");
  var messages = document.getElementById("receipt-messages").dataset;
  var field = document.getElementById("receipt");
  var error = document.getElementById("receipt-browser-error");
  var serverButton = document.getElementById("check-on-server");
  var prefix = form.dataset.log;  // ".../<slug>/log/"
  var vkey = form.dataset.key;
  var TILE = 256;
  var encoder = new TextEncoder();
  serverButton.hidden = false;

  // --- bytes ---------------------------------------------------------------------
  function b64decode(text) {
    var raw = atob(text), out = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) { out[i] = raw.charCodeAt(i); }
    return out;
  }
  function b64encode(bytes) {
    var text = "";
    for (var i = 0; i < bytes.length; i++) { text += String.fromCharCode(bytes[i]); }
    return btoa(text);
  }
  function hex(bytes) {
    return Array.prototype.map.call(bytes, function (b) { return (b < 16 ? "0" : "") + b.toString(16); }).join("");
  }
  function concat(parts) {
    var length = 0, offset = 0;
    parts.forEach(function (p) { length += p.length; });
    var out = new Uint8Array(length);
    parts.forEach(function (p) { out.set(p, offset); offset += p.length; });
    return out;
  }
  function equal(a, b) {
    if (a.length !== b.length) { return false; }
    for (var i = 0; i < a.length; i++) { if (a[i] !== b[i]) { return false; } }
    return true;
  }
  function sha256(bytes) {
    return crypto.subtle.digest("SHA-256", bytes).then(function (d) { return new Uint8Array(d); });
  }
  var LEAF = new Uint8Array([0]), NODE = new Uint8Array([1]);
  function leafHash(entry) { return sha256(concat([LEAF, entry])); }
  function nodeHash(left, right) { return sha256(concat([NODE, left, right])); }

  // --- the receipt: "<origin> <index> <secret>", or just the secret -------------------
  function parseReceipt(text) {
    var tokens = text.trim().split(/\s+/), secret = tokens[tokens.length - 1] || "";
    if (!/^[A-Za-z0-9_-]{43}$/.test(secret)) { return null; }
    var raw = b64decode(secret.replace(/-/g, "+").replace(/_/g, "/") + "=");
    // The leaf index in the receipt isn't needed: the latest add with this commitment
    // is found among the entries (a restored signature is added again, later).
    return raw.length === 32 ? { secret: raw } : null;
  }

  // --- the signed checkpoint (c2sp.org/tlog-checkpoint) ------------------------------
  function openCheckpoint(note) {
    var split = note.indexOf("\n\n");
    if (split < 0) { throw new Error("not a signed note"); }
    var body = note.slice(0, split + 1), lines = body.split("\n");
    if (lines.length < 4 || !/^\d+$/.test(lines[1])) { throw new Error("malformed checkpoint"); }
    return { body: body, signatures: note.slice(split + 2).split("\n"), origin: lines[0],
             size: Number(lines[1]), root: b64decode(lines[2]) };
  }
  // Resolves true (valid), false (invalid: tampering) or null (no Ed25519 here).
  function checkSignature(checkpoint) {
    var parts = vkey.split("+"), name = parts[0], kid = parts[1];
    var raw = b64decode(parts.slice(2).join("+"));
    var prefixLine = "\u2014 " + name + " ";
    var line = checkpoint.signatures.filter(function (l) {
      return l.indexOf(prefixLine) === 0 && hex(b64decode(l.slice(prefixLine.length)).slice(0, 4)) === kid;
    })[0];
    if (!line || raw[0] !== 1 || checkpoint.origin !== name) { return Promise.resolve(false); }
    var signature = b64decode(line.slice(prefixLine.length)).slice(4);
    return crypto.subtle.importKey("raw", raw.slice(1), { name: "Ed25519" }, false, ["verify"])
      .then(function (key) {
        return crypto.subtle.verify({ name: "Ed25519" }, key, signature, encoder.encode(checkpoint.body));
      }, function () { return null; });
  }

  // --- the tiles (c2sp.org/tlog-tiles) -------------------------------------------------
  function tileIndexPath(n) {
    var groups = [String(n % 1000).padStart(3, "0")];
    n = Math.floor(n / 1000);
    while (n > 0) { groups.unshift("x" + String(n % 1000).padStart(3, "0")); n = Math.floor(n / 1000); }
    return groups.join("/");
  }
  function fetchBytes(path) {
    return fetch(prefix + path, { credentials: "omit" }).then(function (response) {
      if (!response.ok) { throw new Error(path + ": HTTP " + response.status); }
      return response.arrayBuffer();
    }).then(function (buffer) { return new Uint8Array(buffer); });
  }
  function parseBundle(data) {
    var entries = [], pos = 0;
    while (pos < data.length) {
      if (pos + 2 > data.length) { throw new Error("truncated bundle"); }
      var length = (data[pos] << 8) | data[pos + 1];
      pos += 2;
      if (pos + length > data.length) { throw new Error("truncated bundle"); }
      entries.push(data.slice(pos, pos + length));
      pos += length;
    }
    return entries;
  }
  // Every entry bundle of the tree, a few at a time: the same requests for every
  // receipt, so they tell the server nothing about which one is being checked.
  function fetchEntries(size, progress) {
    var count = Math.ceil(size / TILE), bundles = new Array(count), next = 0, done = 0;
    function worker() {
      if (next >= count) { return Promise.resolve(); }
      var n = next++, width = Math.min(TILE, size - n * TILE);
      var path = "tile/entries/" + tileIndexPath(n) + (width === TILE ? "" : ".p/" + width);
      return fetchBytes(path).then(function (data) {
        bundles[n] = parseBundle(data);
        if (bundles[n].length !== width) { throw new Error("bundle " + n + " has the wrong size"); }
        progress(++done, count);
        return worker();
      });
    }
    var workers = [];
    for (var i = 0; i < Math.min(6, count); i++) { workers.push(worker()); }
    return Promise.all(workers).then(function () { return [].concat.apply([], bundles); });
  }

  // --- the Merkle tree (RFC 9162): every level, bottom-up --------------------------------
  // An unpaired last node moves up unhashed: the same root as RFC 9162's recursion.
  function buildLevels(leaves) {
    var levels = [leaves];
    function up(level) {
      if (level.length <= 1) { return Promise.resolve(levels); }
      var pairs = [];
      for (var i = 0; i + 1 < level.length; i += 2) { pairs.push(nodeHash(level[i], level[i + 1])); }
      return Promise.all(pairs).then(function (next) {
        if (level.length % 2) { next.push(level[level.length - 1]); }
        levels.push(next);
        return up(next);
      });
    }
    return up(leaves);
  }
  function auditPath(levels, index) {
    var path = [];
    for (var l = 0; l < levels.length - 1; l++) {
      var sibling = index % 2 ? index - 1 : index + 1;
      if (sibling < levels[l].length) { path.push(levels[l][sibling]); }
      index = Math.floor(index / 2);
    }
    return path;
  }
  // RFC 9162 section 2.1.3.2, with arithmetic safe beyond 2^31.
  function verifyInclusion(leaf, index, size, proof, root) {
    if (index >= size) { return Promise.resolve(false); }
    var fn = index, sn = size - 1, r = leaf, i = 0;
    function step() {
      if (i === proof.length) { return Promise.resolve(sn === 0 && equal(r, root)); }
      var p = proof[i++];
      if (sn === 0) { return Promise.resolve(false); }
      var hashed;
      if (fn % 2 === 1 || fn === sn) {
        hashed = nodeHash(p, r);
        if (fn % 2 === 0) { while (fn % 2 === 0 && fn !== 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); } }
      } else {
        hashed = nodeHash(r, p);
      }
      fn = Math.floor(fn / 2);
      sn = Math.floor(sn / 2);
      return hashed.then(function (h) { r = h; return step(); });
    }
    return step();
  }

  // --- the check ---------------------------------------------------------------------------
  function text(tag, content, attrs) {
    var el = document.createElement(tag);
    el.textContent = content;
    Object.keys(attrs || {}).forEach(function (k) { el.setAttribute(k, attrs[k]); });
    return el;
  }
  function show(heading, paragraphs) {
    box.replaceChildren(text("h2", heading, { id: "browser-result-heading" }));
    paragraphs.forEach(function (p) { box.appendChild(p); });
    box.hidden = false;
  }
  function fail(reason) {
    show(messages.failed, [text("p", messages.failedDetail), text("p", reason, { dir: "ltr" })]);
  }

  // A commitment: SHA-256 of a tag, the secret and, from the first restore on, the
  // restore counter (4 bytes, big-endian); services/verifier/tlog.py documents the entries.
  function commitment(tag, secret, restores) {
    var counter = restores === 0 ? new Uint8Array(0)
      : new Uint8Array([restores >>> 24 & 255, restores >>> 16 & 255, restores >>> 8 & 255, restores & 255]);
    return sha256(concat([encoder.encode(tag), secret, counter])).then(hex);
  }
  // The receipt's latest add: counters 0, 1, … until one is missing. Then its remove,
  // which names no add: only this secret opens its commitment.
  function findAdd(entries, secret) {
    var where = {};
    entries.forEach(function (entry, i) { where[entry.split(" ").slice(0, 2).join(" ")] = i; });
    function next(restores, found) {
      return commitment("petition-receipt\0", secret, restores).then(function (c) {
        var index = where["add " + c];
        if (index === undefined) {
          if (found < 0) { return { index: -1, removal: -1 }; }
          return commitment("petition-remove\0", secret, restores - 1).then(function (r) {
            var removal = where["remove " + r];
            if (removal === undefined) { removal = where["remove " + found]; }  // an older log's "remove <index> <reason>"
            return { index: found, removal: removal === undefined || removal < found ? -1 : removal };
          });
        }
        return next(restores + 1, index);
      });
    }
    return next(0, -1);
  }

  function check(receipt) {
    show(messages.checking, []);
    var checkpoint, signatureOk, entries, levels;
    return fetch(prefix + "checkpoint", { cache: "no-cache", credentials: "omit" })
      .then(function (response) {
        if (!response.ok) { throw new Error("checkpoint: HTTP " + response.status); }
        return response.text();
      })
      .then(function (note) {
        checkpoint = openCheckpoint(note);
        return checkSignature(checkpoint);
      })
      .then(function (ok) {
        signatureOk = ok;
        if (ok === false) { throw new Error(messages.badSignature); }
        return fetchEntries(checkpoint.size, function (done, count) {
          box.querySelector("h2").textContent = messages.checking + " " + done + "/" + count;
        });
      })
      .then(function (all) {
        var decoder = new TextDecoder();
        entries = all.map(function (e) { return decoder.decode(e); });
        return Promise.all(all.map(leafHash));
      })
      .then(function (leaves) {
        // An empty tree's root is SHA-256 of nothing (RFC 9162).
        return leaves.length ? buildLevels(leaves) : sha256(new Uint8Array(0)).then(function (h) { return [[], [h]]; });
      })
      .then(function (built) {
        levels = built;
        var root = levels[levels.length - 1][0];
        // Every entry hashed up to the signed root: none was changed, added or hidden.
        if (!equal(root, checkpoint.root)) { throw new Error(messages.mismatch); }
        return findAdd(entries, receipt.secret);
      })
      .then(function (found) {
        if (!found) { return null; }
        var index = found.index, removal = found.removal;
        if (index < 0) {
          show(messages.notIncluded, [text("p", messages.notIncludedDetail), text("p", messages.local)]);
          return null;
        }
        var proof = auditPath(levels, index);
        return verifyInclusion(levels[0][index], index, checkpoint.size, proof, checkpoint.root)
          .then(function (ok) {
            if (!ok) { throw new Error(messages.mismatch); }
            report(levels, signatureOk, index, proof, removal);
          });
      });
  }

  function report(levels, signatureOk, index, proof, removal) {
    var heading = removal < 0 ? messages.included : messages.removed;
    var size = levels[0].length;
    var parts = [
      // The plain answer first, then why the log is longer than the count (issue 24.8).
      text("p", messages.whyMore),
      text("p", messages.local + " " + (signatureOk ? messages.signatureChecked : messages.signatureUnchecked)),
      text("p", (size === 1 ? messages.leafOne : messages.leaf).replace("{index}", index).replace("{size}", size)),
      text("pre", proof.map(b64encode).join("\n"), { dir: "ltr" })
    ];
    if (removal >= 0) {
      parts.push(text("p", messages.removal.replace("{index}", removal)));
      parts.push(text("pre", auditPath(levels, removal).map(b64encode).join("\n"), { dir: "ltr" }));
    }
    show(heading, parts);
  }

  form.addEventListener("submit", function (event) {
    if (event.submitter === serverButton) { return; }  // the user chose the server check
    event.preventDefault();
    var receipt = parseReceipt(field.value);
    if (!receipt) {
      error.hidden = false;
      field.setAttribute("aria-invalid", "true");
      field.setAttribute("aria-describedby", "receipt-browser-error");
      box.hidden = true;
      field.focus();
      return;
    }
    error.hidden = true;
    field.removeAttribute("aria-invalid");
    field.removeAttribute("aria-describedby");
    check(receipt).catch(function (exc) { fail(exc.message || String(exc)); });
  });
})();
