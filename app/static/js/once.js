// A form whose submit button has data-once submits once: a double click sends one request.
document.addEventListener("submit", function (event) {
  var button = event.target.querySelector("[data-once]");
  if (!button) { return; }
  if (event.target.dataset.sent) { event.preventDefault(); return; }
  event.target.dataset.sent = "1";
  button.disabled = true;
});
