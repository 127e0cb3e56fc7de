// The line picker: typing in a line's description on a form whose lines table carries
// data-price-search (the search URL), data-customer-id and data-date-field (the id of the document's
// date input) lists the matching items of the customer's price book, priced in its currency on that
// date. Arrow keys and Enter, or the mouse, pick one: the row's description, unit price, tax rate and
// category are filled and the form's live preview is recalculated (an "input" event on the price).
// An item without a rate to the customer's currency is shown with its error and fills no price.
(function () {
  "use strict";

  var MIN_CHARS = 2, DELAY_MS = 200;

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text) { node.textContent = text; }
    return node;
  }

  function attach(table) {
    var url = table.getAttribute("data-price-search");
    var customerId = table.getAttribute("data-customer-id");
    var dateField = document.getElementById(table.getAttribute("data-date-field") || "");
    var list = el("ul", "price-picker dropdown-menu");
    list.id = "price-picker";
    list.setAttribute("role", "listbox");
    list.style.display = "none";
    document.body.appendChild(list);
    var input = null, matches = [], active = -1, timer = null, asked = 0;

    var field = function (row, name) { return row.querySelector("[name$='-" + name + "']"); };

    var close = function () {
      list.style.display = "none";
      list.innerHTML = "";
      matches = []; active = -1;
      if (input) { input.setAttribute("aria-expanded", "false"); input.removeAttribute("aria-activedescendant"); }
    };

    var highlight = function (index) {
      var options = list.querySelectorAll("li[role=option]");
      options.forEach(function (li, i) {
        li.classList.toggle("active", i === index);
        li.setAttribute("aria-selected", i === index ? "true" : "false");
      });
      active = index;
      if (input && index >= 0) { input.setAttribute("aria-activedescendant", options[index].id); }
    };

    var place = function () {
      var box = input.getBoundingClientRect();
      list.style.left = (box.left + window.pageXOffset) + "px";
      list.style.top = (box.bottom + window.pageYOffset) + "px";
      list.style.minWidth = Math.max(box.width, 360) + "px";
    };

    var show = function (items) {
      list.innerHTML = "";
      matches = items;
      if (!items.length) {
        list.appendChild(el("li", "price-picker-empty text-muted", "No price book item matches."));
      }
      items.forEach(function (item, i) {
        var li = el("li", "price-picker-option");
        li.id = "price-picker-" + i;
        li.setAttribute("role", "option");
        var link = el("a");
        link.href = "#";
        link.tabIndex = -1;
        var top = el("span", "price-picker-line");
        top.appendChild(el("strong", "price-picker-code", item.code));
        top.appendChild(document.createTextNode(" " + item.name));
        top.appendChild(el("span", "price-picker-price pull-right", item.error ? "" : item.price_text));
        link.appendChild(top);
        if (item.item_price && !item.error && item.price_text && item.item_price !== item.price_text) {
          link.appendChild(el("small", "price-picker-from text-muted", "converted from " + item.item_price));
        }
        if (item.error) { link.appendChild(el("div", "price-picker-error text-danger small", item.error)); }
        if (item.warning) { link.appendChild(el("div", "price-picker-warning text-warning small", item.warning)); }
        li.appendChild(link);
        li.addEventListener("mousedown", function (event) {  // before the input's blur closes the list
          event.preventDefault();
          pick(i);
        });
        list.appendChild(li);
      });
      place();
      list.style.display = "block";
      input.setAttribute("aria-expanded", "true");
      highlight(items.length ? 0 : -1);
    };

    var note = function (row, className, text) {
      var cell = field(row, "description").parentNode;
      cell.querySelectorAll(".price-picker-note").forEach(function (n) { n.remove(); });
      if (text) { cell.appendChild(el("div", "price-picker-note small " + className, text)); }
    };

    var pick = function (index) {
      var item = matches[index];
      if (!item || !input) { return; }
      var row = input.closest("tr");
      var text = item.description ? item.name + ": " + item.description : item.name;
      input.value = text.slice(0, 500);
      var category = field(row, "category");
      if (category && item.category) { category.value = item.category; }
      var tax = field(row, "tax_rate_id");
      if (tax && item.tax_rate_id !== null && tax.querySelector("option[value='" + item.tax_rate_id + "']")) {
        tax.value = String(item.tax_rate_id);
      }
      var price = field(row, "unit_price");
      if (item.unit_price !== null) { price.value = item.unit_price; }
      var quantity = field(row, "quantity");
      if (quantity && quantity.value.trim() === "") { quantity.value = "1"; }
      note(row, item.error ? "text-danger" : "text-warning", item.error || item.warning || "");
      close();
      price.dispatchEvent(new Event("input", {bubbles: true}));  // the form's preview
      (item.unit_price === null ? price : input).focus();
    };

    var ask = function () {
      var q = input.value.trim();
      if (q.length < MIN_CHARS) { close(); return; }
      var mine = ++asked, target = input;
      var params = new URLSearchParams({customer_id: customerId, q: q, on: dateField ? dateField.value : ""});
      fetch(url + "?" + params.toString(), {credentials: "same-origin", headers: {Accept: "application/json"}})
        .then(function (response) { return response.ok ? response.json() : []; })
        .then(function (items) { if (mine === asked && target === input && document.activeElement === target) { show(items); } })
        .catch(function () { close(); });
    };

    table.addEventListener("input", function (event) {
      var target = event.target;
      if (!target.matches || !target.matches("input[name$='-description']")) { return; }
      input = target;
      input.setAttribute("autocomplete", "off");
      input.setAttribute("aria-autocomplete", "list");
      input.setAttribute("aria-controls", list.id);
      clearTimeout(timer);
      timer = setTimeout(ask, DELAY_MS);
    });
    table.addEventListener("keydown", function (event) {
      if (event.target !== input || list.style.display === "none") { return; }
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        if (!matches.length) { return; }
        var step = event.key === "ArrowDown" ? 1 : -1;
        highlight((active + step + matches.length) % matches.length);
      } else if (event.key === "Enter") {
        if (active >= 0) { event.preventDefault(); pick(active); }  // never submits the form
      } else if (event.key === "Escape") {
        event.preventDefault();
        close();
      }
    });
    table.addEventListener("focusout", function (event) {
      if (event.target === input) { setTimeout(close, 150); }
    });
    window.addEventListener("resize", function () { if (input && list.style.display !== "none") { place(); } });
  }

  document.querySelectorAll("table[data-price-search]").forEach(attach);
})();
