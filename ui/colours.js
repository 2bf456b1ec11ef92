// colours.js — one colour per member, stable while the page is open: the order members were
// first seen in, through a palette that stays apart for the first dozen members.

const PALETTE = [
  "#4e79a7",
  "#f28e2b",
  "#59a14f",
  "#e15759",
  "#76b7b2",
  "#edc948",
  "#b07aa1",
  "#ff9da7",
  "#9c755f",
  "#bab0ac",
  "#1f77b4",
  "#17becf",
];

/** @type {Map<string, string>} */
const assigned = new Map();

/** @param {string} id */
export function colourOf(id) {
  let colour = assigned.get(id);
  if (colour === undefined) {
    const index = assigned.size;
    colour = PALETTE[index % PALETTE.length] ?? "#888";
    assigned.set(id, colour);
  }
  return colour;
}

/** Seeds the order from a sorted member list, so every page shows node1 in the same colour. */
export function assignColours(/** @type {readonly string[]} */ ids) {
  for (const id of [...ids].sort()) colourOf(id);
}
