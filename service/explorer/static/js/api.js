// The service's HTTP API as the page uses it: JSON resources and raw Float32 HU pixels.
// Responses are patient data, so nothing is kept in the HTTP cache (cache: "no-store").

import { askForToken, bearerToken } from "./auth.js";

export class ApiError extends Error {
  constructor(status, problem) {
    super((problem && problem.detail) || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

async function problemOf(response) {
  try {
    return await response.json();
  } catch {
    return { status: response.status, title: response.statusText };
  }
}

async function send(url, { signal, accept } = {}) {
  for (;;) {
    const headers = new Headers({ Accept: accept || "application/json" });
    const secret = bearerToken();
    if (secret) headers.set("Authorization", `Bearer ${secret}`);
    const response = await fetch(url, { headers, signal, cache: "no-store",
                                        credentials: "same-origin" });
    if (response.status !== 401) return response;
    const problem = await problemOf(response);
    const reason = secret ? "The key or token was refused; enter another one."
                          : (problem.detail || "This service needs an API key or access token.");
    if (!(await askForToken(reason))) throw new ApiError(401, problem);
  }
}

export function buildUrl(path, query = {}) {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    if (value !== null && value !== undefined && value !== "") params.set(name, value);
  }
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}

export async function getJSON(path, query = {}, options = {}) {
  const response = await send(buildUrl(path, query), options);
  if (!response.ok) throw new ApiError(response.status, await problemOf(response));
  return response.json();
}

// Every item of a paged list (limit/offset/total), page by page.
export async function getAll(path, options = {}) {
  const items = [];
  for (let offset = 0; ; ) {
    const page = await getJSON(path, { limit: 1000, offset }, options);
    items.push(...page.items);
    offset += page.items.length;
    if (!page.items.length || offset >= page.total) return items;
  }
}

const enc = encodeURIComponent;

export const paths = {
  studies: () => "/v1/studies",
  study: (study) => `/v1/studies/${enc(study)}`,
  series: (study) => `/v1/studies/${enc(study)}/series`,
  oneSeries: (study, series) => `/v1/studies/${enc(study)}/series/${enc(series)}`,
  instances: (study, series) => `/v1/studies/${enc(study)}/series/${enc(series)}/instances`,
  instance: (study, series, sop) =>
    `/v1/studies/${enc(study)}/series/${enc(series)}/instances/${enc(sop)}`,
  reports: (study) => `/v1/studies/${enc(study)}/reports`,
};

function numbersHeader(response, name) {
  const text = response.headers.get(name);
  if (!text) return null;
  return text.split(",").map(Number);
}

// One frame in modality units (HU for CT): format=raw gives little-endian float32 bytes.
export async function getPixels(study, series, sop, { frame = 1, signal } = {}) {
  const url = buildUrl(`${paths.instance(study, series, sop)}/pixels`,
                       { format: "raw", dtype: "float32", frame });
  const response = await send(url, { signal, accept: "application/octet-stream" });
  if (!response.ok) throw new ApiError(response.status, await problemOf(response));
  const dtype = response.headers.get("X-Dtype");
  if (dtype !== "<f4") throw new ApiError(response.status, { detail: `unexpected dtype ${dtype}` });
  const shape = numbersHeader(response, "X-Shape") || [];
  const values = new Float32Array(await response.arrayBuffer());
  return {
    values,
    rows: shape[0],
    columns: shape[1],
    channels: shape.length > 2 ? shape[2] : 1,
    spacing: numbersHeader(response, "X-Pixel-Spacing"),
    position: numbersHeader(response, "X-Image-Position"),
    orientation: numbersHeader(response, "X-Image-Orientation"),
    slope: numbersHeader(response, "X-Rescale-Slope"),
    intercept: numbersHeader(response, "X-Rescale-Intercept"),
  };
}
