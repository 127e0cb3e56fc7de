// The job page: poll the job's progress until it is done, then reload to show the result.
(function () {
  var box = document.getElementById("job");
  if (!box) { return; }
  var bar = document.getElementById("job-bar"), percent = document.getElementById("job-percent"),
      status = document.getElementById("job-status");
  function poll() {
    fetch(box.dataset.progress, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (r) { return r.json(); })
      .then(function (job) {
        bar.style.width = job.percent + "%";
        bar.setAttribute("aria-valuenow", job.percent);
        percent.textContent = job.percent + "%";
        if (job.status === "done" || job.status === "failed") { window.location.reload(); return; }
        status.textContent = job.status === "running"
          ? "Working: " + job.done.toLocaleString() + " of " + job.total.toLocaleString() + "."
          : "Waiting for a worker.";
        setTimeout(poll, 1000);
      })
      .catch(function () { setTimeout(poll, 3000); });
  }
  setTimeout(poll, 500);
})();
