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
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form[data-kind-form]").forEach(function (form) {
      sync(form);
      form.addEventListener("change", function (e) { if (e.target.name === "kind") sync(form); });
    });
  });
})();
