// The invoice form's line rows (Add line, remove a line) and a live preview of each line's net and
// tax and the invoice's totals, rounded as the server rounds them (each line once, half-up, to the
// currency's minor units) in exact integer arithmetic. The server's figures are the ones that count.
// On the Record payment form: what of the amount typed becomes account credit.
(function () {
  "use strict";

  // "1,234.50" -> {n: 123450n, scale: 2}; anything else -> null.
  function parse(text) {
    var s = String(text || "").replace(/[\s,]/g, "");
    var m = /^(-?)(\d*)(?:\.(\d*))?$/.exec(s);
    if (!m || (m[2] === "" && !m[3])) { return null; }
    var decimals = m[3] || "";
    var n = BigInt((m[2] || "0") + decimals);
    return {n: m[1] ? -n : n, scale: decimals.length};
  }

  function pow10(k) { return BigInt(10) ** BigInt(k); }

  // a / b rounded half-up (away from zero on a tie), b > 0.
  function divide(a, b) {
    if (a < 0n) { return -divide(-a, b); }
    return (a * 2n + b) / (2n * b);
  }

  function formatter(currency, units) {
    try {
      var f = new Intl.NumberFormat("en-GB", {style: "currency", currency: currency,
                                              minimumFractionDigits: units, maximumFractionDigits: units});
      return function (minor) { return f.format(Number(minor) / Math.pow(10, units)); };
    } catch (e) {
      return function (minor) { return (Number(minor) / Math.pow(10, units)).toFixed(units) + " " + currency; };
    }
  }

  // ---- the invoice form's lines -----------------------------------------------------------------
  var form = document.getElementById("invoice-form");
  if (form) {
    var body = form.querySelector("#invoice-lines tbody");
    var template = document.getElementById("line-template");
    var units = parseInt(form.getAttribute("data-minor-units"), 10) || 0;
    var show = formatter(form.getAttribute("data-currency"), units);
    var fixed = form.getAttribute("data-fixed-percent");  // exempt (0) or the customer's special rate
    var next = body.querySelectorAll("tr.invoice-line").length;

    var field = function (row, name) { return row.querySelector("[name$='-" + name + "']"); };

    var update = function () {
      var net = 0n, tax = 0n;
      body.querySelectorAll("tr.invoice-line").forEach(function (row) {
        var price = parse(field(row, "unit_price").value);
        var quantityText = field(row, "quantity").value;
        var quantity = quantityText.trim() === "" ? {n: 1n, scale: 0} : parse(quantityText);
        var select = field(row, "tax_rate_id");
        var option = select.options[select.selectedIndex];
        var percent = parse(fixed !== null ? fixed : (option ? option.getAttribute("data-percent") : "0"));
        var netCell = row.querySelector("td.line-net"), taxCell = row.querySelector("td.line-tax-amount");
        if (!price || !quantity || !percent) { netCell.textContent = ""; taxCell.textContent = ""; return; }
        var lineNet = divide(quantity.n * price.n * pow10(units), pow10(quantity.scale + price.scale));
        var lineTax = divide(lineNet * percent.n, 100n * pow10(percent.scale));
        netCell.textContent = show(lineNet);
        taxCell.textContent = show(lineTax);
        net += lineNet; tax += lineTax;
      });
      document.getElementById("preview-net").textContent = show(net);
      document.getElementById("preview-tax").textContent = show(tax);
      document.getElementById("preview-total").textContent = show(net + tax);
    };

    var addLine = function () {
      var holder = document.createElement("tbody");
      holder.innerHTML = template.innerHTML.replace(/__i__/g, String(next++));
      var row = holder.querySelector("tr");
      body.appendChild(row);
      return row;
    };

    document.getElementById("add-line").addEventListener("click", function () {
      field(addLine(), "description").focus();
      update();
    });
    body.addEventListener("click", function (event) {
      var button = event.target.closest(".remove-line");
      if (!button) { return; }
      button.closest("tr").remove();
      if (!body.querySelector("tr.invoice-line")) { addLine(); }
      update();
    });
    body.addEventListener("input", update);
    body.addEventListener("change", update);
    update();
  }

  // ---- Record payment: what becomes account credit ----------------------------------------------
  var amount = document.getElementById("amount");
  var note = document.getElementById("credit-note");
  if (amount && note && amount.hasAttribute("data-outstanding")) {
    var payUnits = parseInt(amount.getAttribute("data-minor-units"), 10) || 0;
    var payShow = formatter(amount.getAttribute("data-currency"), payUnits);
    var outstanding = parse(amount.getAttribute("data-outstanding"));
    var toMinor = function (value) {  // an amount as whole minor units (its extra decimals cut)
      return value.n * pow10(payUnits) / pow10(value.scale);
    };
    var said = function () {
      var typed = parse(amount.value);
      var credit = typed && outstanding ? toMinor(typed) - toMinor(outstanding) : 0n;
      note.hidden = credit <= 0n;
      note.textContent = credit > 0n ? payShow(credit) + " becomes account credit." : "";
    };
    amount.addEventListener("input", said);
    said();
  }
})();
