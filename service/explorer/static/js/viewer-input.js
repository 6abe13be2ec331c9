// Keyboard, wheel and pointer handling of the viewer; returns a function that unbinds it all.

const SLICE_KEYS = {
  ArrowDown: 1, ArrowRight: 1, j: 1, ArrowUp: -1, ArrowLeft: -1, k: -1,
  PageDown: 10, PageUp: -10,
};

function typing(target) {
  return target instanceof HTMLElement
    && (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName));
}

// The image pixel under a pointer event, or null outside the image.
function pixelAt(canvas, pixels, event) {
  const box = canvas.getBoundingClientRect();
  const column = Math.floor(((event.clientX - box.left) / box.width) * pixels.columns);
  const row = Math.floor(((event.clientY - box.top) / box.height) * pixels.rows);
  if (column < 0 || row < 0 || column >= pixels.columns || row >= pixels.rows) return null;
  return { column, row };
}

export function bindViewerInput(ui, state, { go, setWindow, readout, pixels, presets }) {
  const bindings = [];
  const on = (target, type, handler, options) => {
    target.addEventListener(type, handler, options);
    bindings.push(() => target.removeEventListener(type, handler, options));
  };

  on(document, "keydown", (event) => {
    if (event.altKey || event.ctrlKey || event.metaKey || typing(event.target)
        || document.querySelector("dialog[open]")) return;
    if (event.key in SLICE_KEYS) go(state.index + SLICE_KEYS[event.key]);
    else if (event.key === "Home") go(0);
    else if (event.key === "End") go(Number.MAX_SAFE_INTEGER);
    else {
      const entry = Object.entries(presets).find(([, preset]) => preset.key === event.key);
      if (!entry) return;
      setWindow(entry[1].center, entry[1].width, entry[0]);
    }
    event.preventDefault();
  });

  // The range input keeps its own arrow keys (handled above only outside inputs).
  on(ui.range, "input", () => go(Number(ui.range.value) - 1));
  on(ui.range, "keydown", (event) => {
    if (event.key === "PageDown" || event.key === "PageUp") {
      go(state.index + SLICE_KEYS[event.key]);
      event.preventDefault();
    }
  });

  for (const button of ui.presets) {
    on(button, "click", () => {
      const preset = presets[button.dataset.preset];
      setWindow(preset.center, preset.width, button.dataset.preset);
    });
  }

  on(ui.canvas, "wheel", (event) => {
    if (event.deltaY === 0) return;
    event.preventDefault();
    go(state.index + Math.sign(event.deltaY));
  }, { passive: false });

  let drag = null;
  on(ui.canvas, "pointerdown", (event) => {
    if (event.button !== 0) return;
    ui.canvas.setPointerCapture(event.pointerId);
    ui.canvas.focus();
    drag = { x: event.clientX, y: event.clientY, center: state.center, width: state.width };
    event.preventDefault();
  });
  on(ui.canvas, "pointermove", (event) => {
    const current = pixels();
    if (drag) {
      // Relative to the window at drag start, so narrow and wide windows feel alike.
      const step = Math.max(0.5, drag.width / 256);
      setWindow(drag.center + (event.clientY - drag.y) * step,
                drag.width + (event.clientX - drag.x) * step);
    }
    state.pointer = current ? pixelAt(ui.canvas, current, event) : null;
    readout();
  });
  const stop = () => {
    drag = null;
  };
  on(ui.canvas, "pointerup", stop);
  on(ui.canvas, "pointercancel", stop);
  on(ui.canvas, "pointerleave", () => {
    if (!drag) state.pointer = null;
  });

  return () => bindings.forEach((unbind) => unbind());
}
