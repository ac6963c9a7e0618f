// One click on a map point opens that sentence, whatever Plotly's drag mode.
//
// Streamlit's plotly_chart turns a click into a selection only in pan/zoom
// mode (clickmode "event+select"); in lasso and box mode it sets clickmode
// "event", so Plotly still emits plotly_click but nothing reaches Python.
// This listens to plotly_click on the chart whose key it is given and sends
// the point's id (its customdata) back as the trigger value "clicked".
//
// Plotly re-creates its event emitter when a figure is redrawn from scratch
// (Plotly.newPlot purges listeners), so the binding is checked a few times a
// second and renewed when the chart's emitter changed.
export default function (component) {
  const { setTriggerValue, data } = component;
  const selector = `.st-key-${data.chart} .js-plotly-plot`;
  let bound = null;
  let boundOn = null;
  let count = 0;
  const handler = (event) => {
    const point = (event.points || []).find((p) => p.customdata !== undefined && p.customdata !== null);
    if (!point) return;
    const id = Array.isArray(point.customdata) ? point.customdata[0] : point.customdata;
    count += 1;
    setTriggerValue("clicked", { id: String(id), n: count });
  };
  const bind = () => {
    const gd = document.querySelector(selector);
    if (!gd || typeof gd.on !== "function" || (gd === bound && gd.on === boundOn)) return;
    if (bound && typeof bound.removeListener === "function") bound.removeListener("plotly_click", handler);
    gd.on("plotly_click", handler);
    bound = gd;
    boundOn = gd.on;
  };
  bind();
  const timer = setInterval(bind, 300);
  return () => {
    clearInterval(timer);
    if (bound && typeof bound.removeListener === "function") bound.removeListener("plotly_click", handler);
  };
}
