// Mini-maps: each <div class="minimap" data-lat data-lng> becomes a small Leaflet map with one marker.
// data-zoom (default 14), data-tiles (tile URL template; empty = no tiles, a grey background that works
// offline) and data-attribution (HTML, from trusted config) are optional. Without Leaflet the element's
// own text (a fallback message) stays as it is.
document.addEventListener("DOMContentLoaded", function () {
  if (!window.L) { return; }
  document.querySelectorAll(".minimap[data-lat][data-lng]").forEach(function (el) {
    var lat = parseFloat(el.dataset.lat), lng = parseFloat(el.dataset.lng);
    if (!isFinite(lat) || !isFinite(lng)) { return; }
    var zoom = parseInt(el.dataset.zoom, 10);
    el.textContent = "";
    if (!el.clientHeight) { el.style.height = "200px"; }  // a map needs a height; CSS may set its own
    var map = L.map(el, {scrollWheelZoom: false}).setView([lat, lng], isNaN(zoom) ? 14 : zoom);
    if (el.dataset.tiles) {
      L.tileLayer(el.dataset.tiles, {attribution: el.dataset.attribution || ""}).addTo(map);
    }
    L.marker([lat, lng]).addTo(map);
  });
});
