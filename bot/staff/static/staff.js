// Staff console: live list updates. No framework, no build step.
// On a new lead or hand-off (server-sent event), reload the list region of this page with its current filters.
(function () {
  "use strict";
  var region = document.getElementById("leads-region");
  if (!region || !window.EventSource) return;
  var kind = region.getAttribute("data-kind");
  var notice = document.getElementById("live-notice");
  var arrived = 0;

  function refresh(newId) {
    fetch(window.location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (response) { return response.ok ? response.text() : Promise.reject(response.status); })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("leads-region");
        if (!fresh) return;
        region.innerHTML = fresh.innerHTML;
        var row = newId && region.querySelector('tr[data-lead-id="' + newId + '"]');
        if (row) row.classList.add("fresh");
      })
      .catch(function () { /* the next event or a manual reload will catch up */ });
  }

  var source = new EventSource("/staff/events");
  source.addEventListener("lead", function (event) {
    var data;
    try { data = JSON.parse(event.data); } catch (e) { return; }
    if (data.kind !== kind) return;
    arrived += 1;
    if (notice) {  // the wording comes from the page, in its language (bot/staff/i18n.yml)
      notice.textContent = arrived === 1 ? notice.getAttribute("data-one")
                                         : notice.getAttribute("data-many").replace("{n}", String(arrived));
      notice.hidden = false;
    }
    refresh(data.id);
  });
  document.body.setAttribute("data-live", "connecting");
  source.addEventListener("open", function () { document.body.setAttribute("data-live", "open"); });
})();
