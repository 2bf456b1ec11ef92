// format.js — numbers as the console prints them.

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB"];

/** @param {number | null | undefined} bytes */
export function bytesText(bytes) {
  if (bytes === null || bytes === undefined) return "—";
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${UNITS[unit]}`;
}

/** @param {number | null | undefined} value */
export function countText(value) {
  return value === null || value === undefined ? "—" : value.toLocaleString("en");
}

/** @param {number | null | undefined} seconds */
export function durationText(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return "—";
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 1 : 0)} s`;
  const minutes = Math.floor(seconds / 60);
  return `${minutes} min ${Math.round(seconds % 60)} s`;
}

/** @param {number | null | undefined} ms */
export function msText(ms) {
  if (ms === null || ms === undefined) return "—";
  return ms < 10 ? `${ms.toFixed(2)} ms` : `${ms.toFixed(0)} ms`;
}

/** @param {number} rate @param {string} unit */
export function rateText(rate, unit) {
  return `${rate < 10 ? rate.toFixed(1) : Math.round(rate).toLocaleString("en")} ${unit}/s`;
}
