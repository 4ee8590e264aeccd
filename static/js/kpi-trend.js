// The 12-month trend charts of the supervisor pages (dashboard, agent scorecard), drawn from
// the JSON the server embeds in the page. The table under the charts holds the same figures
// for screen readers and without script; an undefined month is a gap, never a zero.
window.kpiTrendCharts = function (sourceId) {
  const source = document.getElementById(sourceId);
  if (!source || typeof Chart === "undefined") { return null; }
  const data = JSON.parse(source.textContent);
  // Colours distinguishable for the common colour-blindnesses, each line also dashed and
  // marked differently so that no series is told apart by colour alone.
  const palette = ["#0b4f9c", "#b35900", "#146c2e", "#7a3e9d", "#b42318"];
  const dashes = [[], [6, 4], [2, 3], [10, 3, 2, 3], [4, 2]];
  const shapes = ["circle", "rect", "triangle", "rectRot", "crossRot"];
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
  return { data: data, palette: palette, options: options, line: line };
};
