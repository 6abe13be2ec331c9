// Building DOM nodes from text only (never from markup strings): every value from a dump is set as text, never parsed
// as markup, so a hostile attribute value cannot inject anything into the page.

export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") element.className = value;
    else if (name === "dataset") Object.assign(element.dataset, value);
    else if (name.startsWith("on") && typeof value === "function") {
      element.addEventListener(name.slice(2), value);
    } else if (value === true) element.setAttribute(name, "");
    else element.setAttribute(name, String(value));
  }
  append(element, children);
  return element;
}

export function append(element, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

export function clear(element) {
  element.replaceChildren();
  return element;
}

// A definition list of label → value pairs, skipping absent values.
export function definitions(pairs) {
  const list = h("dl", { class: "facts" });
  for (const [label, value] of pairs) {
    if (value === null || value === undefined || value === "") continue;
    list.append(h("dt", {}, label), h("dd", {}, value));
  }
  return list;
}

export function errorBox(error) {
  return h("div", { class: "error", role: "alert" }, describeError(error));
}

export function describeError(error) {
  if (error && error.problem) {
    const { title, detail, status } = error.problem;
    return `${title || "Error"} (${status || error.status}): ${detail || ""}`.trim();
  }
  return String(error && error.message ? error.message : error);
}

export function loading(text = "Loading…") {
  return h("p", { class: "loading", role: "status" }, h("span", { class: "spinner" }), text);
}
