// Draws the supervisor's reliability trends from the JSON the server embeds in the page.
// The table under the charts holds the same figures for screen readers and without script.
(function () {
  const source = document.getElementById("reliability-data");
  if (!source || typeof Chart === "undefined") { return; }
  const data = JSON.parse(source.textContent);
  const blue = "#0b4f9c", amber = "#8a5300";
  const options = { responsive: true, maintainAspectRatio: false, animation: false,
    plugins: { legend: { position: "bottom" } }, scales: { y: { beginAtZero: true } } };
  const saidi = document.getElementById("chart-saidi");
  if (saidi) {
    new Chart(saidi, { type: "bar", options: options, data: { labels: data.labels, datasets: [
      { label: saidi.dataset.label, data: data.saidi, backgroundColor: blue } ] } });
  }
  const saifi = document.getElementById("chart-saifi");
  if (saifi) {
    new Chart(saifi, { type: "line", options: options, data: { labels: data.labels, datasets: [
      { label: saifi.dataset.labelSaifi, data: data.saifi, borderColor: blue, backgroundColor: blue, tension: 0 },
      { label: saifi.dataset.labelMaifi, data: data.maifi, borderColor: amber, backgroundColor: amber, borderDash: [6, 4], tension: 0 } ] } });
  }
})();
