// Draws the consumption charts from the JSON the server embeds in the page.
(function () {
  const data = JSON.parse(document.getElementById("consumption-data").textContent);
  const blue = "#0b4f9c", grey = "#9aa5b8", amber = "#f0b400", green = "#1b7f4b";
  const common = { responsive: true, maintainAspectRatio: false, animation: false,
    plugins: { legend: { position: "bottom" } }, scales: { y: { beginAtZero: true, title: { display: true, text: "kWh" } } } };
  function draw(id, config) {
    const canvas = document.getElementById(id);
    if (canvas) { new Chart(canvas, config); }
  }
  // The similar-homes average is a line over the bars; null values (too few homes, month
  // not over) are gaps, and a series without any value is left out of the legend.
  function similar(values) {
    if (!values || !values.some(function (v) { return v !== null; })) { return []; }
    return [{ type: "line", label: data.similar_label, data: values, borderColor: green,
      backgroundColor: green, pointRadius: 2, tension: 0.25, spanGaps: false }];
  }
  draw("chart-months", { type: "bar", options: common, data: { labels: data.months.labels, datasets: [
    { label: document.documentElement.lang === "en" ? "Last 12 months" : "12 derniers mois", data: data.months.current, backgroundColor: blue },
    { label: document.documentElement.lang === "en" ? "Year before" : "Année précédente", data: data.months.previous, backgroundColor: grey } ]
    .concat(similar(data.months.similar)) } });
  draw("chart-days", { type: "bar", options: common, data: { labels: data.days.labels, datasets: [
    { label: "kWh", data: data.days.values, backgroundColor: blue } ].concat(similar(data.days.similar)) } });
  draw("chart-split", { type: "bar", options: { ...common, scales: { x: { stacked: true }, y: { ...common.scales.y, stacked: true } } },
    data: { labels: data.split.labels, datasets: [
      { label: document.documentElement.lang === "en" ? "Peak" : "Heures pleines", data: data.split.hp, backgroundColor: blue },
      { label: document.documentElement.lang === "en" ? "Off-peak" : "Heures creuses", data: data.split.hc, backgroundColor: amber } ] } });
  draw("chart-hours", { type: "line", options: common, data: { labels: data.hours.labels, datasets: [
    { label: "kWh", data: data.hours.values, borderColor: blue, backgroundColor: blue, tension: 0.25 } ] } });
})();
