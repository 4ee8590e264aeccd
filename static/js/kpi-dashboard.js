// The supervisor dashboard's 12-month trends (static/js/kpi-trend.js draws them).
(function () {
  const kit = window.kpiTrendCharts && window.kpiTrendCharts("kpi-trend-data");
  if (!kit) { return; }
  kit.line("chart-times", ["asa", "aht"], " s");
  kit.line("chart-rates", ["fcr", "csat", "service_level", "sla", "abandonment"], " %");
  const nps = document.getElementById("chart-nps");
  if (nps) {
    new Chart(nps, { type: "bar", options: kit.options(""), data: { labels: kit.data.labels, datasets: [
      { label: kit.data.names.nps, data: kit.data.nps, backgroundColor: kit.palette[0] } ] } });
  }
})();
