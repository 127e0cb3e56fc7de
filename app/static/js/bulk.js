// The customer list: "Select all N matching" ticks every row on the page and tells the
// bulk action to act on every customer the current filter finds, on every page.
(function () {
  var box = document.getElementById("select-all-matching");
  if (!box) { return; }
  function form() { return document.getElementById("action_form"); }
  function hidden(name, value) {
    var input = document.createElement("input");
    input.type = "hidden"; input.name = name; input.value = value; input.className = "all-matching";
    return input;
  }
  box.addEventListener("change", function () {
    var f = form();
    if (!f) { return; }
    f.querySelectorAll("input.all-matching").forEach(function (el) { el.remove(); });
    document.querySelectorAll("input.action_check").forEach(function (el) { el.checked = box.checked; });
    if (box.checked) {
      f.appendChild(hidden("all_matching", "1"));
      f.appendChild(hidden("query", box.dataset.query || ""));
    }
  });
  // Unticking any row means the user is choosing rows after all.
  document.addEventListener("change", function (event) {
    if (event.target.classList && event.target.classList.contains("action_check") && !event.target.checked && box.checked) {
      box.checked = false;
      box.dispatchEvent(new Event("change"));
    }
  });
})();
