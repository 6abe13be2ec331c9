// Hash routes: every view has its own URL, e.g. #/studies/1.2.3/series/4.5.6/viewer?slice=12.
// The fragment never reaches the server or a Referer header.

export function parseHash(hash) {
  const text = (hash || "").replace(/^#\/?/, "");
  const [pathPart, queryPart = ""] = text.split("?", 2);
  const path = pathPart.split("/").filter(Boolean).map(decodeURIComponent);
  return { path, query: new URLSearchParams(queryPart) };
}

export function href(path, query = {}) {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    if (value !== null && value !== undefined && value !== "") params.set(name, String(value));
  }
  const text = params.toString();
  return `#/${path.map(encodeURIComponent).join("/")}${text ? `?${text}` : ""}`;
}

// Change the URL of the current view without a new history entry or a re-render.
export function replaceQuery(query) {
  const { path } = parseHash(location.hash);
  history.replaceState(null, "", href(path, query));
}

export const links = {
  search: (query = {}) => href(["search"], query),
  study: (study) => href(["studies", study]),
  series: (study, series) => href(["studies", study, "series", series]),
  viewer: (study, series, query = {}) => href(["studies", study, "series", series, "viewer"], query),
  instance: (study, series, sop) => href(["studies", study, "series", series, "instances", sop]),
};
