// A submit button with data-once sends its form once: a double click makes one request.
// (Disabled only after this event, so the button's own name=value still goes with the form.)
document.addEventListener("submit", function (event) {
  var button = event.submitter;
  if (!button || !button.hasAttribute("data-once")) { return; }
  var form = event.target;
  if (form.dataset.sent) { event.preventDefault(); return; }
  form.dataset.sent = "1";
  if (button.name) {
    var keep = document.createElement("input");
    keep.type = "hidden"; keep.name = button.name; keep.value = button.value;
    form.appendChild(keep);
  }
  setTimeout(function () { button.disabled = true; }, 0);
});
