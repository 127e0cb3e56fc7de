// The invoice address format box (templates/invoice_settings/show.html): a click on a tag inserts it at
// the cursor; each change asks the preview endpoint (250 ms after the last key, the older answers
// ignored) and shows this customer's address as it would print, or the errors beside the box.
(function () {
  var box = document.getElementById("format");
  if (!box) { return; }
  var preview = document.getElementById("preview");
  var errors = document.getElementById("format-errors");
  var group = document.getElementById("group-format");
  var timer = null, asked = 0;

  function show(messages) {
    errors.textContent = "";
    messages.forEach(function (message) {
      var line = document.createElement("span");
      line.className = "help-block field-error";
      line.textContent = message;
      errors.appendChild(line);
    });
    group.classList.toggle("has-error", messages.length > 0);
  }

  function refresh() {
    var mine = ++asked;
    fetch(box.dataset.previewUrl + "?template=" + encodeURIComponent(box.value),
          {headers: {"Accept": "application/json"}, credentials: "same-origin"})
      .then(function (response) { return response.json().then(function (body) { return [response.ok, body]; }); })
      .then(function (answer) {
        if (mine !== asked) { return; }
        if (answer[0]) { preview.textContent = answer[1].text; show([]); }
        else { show(answer[1].errors ? answer[1].errors.invoice_address_format || [] : [answer[1].message]); }
      })
      .catch(function () { if (mine === asked) { show(["The preview could not be loaded."]); } });
  }

  box.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(refresh, 250);
  });

  document.querySelectorAll(".insert-tag").forEach(function (button) {
    button.addEventListener("click", function () {
      var start = box.selectionStart, end = box.selectionEnd, tag = button.dataset.tag;
      box.value = box.value.slice(0, start) + tag + box.value.slice(end);
      box.focus();
      box.selectionStart = box.selectionEnd = start + tag.length;
      box.dispatchEvent(new Event("input"));
    });
  });
})();
