/* asean-mt: progressive enhancement of server-rendered pages. Every page works without this file; with it,
   translations arrive without a page reload, the target choices follow the source language, each translation
   can be copied or downloaded, several translations become tabs, and job pages update by themselves. */
(function () {
  "use strict";
  var doc = document;
  doc.documentElement.classList.add("js");

  function parse(html) { return new DOMParser().parseFromString(html, "text/html"); }
  function say(node, text) { if (node) { node.textContent = text; } }
  function label(name, fallback) { var b = doc.body; return (b && b.dataset[name]) || fallback; }

  /* -- target languages follow the source language (what works from it) -- */
  function availability(form) {
    var select = form.querySelector("#source");
    var raw = form.getAttribute("data-availability");
    if (!select || !raw) { return; }
    var works = JSON.parse(raw);
    var prior = form.getAttribute("data-prior") || "id";
    function update() {
      var source = select.value === "auto" ? prior : select.value;
      var ok = works[source] || [];
      form.querySelectorAll("input[name=targets]").forEach(function (box) {
        var can = ok.indexOf(box.value) >= 0;
        var why = doc.getElementById("why-" + box.value);
        var item = box.closest("li");
        box.disabled = !can;
        if (!can) { box.checked = false; box.setAttribute("aria-describedby", "why-" + box.value); }
        else { box.removeAttribute("aria-describedby"); }
        if (why) { why.hidden = can; }
        if (item) { item.hidden = box.value === source; }
        box.closest("label").classList.toggle("unavailable", !can);
      });
    }
    select.addEventListener("change", update);
  }

  /* -- copy and download each translation -- */
  function actions(root) {
    root.querySelectorAll(".actions[data-text-of]").forEach(function (bar) {
      var source = doc.getElementById(bar.getAttribute("data-text-of"));
      var done = bar.querySelector(".done");
      if (!source) { return; }
      bar.hidden = false;
      bar.querySelector(".copy").addEventListener("click", function () {
        var text = source.textContent;
        var fallback = function () {
          var range = doc.createRange();
          range.selectNodeContents(source);
          var sel = window.getSelection();
          sel.removeAllRanges();
          sel.addRange(range);
          var copied = doc.execCommand && doc.execCommand("copy");
          say(done, copied ? label("copied", "Copied.") : label("selected", "Selected: press Ctrl+C to copy."));
        };
        if (navigator.clipboard && window.isSecureContext) {
          navigator.clipboard.writeText(text).then(function () { say(done, label("copied", "Copied.")); }, fallback);
        } else { fallback(); }
      });
      bar.querySelector(".download").addEventListener("click", function () {
        var blob = new Blob([source.textContent], {type: "text/plain;charset=utf-8"});
        var link = doc.createElement("a");
        link.href = URL.createObjectURL(blob);
        link.download = bar.getAttribute("data-file") || "translation.txt";
        doc.body.appendChild(link);
        link.click();
        setTimeout(function () { URL.revokeObjectURL(link.href); link.remove(); }, 1000);
      });
    });
  }

  /* -- a corrected sentence is saved in place (without the script: the form posts and comes back) -- */
  function corrections(root) {
    root.querySelectorAll("form.correct-form").forEach(function (form) {
      var done = form.querySelector(".done");
      form.addEventListener("submit", function (event) {
        if (!window.fetch || !window.FormData) { return; }
        event.preventDefault();
        say(done, "");
        fetch(form.action, {method: "POST", body: new FormData(form), credentials: "same-origin",
                            headers: {"Accept": "application/json"}})
          .then(function (response) {
            return response.json().then(function (body) {
              var saved = body.approved === false ? label("pending", "Saved: waiting for approval.") : label("saved", "Saved.");
              say(done, response.ok ? saved : (body.error || label("offline", "Not saved.")));
            });
          })
          .catch(function () { say(done, label("offline", "The server could not be reached; try again.")); });
      });
    });
  }

  /* -- several translations: tabs (links to each card; the chosen one is shown) -- */
  function tabs(root) {
    var nav = root.querySelector(".tabs");
    if (!nav) { return; }
    var links = Array.prototype.slice.call(nav.querySelectorAll("a"));
    function show(link) {
      links.forEach(function (other) {
        var card = doc.getElementById(other.getAttribute("href").slice(1));
        var on = other === link;
        if (on) { other.setAttribute("aria-current", "true"); } else { other.removeAttribute("aria-current"); }
        if (card) { card.hidden = !on; }
      });
    }
    links.forEach(function (link) {
      link.addEventListener("click", function (event) { event.preventDefault(); show(link); });
    });
    show(links[0]);
  }

  function showError(results, message) {
    results.querySelectorAll("#error").forEach(function (n) { n.remove(); });
    var p = doc.createElement("p");
    p.className = "error"; p.id = "error"; p.setAttribute("role", "alert");
    p.textContent = message;
    results.insertBefore(p, results.children[1] || null);
  }

  /* -- translate without a page reload; documents go to their own page -- */
  function translate(form) {
    var results = doc.getElementById("results");
    var busy = doc.getElementById("busy");
    var button = form.querySelector("button[type=submit]");
    form.addEventListener("submit", function (event) {
      if (!window.fetch || !window.FormData) { return; }
      event.preventDefault();
      button.disabled = true;
      results.setAttribute("aria-busy", "true");
      busy.innerHTML = "";
      var bar = doc.createElement("progress");
      bar.setAttribute("aria-label", label("working", "Translating"));
      busy.appendChild(bar);
      busy.appendChild(doc.createTextNode(" " + label("working", "Translating") + "…"));
      var started = Date.now();
      var timer = setInterval(function () {
        busy.lastChild.textContent = " " + label("working", "Translating") + "… " + Math.round((Date.now() - started) / 1000) + " s";
      }, 1000);
      fetch(form.action || window.location.pathname, {method: "POST", body: new FormData(form), credentials: "same-origin"})
        .then(function (response) {
          if (response.redirected && response.url.indexOf("/documents/") >= 0) { window.location.assign(response.url); return null; }
          if ((response.headers.get("Content-Type") || "").indexOf("json") >= 0) {
            return response.json().then(function (body) { showError(results, body.error || label("offline", "")); });
          }
          return response.text().then(function (html) {
            var page = parse(html);
            var fresh = page.getElementById("results");
            if (!fresh) { window.location.assign(response.url); return null; }
            results.innerHTML = fresh.innerHTML;
            actions(results);
            corrections(results);
            tabs(results);
            var heading = results.querySelector("h2");
            if (heading) { heading.setAttribute("tabindex", "-1"); heading.focus(); }
            return null;
          });
        })
        .catch(function () { showError(results, label("offline", "The server could not be reached; try again.")); })
        .finally(function () {
          clearInterval(timer); button.disabled = false; busy.innerHTML = ""; results.removeAttribute("aria-busy");
        });
    });
  }

  /* -- job and document pages: the status region updates by itself -- */
  function follow(region) {
    var wait = parseInt(region.getAttribute("data-refresh"), 10) * 1000 || 2000;
    function poll() {
      fetch(window.location.href, {credentials: "same-origin"}).then(function (r) { return r.text(); }).then(function (html) {
        var fresh = parse(html).getElementById(region.id);
        if (!fresh) { return; }
        region.innerHTML = fresh.innerHTML;
        actions(region);
        if (fresh.hasAttribute("data-refresh")) { setTimeout(poll, wait); }
        else { region.removeAttribute("data-refresh"); var s = doc.getElementById("finished"); if (s) { s.textContent = fresh.getAttribute("data-finished") || ""; } }
      }).catch(function () { setTimeout(poll, wait * 2); });
    }
    setTimeout(poll, wait);
  }

  function start() {
    var form = doc.getElementById("translate-form");
    if (form) { availability(form); translate(form); }
    actions(doc);
    corrections(doc);
    var results = doc.getElementById("results");
    if (results) { tabs(results); }
    doc.querySelectorAll("[data-refresh]").forEach(follow);
  }
  if (doc.readyState === "loading") { doc.addEventListener("DOMContentLoaded", start); } else { start(); }
}());
