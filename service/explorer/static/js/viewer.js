// The series viewer: one slice in HU on a canvas, windowed in the page (instant), slices in
// geometric order, presets and free window/level by dragging, the value under the cursor.

import { getAll, getJSON, getPixels, paths } from "./api.js";
import { errorBox, h, loading } from "./dom.js";
import { millimetres, vector } from "./format.js";
import { PRESETS, applyWindow, copyColour, geometricOrder, patientPoint, sliceSpacing,
         valueRange } from "./imaging.js";
import { links, replaceQuery } from "./router.js";
import { SliceLoader } from "./slices.js";
import { bindViewerInput } from "./viewer-input.js";

function first(value) {
  return Array.isArray(value) ? value[0] : value;
}

// The window to start with: the URL, else the file's own, else a CT preset, else the data range.
function initialWindow(query, reference) {
  const preset = PRESETS[query.get("window")];
  if (preset) return { center: preset.center, width: preset.width, preset: query.get("window") };
  const center = Number.parseFloat(query.get("wc"));
  const width = Number.parseFloat(query.get("ww"));
  if (Number.isFinite(center) && Number.isFinite(width) && width > 0) {
    return { center, width, preset: null };
  }
  const fileCenter = Number(first(reference.WindowCenter));
  const fileWidth = Number(first(reference.WindowWidth));
  if (reference.WindowCenter != null && Number.isFinite(fileCenter) && fileWidth > 0) {
    return { center: fileCenter, width: fileWidth, preset: null };
  }
  if (reference.Modality === "CT") return { ...PRESETS.mediastinum, preset: "mediastinum" };
  return { center: 0, width: 1, preset: null, fromData: true };
}

function initialIndex(query, slices) {
  const sop = query.get("sop");
  if (sop) {
    const found = slices.findIndex((slice) => slice.instance.SOPInstanceUID === sop);
    if (found >= 0) return found;
  }
  const number = Number.parseInt(query.get("slice") || "1", 10);
  return Math.min(slices.length - 1, Math.max(0, (Number.isFinite(number) ? number : 1) - 1));
}

function layout(count) {
  const presetButtons = Object.entries(PRESETS).map(([name, preset]) => h("button", {
    type: "button", class: "chip", id: `preset-${name}`, dataset: { preset: name },
    "aria-pressed": "false", title: `${preset.label}: C ${preset.center} W ${preset.width} (key ${preset.key})`,
  }, preset.label));
  const parts = {
    canvas: h("canvas", { id: "slice-canvas", width: 1, height: 1, tabindex: "0",
                          "aria-label": "Slice image. Arrow keys or PageUp/PageDown change "
                            + "slice, drag to change window and level, keys 1–4 pick a preset." }),
    status: h("div", { class: "stage-status", id: "slice-status", role: "status" }),
    range: h("input", { type: "range", id: "slice-range", min: 1, max: count, value: 1,
                        "aria-label": "Slice" }),
    slice: h("span", { id: "slice-label" }),
    position: h("span", { id: "position-label" }),
    spacing: h("span", { id: "spacing-label" }),
    window: h("span", { id: "window-label" }),
    value: h("span", { id: "hu-label" }, "Move the pointer over the image"),
    progress: h("progress", { id: "load-progress", max: count, value: 0 }),
    progressLabel: h("span", { id: "load-label", role: "status" }),
    presets: presetButtons,
  };
  parts.root = h("div", { class: "viewer", id: "viewer" },
    h("div", { class: "toolbar" },
      h("div", { class: "chips", role: "group", "aria-label": "Window presets" }, presetButtons),
      parts.window),
    h("div", { class: "stage" }, parts.canvas, parts.status),
    h("div", { class: "slice-bar" }, parts.range, parts.slice),
    h("div", { class: "readout" }, parts.position, parts.spacing, parts.value),
    h("div", { class: "load" }, parts.progress, parts.progressLabel),
    h("p", { class: "help" }, "↑/↓ or wheel: slice · PageUp/PageDown: 10 slices · Home/End · "
      + "drag: window (←→ width, ↑↓ level) · 1 lung, 2 mediastinum, 3 bone, 4 brain"));
  return parts;
}

export async function renderViewer(view, { path, query, signal }) {
  const [, studyUid, , seriesUid] = path;
  document.title = "Viewer — dicom-resolver";
  view.append(h("nav", { class: "crumbs", "aria-label": "Breadcrumb" },
                h("a", { href: links.search() }, "Studies"), " › ",
                h("a", { href: links.study(studyUid) }, "Study"), " › ",
                h("a", { href: links.series(studyUid, seriesUid) }, "Series"), " › Images"),
              loading());
  let series;
  let slices;
  let reference;
  try {
    const [found, instances] = await Promise.all([
      getJSON(paths.oneSeries(studyUid, seriesUid), {}, { signal }),
      getAll(paths.instances(studyUid, seriesUid), { signal })]);
    series = found;
    slices = geometricOrder(instances).slices;
    if (!slices.length) throw new Error("This series has no instance.");
    reference = await getJSON(paths.instance(studyUid, seriesUid,
                                             slices[0].instance.SOPInstanceUID), {}, { signal });
  } catch (error) {
    if (error.name !== "AbortError") view.lastChild.replaceWith(errorBox(error));
    return null;
  }
  view.lastChild.remove();
  const ui = layout(slices.length);
  view.append(h("h1", { tabindex: "-1", class: "visually-hidden" }, "Images"),
              h("p", { class: "series-title" }, `${series.Modality || ""} · `
                + `${series.SeriesDescription || "Series"} · ${slices.length} slices`),
              ui.root);
  const unit = reference.Modality === "CT" || reference.RescaleType === "HU" ? "HU" : "Value";
  const invert = reference.PhotometricInterpretation === "MONOCHROME1";
  const spacingBetween = sliceSpacing(slices);
  const state = { index: initialIndex(query, slices), ...initialWindow(query, reference),
                  pointer: null, shown: null };
  const context = ui.canvas.getContext("2d");
  let image = null;
  let urlTimer = null;

  const loader = new SliceLoader(slices.length, (index, abort) => {
    const { SOPInstanceUID } = slices[index].instance;
    return getPixels(studyUid, seriesUid, SOPInstanceUID, { signal: abort });
  }, { onChange: () => progress() });

  function progress() {
    ui.progress.value = loader.loaded;
    const busy = loader.pending ? ` · loading ${loader.pending}…` : "";
    ui.progressLabel.textContent = `${loader.loaded} / ${slices.length} slices loaded${busy}`;
    ui.root.classList.toggle("busy", loader.pending > 0);
  }

  function saveUrl() {
    clearTimeout(urlTimer);
    urlTimer = setTimeout(() => replaceQuery({
      slice: state.index + 1, window: state.preset || "",
      wc: state.preset ? "" : Math.round(state.center), ww: state.preset ? "" : Math.round(state.width),
    }), 150);
  }

  function labels() {
    const slice = slices[state.index];
    ui.slice.textContent = `Slice ${state.index + 1} / ${slices.length}`;
    ui.range.value = String(state.index + 1);
    const ipp = slice.instance.ImagePositionPatient;
    ui.position.textContent = slice.position === null ? "Position unknown"
      : `Position ${millimetres(slice.position)} · IPP (${vector(ipp)})`;
    const pixels = loader.cached(state.index);
    const spacing = (pixels && pixels.spacing) || reference.PixelSpacing;
    ui.spacing.textContent = [
      spacing ? `Pixel ${spacing.map((v) => Number(v).toFixed(3)).join(" × ")} mm` : "",
      spacingBetween !== null ? `slice spacing ${millimetres(spacingBetween)}` : "",
      pixels ? `${pixels.columns} × ${pixels.rows}` : "",
    ].filter(Boolean).join(" · ");
    const name = state.preset ? `${PRESETS[state.preset].label} · ` : "";
    ui.window.textContent = `${name}C ${Math.round(state.center)} W ${Math.round(state.width)}`;
    for (const button of ui.presets) {
      button.setAttribute("aria-pressed", String(button.dataset.preset === state.preset));
    }
  }

  function readout() {
    const pixels = loader.cached(state.index);
    if (!state.pointer || !pixels) return;
    const { column, row } = state.pointer;
    const value = pixels.values[(row * pixels.columns + column) * pixels.channels];
    const point = patientPoint(pixels.position, pixels.orientation, pixels.spacing, column, row);
    ui.value.textContent = `${unit} ${Number(value).toFixed(1)} at column ${column}, row ${row}`
      + (point ? ` · (${vector(point, 1)}) mm` : "");
  }

  function draw() {
    const pixels = loader.cached(state.index);
    if (!pixels) return;
    if (state.fromData) {
      const { min, max } = valueRange(pixels.values);
      Object.assign(state, { center: (min + max) / 2, width: Math.max(1, max - min),
                             fromData: false });
    }
    if (ui.canvas.width !== pixels.columns || ui.canvas.height !== pixels.rows || !image) {
      ui.canvas.width = pixels.columns;
      ui.canvas.height = pixels.rows;
      image = context.createImageData(pixels.columns, pixels.rows);
    }
    if (pixels.channels === 3) copyColour(pixels.values, image.data);
    else applyWindow(pixels.values, state.center, state.width, image.data, invert);
    context.putImageData(image, 0, 0);
    ui.canvas.dataset.slice = String(state.index + 1);
    ui.canvas.dataset.window = `${Math.round(state.center)},${Math.round(state.width)}`;
    ui.status.replaceChildren();
    ui.status.hidden = true;
    labels();
    readout();
  }

  function go(index) {
    const target = Math.min(slices.length - 1, Math.max(0, index));
    state.index = target;
    labels();
    saveUrl();
    if (loader.cached(target)) {
      loader.focus(target);
      draw();
      return;
    }
    ui.status.hidden = false;
    ui.status.replaceChildren(h("span", { class: "spinner" }), `Loading slice ${target + 1}…`);
    loader.get(target).then(() => {
      if (state.index === target) draw();
    }, (error) => {
      if (state.index === target) {
        ui.status.hidden = false;
        ui.status.replaceChildren(errorBox(error));
      }
    });
  }

  function setWindow(center, width, preset = null) {
    Object.assign(state, { center, width: Math.max(1, width), preset, fromData: false });
    draw();
    labels();
    saveUrl();
  }

  const unbind = bindViewerInput(ui, state, {
    go, setWindow, readout,
    pixels: () => loader.cached(state.index),
    presets: PRESETS,
  });
  progress();
  go(state.index);
  ui.canvas.focus();
  return () => {
    clearTimeout(urlTimer);
    unbind();
    loader.abort();
  };
}
