// Draws the supervisor dashboard's 12-month trends from the JSON the server embeds in the
// page. The table under the charts holds the same figures for screen readers and without
// script; an undefined month (nothing answered, no survey) is a gap, never a zero.
(function () {
  const source = document.getElementById("kpi-trend-data");
  if (!source || typeof Chart === "undefined") { return; }
  const data = JSON.parse(source.textContent);
  // Colours distinguishable for the common colour-blindnesses, each line also dashed
  // differently so that no series is told apart by colour alone.
  const palette = ["#0b4f9c", "#b35900", "#146c2e", "#7a3e9d", "#b42318"];
  const dashes = [[], [6, 4], [2, 3], [10, 3, 2, 3], [4, 2]];
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
          borderDash: dashes[i], pointStyle: ["circle", "rect", "triangle", "rectRot", "crossRot"][i], tension: 0 };
      }) } });
  };
  line("chart-times", ["asa", "aht"], " s");
  line("chart-rates", ["fcr", "csat", "service_level", "sla", "abandonment"], " %");
  const nps = document.getElementById("chart-nps");
  if (nps) {
    new Chart(nps, { type: "bar", options: options(""), data: { labels: data.labels, datasets: [
      { label: data.names.nps, data: data.nps, backgroundColor: palette[0] } ] } });
  }
})();
