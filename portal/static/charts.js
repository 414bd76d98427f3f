/* The report's charts, drawn in the browser with Chart.js (static/vendor/chart.umd.min.js, which
 * `make tools` fetches) from the JSON spec in each canvas's data-chart attribute, written by
 * portal/render/chart_specs.py: line, bar, pie and KPI sparklines. Without Chart.js the page keeps
 * its figures (KPIs, tables, each chart's CSV link) and a warning goes to the console. */
(function () {
  "use strict";

  var ASPECT = { line: 3.6, bar: 2.4, pie: 1.6, sparkline: 6 };
  var MAX_TICK_LABEL = 32;
  var INK = "#1d2430";
  var GRID = "#e5e5e5";
  var SCALES = { THOUSANDS: [1e3, "K"], MILLIONS: [1e6, "M"], BILLIONS: [1e9, "B"], TRILLIONS: [1e12, "T"] };

  /* A figure as the definition's number format shows it (as formatting.format_number does). */
  function formatNumber(value, format, decimals) {
    if (value === null || value === undefined || !isFinite(value)) return "";
    var f = format || {};
    var number = f.percent ? value * 100 : value;
    var scale = f.scale || "NONE";
    if (scale === "AUTO") {
      var size = Math.abs(number);
      scale = size >= 1e12 ? "TRILLIONS" : size >= 1e9 ? "BILLIONS" : size >= 1e6 ? "MILLIONS" : size >= 1e4 ? "THOUSANDS" : "NONE";
    }
    var suffix = "";
    if (SCALES[scale]) {
      number /= SCALES[scale][0];
      suffix = SCALES[scale][1];
    }
    var places = decimals === undefined ? (f.decimals === undefined ? 2 : f.decimals) : decimals;
    var text = number.toLocaleString("en-US", {
      minimumFractionDigits: places, maximumFractionDigits: places, useGrouping: f.thousands !== false
    });
    if (/^-[0.,]*$/.test(text)) text = text.slice(1);
    return (f.prefix || "") + text + suffix + (f.percent ? "%" : "") + (f.suffix || "");
  }

  /* The decimals a tick needs to show its step exactly (at most 4). */
  function tickDecimals(ticks, format) {
    if (ticks.length < 2) return 0;
    var step = Math.abs(ticks[1].value - ticks[0].value) * (format && format.percent ? 100 : 1);
    for (var d = 0; d < 4; d++) {
      var scaled = step * Math.pow(10, d);
      if (Math.abs(scaled - Math.round(scaled)) < 1e-6) return d;
    }
    return 4;
  }

  function short(text) {
    text = String(text);
    return text.length <= MAX_TICK_LABEL ? text : text.slice(0, MAX_TICK_LABEL - 1) + "\u2026";
  }

  function rgba(hex, alpha) {
    var n = parseInt(hex.slice(1), 16);
    return "rgba(" + (n >> 16) + ", " + ((n >> 8) & 255) + ", " + (n & 255) + ", " + alpha + ")";
  }

  function title(text) {
    return { display: !!text, text: text || "", color: INK };
  }

  /* Figures written on the chart (QuickSight's data labels; the shares of a pie). */
  function valueLabels(textOf, place) {
    return {
      id: "gitgoodsValueLabels",
      afterDatasetsDraw: function (chart) {
        var ctx = chart.ctx;
        ctx.save();
        ctx.font = "10px " + Chart.defaults.font.family;
        chart.data.datasets.forEach(function (dataset, i) {
          var meta = chart.getDatasetMeta(i);
          if (meta.hidden) return;
          meta.data.forEach(function (element, j) {
            var text = textOf(i, j);
            if (text) place(ctx, element, text);
          });
        });
        ctx.restore();
      }
    };
  }

  function above(ctx, element, text) {
    ctx.fillStyle = INK;
    ctx.textAlign = "center";
    ctx.textBaseline = "bottom";
    ctx.fillText(text, element.x, element.y - 3);
  }

  function rightOf(ctx, element, text) {
    ctx.fillStyle = INK;
    ctx.textAlign = "left";
    ctx.textBaseline = "middle";
    ctx.fillText(text, element.x + 3, element.y);
  }

  function inside(ctx, element, text) {
    var at = element.tooltipPosition();
    ctx.fillStyle = "#ffffff";
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    ctx.fillText(text, at.x, at.y);
  }

  function base(spec, type) {
    return {
      type: type,
      data: { labels: spec.labels, datasets: [] },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: true,
        aspectRatio: ASPECT[spec.kind],
        plugins: { legend: { display: spec.datasets.length > 1, position: "top", labels: { boxWidth: 12 } }, tooltip: {} }
      },
      plugins: []
    };
  }

  function formatOf(spec, i, j) {
    var d = spec.datasets[i];
    return d.formats ? d.formats[j] : d.format;
  }

  function axes(spec, horizontal, stacked) {
    var format = spec.valueAxis.format;
    var category = {
      title: title(spec.categoryTitle),
      stacked: stacked,
      grid: { display: false },
      ticks: {
        autoSkip: true, autoSkipPadding: 8, maxRotation: 30,
        callback: function (value) { return short(this.getLabelForValue(value)); }
      }
    };
    var value = {
      title: title(spec.valueTitle),
      stacked: stacked,
      beginAtZero: spec.kind === "bar" || spec.area !== "none",
      grace: spec.valueLabels ? "10%" : 0,
      grid: { color: GRID },
      ticks: {
        precision: spec.valueAxis.integer ? 0 : undefined,
        callback: function (v, _i, ticks) { return formatNumber(v, format, tickDecimals(ticks, format)); }
      }
    };
    return horizontal ? { x: value, y: category } : { x: category, y: value };
  }

  function tooltipLabel(spec, raw) {
    return function (item) {
      var value = raw ? raw[item.datasetIndex][item.dataIndex] : item.raw;
      var text = formatNumber(value, formatOf(spec, item.datasetIndex, item.dataIndex));
      if (raw) text += " (" + item.raw.toFixed(1) + "%)";
      return item.dataset.label ? item.dataset.label + ": " + text : text;
    };
  }

  function line(spec) {
    var config = base(spec, "line");
    var stacked = spec.area === "stacked";
    config.data.datasets = spec.datasets.map(function (d, i) {
      return {
        label: d.label,
        data: d.data,
        borderColor: d.color,
        backgroundColor: spec.area === "none" ? d.color : rgba(d.color, stacked ? 0.35 : 0.15),
        fill: spec.area === "none" ? false : stacked && i > 0 ? "-1" : "origin",
        borderWidth: 1.5,
        pointRadius: spec.labels.length > 60 ? 0 : 2,
        pointHoverRadius: 4,
        spanGaps: false
      };
    });
    config.options.scales = axes(spec, false, stacked);
    config.options.interaction = { mode: "index", intersect: false };
    config.options.plugins.tooltip.callbacks = { label: tooltipLabel(spec, null) };
    if (spec.valueLabels) {
      config.plugins.push(valueLabels(function (i, j) {
        return formatNumber(spec.datasets[i].data[j], formatOf(spec, i, j));
      }, above));
    }
    return config;
  }

  function bar(spec) {
    var config = base(spec, "bar");
    var percent = spec.stack === "percent";
    var raw = spec.datasets.map(function (d) { return d.data; });
    var totals = spec.labels.map(function (_l, j) {
      return raw.reduce(function (sum, data) { return sum + (data[j] || 0); }, 0);
    });
    config.data.datasets = spec.datasets.map(function (d, i) {
      return {
        label: d.label,
        data: percent ? d.data.map(function (v, j) { return totals[j] ? ((v || 0) / totals[j]) * 100 : 0; }) : d.data,
        backgroundColor: d.color,
        borderWidth: 0,
        maxBarThickness: 48
      };
    });
    config.options.indexAxis = spec.horizontal ? "y" : "x";
    config.options.scales = axes(spec, spec.horizontal, spec.stack !== "clustered");
    config.options.plugins.tooltip.callbacks = { label: tooltipLabel(spec, percent ? raw : null) };
    if (spec.valueLabels) {
      config.plugins.push(valueLabels(function (i, j) {
        return formatNumber(raw[i][j], formatOf(spec, i, j));
      }, spec.horizontal ? rightOf : above));
    }
    return config;
  }

  function pie(spec) {
    var config = base(spec, "pie");
    var d = spec.datasets[0];
    var total = d.data.reduce(function (sum, v) { return sum + (v || 0); }, 0);
    var share = function (v) { return total ? (v / total) * 100 : 0; };
    config.data.datasets = [{ label: d.label, data: d.data, backgroundColor: d.colors, borderColor: "#ffffff", borderWidth: 1 }];
    config.data.labels = spec.labels.map(short);  // the legend's; the tooltip names the whole label
    config.options.plugins.legend = { display: spec.labels.length > 1, position: "right", labels: { boxWidth: 12 } };
    config.options.plugins.tooltip.callbacks = {
      title: function (items) { return items.length ? spec.labels[items[0].dataIndex] : ""; },
      label: function (item) {
        return (d.label ? d.label + ": " : "") + formatNumber(item.raw, d.format) + " (" + share(item.raw).toFixed(1) + "%)";
      }
    };
    config.plugins.push(valueLabels(function (_i, j) {
      var s = share(d.data[j]);
      return s >= 4 ? s.toFixed(1) + "%" : "";
    }, inside));
    return config;
  }

  function sparkline(spec) {
    var config = base(spec, "line");
    var d = spec.datasets[0];
    config.data.datasets = [{ label: d.label, data: d.data, borderColor: d.color, borderWidth: 1.2, pointRadius: 0, pointHoverRadius: 3 }];
    config.options.scales = { x: { display: false }, y: { display: false } };
    config.options.layout = { padding: 2 };
    config.options.interaction = { mode: "index", intersect: false };
    config.options.plugins.tooltip.callbacks = { label: function (item) { return formatNumber(item.raw, d.format); } };
    return config;
  }

  var CONFIGS = { line: line, bar: bar, pie: pie, sparkline: sparkline };

  function draw(canvas) {
    var spec = JSON.parse(canvas.getAttribute("data-chart"));
    new Chart(canvas, CONFIGS[spec.kind](spec));
    canvas.setAttribute("data-drawn", "");
  }

  document.addEventListener("DOMContentLoaded", function () {
    var canvases = document.querySelectorAll("canvas[data-chart]");
    if (!canvases.length) return;
    if (typeof window.Chart !== "function") {
      console.warn("Chart.js is not loaded (/static/vendor/chart.umd.min.js; `make tools` fetches it): "
        + "the charts are not drawn, their figures are in each chart's CSV");
      canvases.forEach(function (canvas) { canvas.hidden = true; });
      return;
    }
    Chart.defaults.font.family = window.getComputedStyle(document.body).fontFamily;
    Chart.defaults.font.size = 11;
    Chart.defaults.color = INK;
    canvases.forEach(function (canvas) {
      try {
        draw(canvas);
      } catch (error) {
        console.error("chart not drawn", canvas.getAttribute("aria-label"), error);
      }
    });
  });
})();
