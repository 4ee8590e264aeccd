// An agent's 12-month scorecard trend (static/js/kpi-trend.js draws it).
(function () {
  const kit = window.kpiTrendCharts && window.kpiTrendCharts("people-trend-data");
  if (!kit) { return; }
  kit.line("chart-people-rates", ["fcr", "csat", "qa"], " %");
  kit.line("chart-people-aht", ["aht"], " s");
})();
