// The agent's 12-month trend from the JSON embedded above; the table under the charts
// holds the same figures (screen readers, no script). An undefined month is a gap.
(function () {
  const source = document.getElementById("people-trend-data");
  if (!source || typeof Chart === "undefined") { return; }
  const data = JSON.parse(source.textContent);
  // Told apart by dash and point shape as well as colour.
  const palette = ["#0b4f9c", "#b35900", "#146c2e"];
  const dashes = [[], [6, 4], [2, 3]];
  const shapes = ["circle", "rect", "triangle"];
  const options = function (suffix) {
    return { responsive: true, maintainAspectRatio: false, animation: false, spanGaps: false,
      interaction: { mode: "index", intersect: false },
      plugins: { legend: { position: "bottom", labels: { usePointStyle: true } }, tooltip: { callbacks: {
        label: function (item) {
          const value = item.parsed.y;
          return item.dataset.label + " : " + (value === null ? "—" : value.toLocaleString(document.documentElement.lang) + suffix);
        } } } },
      scales: { y: { beginAtZero: true } } };
  };
  const line = function (id, keys, suffix) {
    const canvas = document.getElementById(id);
    if (!canvas) { return; }
    new Chart(canvas, { type: "line", options: options(suffix), data: { labels: data.labels,
      datasets: keys.map(function (key, i) {
        return { label: data.names[key], data: data[key], borderColor: palette[i], backgroundColor: palette[i],
          borderDash: dashes[i], pointStyle: shapes[i], tension: 0 };
      }) } });
  };
  line("chart-people-rates", ["fcr", "csat", "qa"], " %");
  line("chart-people-aht", ["aht"], " s");
})();
