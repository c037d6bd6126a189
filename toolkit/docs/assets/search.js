// Search over node and column names: filters the bundled index (search-index.js), no network needed.
(function () {
  var script = document.currentScript, root = script.getAttribute("data-root") || "";
  var input = document.getElementById("search"), list = document.getElementById("search-results");
  var index = window.TOOLKIT_SEARCH_INDEX || [];
  function show() {
    var words = input.value.trim().toLowerCase().split(/\s+/).filter(Boolean);
    list.innerHTML = "";
    if (!words.length) { list.hidden = true; return; }
    var found = index.filter(function (e) {
      var text = (e.name + " " + (e.node || "")).toLowerCase();
      return words.every(function (w) { return text.indexOf(w) >= 0; });
    }).slice(0, 30);
    found.forEach(function (e) {
      var item = document.createElement("li"), link = document.createElement("a"), where = document.createElement("span");
      link.href = root + e.url;
      link.textContent = e.name;
      where.className = "where";
      where.textContent = e.kind === "column" ? "column of " + e.node + " · " + e.type : e.kind;
      link.appendChild(where);
      item.appendChild(link);
      list.appendChild(item);
    });
    list.hidden = found.length === 0;
  }
  input.addEventListener("input", show);
  input.addEventListener("keydown", function (event) {
    var first = list.querySelector("a");
    if (event.key === "Enter" && first) { window.location.href = first.href; }
    if (event.key === "Escape") { input.value = ""; show(); }
  });
})();
