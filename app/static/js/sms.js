// The text compose box: characters and SMS parts as you type (GSM-7 or UCS-2, as the server counts).
(function () {
  var box = document.querySelector("textarea[data-sms]");
  var out = document.getElementById("sms-count");
  if (!box || !out) { return; }
  var basic = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\u001bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
              "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
  var extended = "^{}\\[~]|€\f";
  function count(text) {
    var gsm = true, units = 0, i, c;
    for (i = 0; i < text.length; i++) {
      c = text[i];
      if (extended.indexOf(c) >= 0) { units += 2; } else if (basic.indexOf(c) >= 0) { units += 1; } else { gsm = false; break; }
    }
    if (!gsm) { units = text.length; }  // UTF-16 code units, as the network counts UCS-2
    var single = gsm ? 160 : 70, multi = gsm ? 153 : 67;
    var parts = units === 0 ? 0 : (units <= single ? 1 : Math.ceil(units / multi));
    return {encoding: gsm ? "GSM-7" : "UCS-2", units: units, parts: parts};
  }
  function show() {
    var n = count(box.value.replace(/\r\n/g, "\n"));
    var max = parseInt(box.dataset.maxSegments, 10);
    out.textContent = n.units + " characters (" + n.encoding + "), " + n.parts + " message" + (n.parts === 1 ? "" : "s") +
      (n.parts > max ? " - too long: at most " + max + " messages" : "");
    out.parentNode.classList.toggle("has-error", n.parts > max);
  }
  box.addEventListener("input", show);
  show();
})();
