// Feed form: show only the fields the chosen kind uses. No inline scripts (CSP).
(function () {
  const PARTS = {
    azure_devops: ["organization", "project", "feed_name", "username"],
    jfrog: ["base_url", "repository", "username"],
    generic: ["index_url", "username"],
  };
  const ALL = ["organization", "project", "feed_name", "base_url", "repository", "index_url"];
  function sync(form) {
    const kind = form.querySelector("select[name=kind]");
    if (!kind) return;
    const show = PARTS[kind.value] || ALL;
    ALL.forEach(function (name) {
      const field = form.querySelector('[data-field="' + name + '"]');
      if (field) field.hidden = show.indexOf(name) === -1;
    });
    // Mark the fields the chosen kind needs (the server says so too, with the other errors).
    form.querySelectorAll("[data-required-for]").forEach(function (mark) {
      const needed = mark.dataset.requiredFor.split(" ").indexOf(kind.value) !== -1;
      mark.hidden = !needed;
      const input = mark.closest(".field") && mark.closest(".field").querySelector("input, select, textarea");
      if (input) input.setAttribute("aria-required", needed ? "true" : "false");
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form[data-kind-form]").forEach(function (form) {
      sync(form);
      form.addEventListener("change", function (e) { if (e.target.name === "kind") sync(form); });
    });
  });
})();

// Target and delivery forms: show only the fields the chosen kind / auth type / mode uses, and disable the
// hidden ones so they are not submitted (the server still refuses them). The map comes from data-spec.
(function () {
  function setShown(form, name, shown) {
    const field = form.querySelector('[data-field="' + name + '"]');
    if (!field) return;
    field.hidden = !shown;
    field.querySelectorAll("input, select, textarea").forEach(function (el) { el.disabled = !shown; });
  }
  function syncTarget(form, spec) {
    const select = form.querySelector("select[name=kind]");
    const kind = select ? select.value : form.dataset.kind;
    const k = spec.kinds[kind];
    if (!k) return;
    const auth = form.querySelector("select[name=auth_type]");
    if (auth) {
      Array.prototype.forEach.call(auth.options, function (o) { o.hidden = k.auth_types.indexOf(o.value) === -1; });
      if (k.auth_types.indexOf(auth.value) === -1) auth.value = k.auth_types[0];
    }
    const url = form.querySelector("input[name=url]");
    if (url) url.placeholder = k.default_url || "https://";
    const credential = {};
    Object.keys(spec.auth).forEach(function (a) { spec.auth[a].forEach(function (f) { credential[f] = true; }); });
    const wanted = k.fields.concat(spec.auth[auth ? auth.value : k.auth_types[0]] || []);
    const every = {};
    Object.keys(spec.kinds).forEach(function (name) { spec.kinds[name].fields.forEach(function (f) { every[f] = true; }); });
    Object.keys(every).concat(Object.keys(credential)).forEach(function (name) {
      setShown(form, name, wanted.indexOf(name) !== -1);
    });
  }
  function syncDelivery(form, spec) {
    const mode = form.querySelector("select[name=mode]");
    if (!mode) return;
    const wanted = spec.modes[mode.value] || spec.all;
    spec.all.forEach(function (name) { setShown(form, name, wanted.indexOf(name) !== -1); });
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form[data-target-form], form[data-delivery-form]").forEach(function (form) {
      let spec;
      try { spec = JSON.parse(form.dataset.spec || "{}"); } catch (e) { return; }
      const sync = form.hasAttribute("data-target-form") ? syncTarget : syncDelivery;
      sync(form, spec);
      form.addEventListener("change", function (e) {
        if (["kind", "auth_type", "mode"].indexOf(e.target.name) !== -1) sync(form, spec);
      });
    });
  });
})();

// Copy buttons: <button data-copy="#id"> copies the text of #id and says so in [data-copy-status].
(function () {
  document.addEventListener("click", function (e) {
    const button = e.target.closest ? e.target.closest("button[data-copy]") : null;
    if (!button) return;
    const source = document.querySelector(button.dataset.copy);
    if (!source) return;
    const status = document.querySelector("[data-copy-status]");
    const say = function (text) { if (status) status.textContent = text; };
    const text = source.textContent.trim();
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(function () { button.textContent = "Copied"; say("Copied to the clipboard."); },
        function () { say("Copy failed: select the token and copy it by hand."); });
    } else {
      const range = document.createRange();
      range.selectNodeContents(source);
      const selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
      say(document.execCommand && document.execCommand("copy") ? "Copied to the clipboard." : "Selected: press Ctrl+C to copy.");
      if (status && status.textContent.indexOf("Copied") === 0) button.textContent = "Copied";
    }
  });
})();
