// The Allocate cash screen (templates/cash_allocation/show.html): what is to allocate (the new payment's
// amount or the chosen credit's rest), what the rows come to, the remainder and, before saving, the excess
// that becomes account credit, all said as amounts are typed. "Allocate oldest first" asks the server
// (the same filling saving checks against) and puts its amounts in the rows. Saving decides; this only says.
(function () {
  var form = document.getElementById("allocation-form");
  if (!form) { return; }
  var units = parseInt(form.dataset.minorUnits, 10) || 0, scale = Math.pow(10, units);
  var currency = form.dataset.currency;
  var amount = document.getElementById("amount");
  var rows = Array.prototype.slice.call(form.querySelectorAll(".row-amount"));
  var shown = {
    total: document.getElementById("to-allocate"), allocated: document.getElementById("allocated"),
    remainder: document.getElementById("remainder"), excess: document.getElementById("excess-note"),
    over: document.getElementById("over-note"), errors: document.getElementById("oldest-errors")
  };

  // Amounts in minor units (integers), so that sums are exact; null for what is not a number.
  function minor(text) {
    text = (text || "").replace(/[,\s]/g, "");
    if (text === "") { return 0; }
    if (!/^-?\d*(\.\d*)?$/.test(text)) { return null; }
    return Math.round(parseFloat(text) * scale);
  }
  function show(value) {
    return new Intl.NumberFormat(undefined, {style: "currency", currency: currency}).format(value / scale);
  }
  function chosen() { return form.querySelector("input[name=source]:checked"); }

  function available() {
    var source = chosen();
    if (!source) { return null; }
    return source.value === "new" ? minor(amount.value) : minor(source.dataset.left);
  }

  function refresh() {
    var total = available(), sum = 0, bad = false;
    rows.forEach(function (input) {
      var value = minor(input.value);
      if (value === null) { bad = true; } else { sum += value; }
    });
    var source = chosen(), isNew = source && source.value === "new";
    shown.total.textContent = total === null ? "–" : show(total);
    shown.allocated.textContent = bad ? "–" : show(sum);
    var rest = total === null || bad ? null : total - sum;
    shown.remainder.textContent = rest === null ? "–" : show(rest);
    shown.excess.hidden = !(rest > 0);
    shown.excess.textContent = rest > 0 ? show(rest) + (isNew ? " becomes account credit."
                                                              : " is left as account credit.") : "";
    shown.over.hidden = !(rest < 0);
    shown.over.textContent = rest < 0 ? "The rows come to " + show(-rest) + " more than " +
                                        (isNew ? "the payment." : "the credit left.") : "";
  }

  document.getElementById("oldest-first").addEventListener("click", function () {
    var total = available();
    shown.errors.textContent = "";
    if (total === null || total <= 0) {
      shown.errors.textContent = "Enter the payment's amount or pick a credit first.";
      return;
    }
    fetch(form.dataset.oldestUrl + "?amount=" + encodeURIComponent((total / scale).toFixed(units)),
          {headers: {"Accept": "application/json"}, credentials: "same-origin"})
      .then(function (response) { return response.json().then(function (body) { return [response.ok, body]; }); })
      .then(function (answer) {
        if (!answer[0]) {
          var errors = answer[1].errors || {};
          shown.errors.textContent = errors.amount ? errors.amount.join(" ") : (answer[1].message || "Refused.");
          return;
        }
        rows.forEach(function (input) {
          var id = input.id.replace(/^row-(\d+)-amount$/, "$1");
          input.value = answer[1].rows[id] || "";
        });
        refresh();
      })
      .catch(function () { shown.errors.textContent = "The amounts could not be loaded."; });
  });

  // A row's error is about the amount it was refused with: once the amount changes, it goes.
  function settle(event) {
    if (!event.target.classList.contains("row-amount")) { return; }
    var row = event.target.closest("tr.open-invoice");
    row.classList.remove("danger");
    row.querySelectorAll(".has-error").forEach(function (cell) { cell.classList.remove("has-error"); });
    row.querySelectorAll(".field-error").forEach(function (said) { said.remove(); });
  }

  form.addEventListener("input", function (event) { settle(event); refresh(); });
  form.addEventListener("change", refresh);
  refresh();
})();
