// Entry point: routes the URL fragment to a view, one view at a time. A view may return a
// cleanup function (the viewer stops loading slices and unbinds its keys when left).

import { errorBox, h } from "./dom.js";
import { renderInstance } from "./instance.js";
import { parseHash } from "./router.js";
import { renderSearch } from "./search.js";
import { renderSeries } from "./series.js";
import { renderStudy } from "./study.js";
import { renderViewer } from "./viewer.js";

const ROUTES = [
  { shape: [], render: renderSearch },
  { shape: ["search"], render: renderSearch },
  { shape: ["studies", null], render: renderStudy },
  { shape: ["studies", null, "series", null], render: renderSeries },
  { shape: ["studies", null, "series", null, "viewer"], render: renderViewer },
  { shape: ["studies", null, "series", null, "instances", null], render: renderInstance },
];

function match(path) {
  return ROUTES.find(({ shape }) => shape.length === path.length
    && shape.every((part, i) => part === null || part === path[i]));
}

let current = { cleanup: null, controller: null, generation: 0 };

function navigate(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

async function route() {
  const view = document.getElementById("view");
  if (current.cleanup) current.cleanup();
  if (current.controller) current.controller.abort();
  const generation = current.generation + 1;
  const controller = new AbortController();
  current = { cleanup: null, controller, generation };
  const { path, query } = parseHash(location.hash);
  const found = match(path);
  view.replaceChildren();
  if (!found) {
    view.append(h("h1", { tabindex: "-1" }, "Not found"),
                errorBox(new Error("No such page; go back to the study search.")));
    return;
  }
  try {
    const cleanup = await found.render(view, { path, query, navigate,
                                               signal: controller.signal });
    if (current.generation !== generation) {
      if (cleanup) cleanup();
      return;
    }
    current.cleanup = cleanup || null;
    const heading = view.querySelector("h1");
    if (heading && !view.contains(document.activeElement)) heading.focus({ preventScroll: true });
  } catch (error) {
    if (error.name !== "AbortError" && current.generation === generation) {
      view.append(errorBox(error));
    }
  }
}

window.addEventListener("hashchange", route);
route();
