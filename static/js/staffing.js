// Staffing planner: shows only the inputs of the chosen forecast source, and draws the
// agents per interval from the JSON the server embeds (the table stays the full record).
(function () {
  const form = document.querySelector("[data-testid=staffing-form]");
  if (form) {
    const radios = form.querySelectorAll("input[name=source]");
    const sync = function () {
      const chosen = form.querySelector("input[name=source]:checked");
      form.querySelectorAll("fieldset[data-source]").forEach(function (set) {
        // Without a choice (or without this script) both stay visible.
        set.hidden = chosen !== null && set.dataset.source !== chosen.value;
      });
    };
    radios.forEach(function (radio) { radio.addEventListener("change", sync); });
    sync();
  }

  const source = document.getElementById("staffing-data");
  const canvas = document.getElementById("chart-agents");
  if (!source || !canvas || !window.Chart) { return; }
  const data = JSON.parse(source.textContent);
  new Chart(canvas, {
    type: "bar",
    data: { labels: data.labels, datasets: [
      { label: data.label, data: data.agents, backgroundColor: "#0b4f9c" } ] },
    options: { responsive: true, maintainAspectRatio: false, animation: false,
      plugins: { legend: { position: "bottom" } },
      scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } },
  });
})();
