// Wall layout logic (pure): grids, presets, placing cameras. Tiles are rectangles of cells.
export const PRESETS = {
  "1": { columns: 1, rows: 1 },
  "4": { columns: 2, rows: 2 },
  "9": { columns: 3, rows: 3 },
  "16": { columns: 4, rows: 4 },
  "1+5": { columns: 3, rows: 3, big: { w: 2, h: 2 } },
  "1+7": { columns: 4, rows: 4, big: { w: 3, h: 3 } },
};

/** Tiles of a grid, optionally with one big tile top-left; cameras kept in order. */
export function grid(columns, rows, big = null, cameras = []) {
  const tiles = [];
  const taken = new Set();
  if (big) {
    tiles.push({ col: 0, row: 0, w: big.w, h: big.h, camera: null });
    for (let c = 0; c < big.w; c++) for (let r = 0; r < big.h; r++) taken.add(`${c},${r}`);
  }
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < columns; c++) {
      if (!taken.has(`${c},${r}`)) tiles.push({ col: c, row: r, w: 1, h: 1, camera: null });
    }
  }
  cameras.filter(Boolean).slice(0, tiles.length).forEach((cam, i) => { tiles[i].camera = cam; });
  return { columns, rows, tiles };
}

export function preset(name, cameras = []) {
  const p = PRESETS[name];
  if (!p) throw new Error(`unknown preset ${name}`);
  return grid(p.columns, p.rows, p.big || null, cameras);
}

/** Changing the grid keeps the cameras already on the wall, in tile order. */
export function regrid(layout, columns, rows, big = null) {
  return { ...layout, ...grid(columns, rows, big, layout.tiles.map((t) => t.camera)) };
}

/** Put a camera in tile i; a camera shown elsewhere moves (one tile per camera). */
export function place(layout, i, camera) {
  const tiles = layout.tiles.map((t, j) => {
    if (j === i) return { ...t, camera };
    if (t.camera === camera) return { ...t, camera: layout.tiles[i].camera };  // swap
    return t;
  });
  return { ...layout, tiles };
}

export function clear(layout, i) {
  return { ...layout, tiles: layout.tiles.map((t, j) => (j === i ? { ...t, camera: null } : t)) };
}

export function firstEmpty(layout) {
  return layout.tiles.findIndex((t) => !t.camera);
}

/** Adds a camera to the first empty tile (or the last tile when full). */
export function add(layout, camera) {
  if (layout.tiles.some((t) => t.camera === camera)) return layout;
  const i = firstEmpty(layout);
  return place(layout, i >= 0 ? i : layout.tiles.length - 1, camera);
}

export const cssArea = (t) => `${t.row + 1} / ${t.col + 1} / span ${t.h} / span ${t.w}`;
