// The dashboard's charts (Apache ECharts, served by the app: no CDN on an intranet).
// The numbers come from the page itself (#dash-data); a click on a bar, a point or a
// slice opens the queue with the tickets behind it.
(function () {
  "use strict";
  function start() {
    var source = document.getElementById("dash-data");
    if (!source || !window.echarts) return;
    var data = JSON.parse(source.textContent);
    var narrow = window.innerWidth < 600;
    var pct = function (v) { return v === null || v === undefined ? null : Math.round(v * 1000) / 10; };
    var labels = data.rate_labels;
    var rateNames = Object.keys(labels);
    var charts = [];

    function chart(id, option, urls) {
      var el = document.getElementById(id);
      if (!el) return;
      var c = echarts.init(el, null, { renderer: "canvas" });
      c.setOption(option);
      if (urls) c.on("click", function (p) { var u = urls(p); if (u) window.location.href = u; });
      charts.push(c);
    }
    var legend = { top: 0, type: "scroll", textStyle: { fontSize: narrow ? 11 : 12 } };
    var grid = { left: 40, right: 44, top: 48, bottom: 28, containLabel: false };

    chart("chart-trend", {
      tooltip: { trigger: "axis" }, legend: legend, grid: grid,
      xAxis: { type: "category", data: data.trend.map(function (w) { return w.label; }) },
      yAxis: [{ type: "value", name: "件", minInterval: 1 }, { type: "value", name: "%", min: 0, max: 100 }],
      series: [{ name: "工单量", type: "bar", data: data.trend.map(function (w) { return w.total; }), itemStyle: { color: "#c9d6e8" } }]
        .concat(rateNames.map(function (n) {
          return { name: labels[n], type: "line", yAxisIndex: 1, connectNulls: false, data: data.trend.map(function (w) { return pct(w[n]); }) };
        }))
    }, function (p) { return data.trend_drill[p.dataIndex]; });

    chart("chart-routes", {
      tooltip: { trigger: "item", formatter: "{b}：{c} 件（{d}%）" },
      legend: { bottom: 0 },
      series: [{ type: "pie", radius: ["35%", "65%"], label: { formatter: "{b}\n{c}" }, data: data.routes }]
    }, function (p) { return data.routes[p.dataIndex] && data.routes[p.dataIndex].url; });

    var regions = data.regions;
    var regionEl = document.getElementById("chart-regions");
    if (regionEl) regionEl.style.height = Math.max(220, 70 + regions.length * (narrow ? 34 : 28)) + "px";
    chart("chart-regions", {
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } }, legend: legend,
      grid: { left: 8, right: 16, top: 48, bottom: 8, containLabel: true },
      yAxis: { type: "category", inverse: true, data: regions.map(function (r) { return r.name; }),
               axisLabel: { width: narrow ? 72 : 120, overflow: "truncate" } },
      xAxis: [{ type: "value", name: "件", minInterval: 1, position: "top" }, { type: "value", max: 100, show: false }],
      series: [{ name: "工单量", type: "bar", data: regions.map(function (r) { return r.total; }), itemStyle: { color: "#8fb0d8" } }]
        .concat(rateNames.map(function (n) {
          return { name: labels[n] + "(%)", type: "bar", xAxisIndex: 1, data: regions.map(function (r) { return pct(r[n]); }) };
        }))
    }, function (p) { return regions[p.dataIndex] && regions[p.dataIndex].url; });

    window.addEventListener("resize", function () { charts.forEach(function (c) { c.resize(); }); });
    document.documentElement.setAttribute("data-charts", String(charts.length));
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start); else start();
})();
