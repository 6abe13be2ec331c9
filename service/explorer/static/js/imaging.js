// Pure image logic for the viewer: slice order from geometry, VOI windowing of HU arrays.
// No DOM here, so the same functions serve every view and stay easy to reason about.

// Window presets (center, width) in HU.
export const PRESETS = {
  lung: { label: "Lung", center: -600, width: 1500, key: "1" },
  mediastinum: { label: "Mediastinum", center: 50, width: 350, key: "2" },
  bone: { label: "Bone", center: 400, width: 1800, key: "3" },
  brain: { label: "Brain", center: 40, width: 80, key: "4" },
};

function cross(a, b) {
  return [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
}

function dot(a, b) {
  return a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
}

// Unit normal of the image plane: row × column direction cosines (renormalized, since DS
// cosines carry rounding).
export function sliceNormal(orientation) {
  const normal = cross(orientation.slice(0, 3), orientation.slice(3, 6));
  const length = Math.hypot(...normal) || 1;
  return normal.map((value) => value / length);
}

function hasGeometry(item) {
  return Array.isArray(item.ImagePositionPatient) && item.ImagePositionPatient.length === 3
    && Array.isArray(item.ImageOrientationPatient) && item.ImageOrientationPatient.length === 6;
}

function parallel(a, b) {
  return Math.abs(Math.abs(dot(a, b)) - 1) < 1e-3;
}

// The slice normal most instances share (a scout or a stray reformat must not win).
function commonNormal(instances) {
  const groups = [];
  for (const instance of instances.filter(hasGeometry)) {
    const normal = sliceNormal(instance.ImageOrientationPatient);
    const group = groups.find((candidate) => parallel(candidate.normal, normal));
    if (group) group.count += 1;
    else groups.push({ normal, count: 1 });
  }
  groups.sort((a, b) => b.count - a.count);
  return groups.length ? groups[0].normal : null;
}

/**
 * Instances in geometric order: ImagePositionPatient projected on the normal of
 * ImageOrientationPatient (row × column cosines), highest first — for an axial series
 * that is head to feet, the order radiologists read in. Instances without geometry, or
 * with another orientation than most of the series (a scout), follow in InstanceNumber
 * order. Returns [{instance, position}] with position in mm or null.
 */
export function geometricOrder(instances) {
  const normal = commonNormal(instances);
  const placed = [];
  const others = [];
  for (const instance of instances) {
    if (normal && hasGeometry(instance)
        && parallel(sliceNormal(instance.ImageOrientationPatient), normal)) {
      placed.push({ instance, position: dot(instance.ImagePositionPatient, normal) });
    } else {
      others.push({ instance, position: null });
    }
  }
  const byNumber = (a, b) => (a.instance.InstanceNumber ?? Infinity)
    - (b.instance.InstanceNumber ?? Infinity);
  placed.sort((a, b) => (b.position - a.position) || byNumber(a, b));
  others.sort(byNumber);
  return { slices: [...placed, ...others], normal };
}

// Median distance between neighbouring slices along the normal, or null.
export function sliceSpacing(slices) {
  const gaps = [];
  for (let i = 1; i < slices.length; i += 1) {
    const a = slices[i - 1].position;
    const b = slices[i].position;
    if (a !== null && b !== null) gaps.push(Math.abs(a - b));
  }
  if (!gaps.length) return null;
  gaps.sort((x, y) => x - y);
  return gaps[Math.floor(gaps.length / 2)];
}

/**
 * Linear VOI LUT of PS3.3 C.11.2.1.2.1 from HU values into RGBA bytes (grey), in place:
 * at or below c − 0.5 − (w − 1)/2 → 0, above c − 0.5 + (w − 1)/2 → 255, linear between.
 */
export function applyWindow(values, center, width, rgba, invert = false) {
  const w = Math.max(1, width);
  const low = center - 0.5 - (w - 1) / 2;
  const high = center - 0.5 + (w - 1) / 2;
  const offset = center - 0.5;
  const span = w - 1 || 1;
  for (let i = 0, j = 0; i < values.length; i += 1, j += 4) {
    const v = values[i];
    let grey;
    if (v <= low) grey = 0;
    else if (v > high) grey = 255;
    else grey = ((v - offset) / span + 0.5) * 255;
    if (invert) grey = 255 - grey;
    rgba[j] = grey;
    rgba[j + 1] = grey;
    rgba[j + 2] = grey;
    rgba[j + 3] = 255;
  }
}

// RGB pixels (samples per pixel 3) copied as they are: windowing does not apply.
export function copyColour(values, rgba) {
  for (let i = 0, j = 0; i < values.length; i += 3, j += 4) {
    rgba[j] = values[i];
    rgba[j + 1] = values[i + 1];
    rgba[j + 2] = values[i + 2];
    rgba[j + 3] = 255;
  }
}

export function valueRange(values) {
  let min = Infinity;
  let max = -Infinity;
  for (const v of values) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return { min, max };
}

// The patient coordinate (mm) of pixel (column, row): PS3.3 C.7.6.2.1.1.
export function patientPoint(position, orientation, spacing, column, row) {
  if (!position || !orientation || !spacing) return null;
  const [rowSpacing, columnSpacing] = spacing;
  return [0, 1, 2].map((k) => position[k] + orientation[k] * columnSpacing * column
                                          + orientation[k + 3] * rowSpacing * row);
}
