/**
 * A small attenuation rasteriser for the synthetic radiographs.
 * In: shapes in object coordinates (unit square, x right, y down) and a pose mapping pixels to
 * object coordinates. Out: Float32 attenuation layers, then a Uint8 grayscale film.
 * Holds afterwards: shapes are drawn by signed distance with one-pixel anti-aliasing, so an
 * image looks the same (up to resolution) at 64 and at 224 pixels; all randomness comes from
 * the caller's Rng, so rendering is a pure function of its inputs.
 */
import type { Rng } from '../module.js';

export interface Pose {
  /** Rotation in radians, scale (>1 zooms in), shift in object units, horizontal mirror. */
  readonly angle: number;
  readonly scale: number;
  readonly dx: number;
  readonly dy: number;
  readonly mirror: boolean;
}

export interface Bounds {
  readonly x0: number;
  readonly y0: number;
  readonly x1: number;
  readonly y1: number;
}

/** A signed distance in object units (negative inside) at object point (x, y). */
export type Sdf = (x: number, y: number) => number;

/** A shape: its distance function and an object-space box outside which it is empty. */
export interface Shape {
  readonly d: Sdf;
  readonly box: Bounds;
}

/** Attenuation layers: lucency removes bone only, so it never darkens below soft tissue. */
export type Layer = 'tissue' | 'bone';

export class AttenuationCanvas {
  readonly size: number;
  /** Soft tissue and metal. */
  readonly tissue: Float32Array;
  readonly bone: Float32Array;
  /** Object units per pixel: the anti-aliasing width. */
  readonly pixel: number;
  private readonly pose: Pose;
  /** Object coordinates of every pixel centre. */
  private readonly ox: Float32Array;
  private readonly oy: Float32Array;

  constructor(size: number, pose: Pose) {
    this.size = size;
    this.pose = pose;
    this.tissue = new Float32Array(size * size);
    this.bone = new Float32Array(size * size);
    this.ox = new Float32Array(size * size);
    this.oy = new Float32Array(size * size);
    this.pixel = 1 / (size * pose.scale);
    const c = Math.cos(pose.angle);
    const s = Math.sin(pose.angle);
    for (let py = 0; py < size; py++) {
      for (let px = 0; px < size; px++) {
        // Pixel -> centred unit coords -> undo mirror, rotation and zoom -> object coords.
        let u = (px + 0.5) / size - 0.5;
        const v = (py + 0.5) / size - 0.5;
        if (pose.mirror) u = -u;
        this.ox[py * size + px] = (c * u + s * v) / pose.scale + 0.5 - pose.dx;
        this.oy[py * size + px] = (-s * u + c * v) / pose.scale + 0.5 - pose.dy;
      }
    }
  }

  /** Pixel rectangle [x0, x1) x [y0, y1) that contains an object-space box. */
  private pixelBox(b: Bounds): Bounds {
    const { angle, scale, dx, dy, mirror } = this.pose;
    const c = Math.cos(angle);
    const s = Math.sin(angle);
    let x0 = Infinity;
    let y0 = Infinity;
    let x1 = -Infinity;
    let y1 = -Infinity;
    for (const [ox, oy] of [
      [b.x0, b.y0],
      [b.x1, b.y0],
      [b.x0, b.y1],
      [b.x1, b.y1],
    ] as const) {
      // The inverse of the constructor's pixel -> object map.
      const a = (ox - 0.5 + dx) * scale;
      const e = (oy - 0.5 + dy) * scale;
      let u = c * a - s * e;
      const v = s * a + c * e;
      if (mirror) u = -u;
      const px = (u + 0.5) * this.size;
      const py = (v + 0.5) * this.size;
      x0 = Math.min(x0, px);
      x1 = Math.max(x1, px);
      y0 = Math.min(y0, py);
      y1 = Math.max(y1, py);
    }
    const clamp = (v: number): number => Math.max(0, Math.min(this.size, v));
    return {
      x0: clamp(Math.floor(x0) - 2),
      y0: clamp(Math.floor(y0) - 2),
      x1: clamp(Math.ceil(x1) + 2),
      y1: clamp(Math.ceil(y1) + 2),
    };
  }

  /** Calls `f(i, coverage)` for every pixel the shape covers at least partly. */
  private each(shape: Shape, f: (i: number, coverage: number) => void): void {
    const aa = this.pixel;
    const r = this.pixelBox(shape.box);
    for (let py = r.y0; py < r.y1; py++) {
      for (let i = py * this.size + r.x0, end = py * this.size + r.x1; i < end; i++) {
        const d = shape.d(this.ox[i]!, this.oy[i]!);
        if (d >= aa) continue;
        f(i, d <= -aa ? 1 : 0.5 - d / (2 * aa));
      }
    }
  }

  /** Adds `amount * coverage(shape)` to a layer (negative amounts remove material). */
  add(shape: Shape, amount: number, layer: Layer = 'bone'): void {
    const target = layer === 'bone' ? this.bone : this.tissue;
    this.each(shape, (i, coverage) => {
      target[i] = target[i]! + amount * coverage;
    });
  }

  /** Multiplies the bone layer by `1 - fraction * coverage(shape)`: resorption. */
  resorb(shape: Shape, fraction: number): void {
    this.each(shape, (i, coverage) => {
      this.bone[i] = this.bone[i]! * (1 - fraction * coverage);
    });
  }

  /** Total attenuation of pixel i. */
  attenuation(i: number): number {
    return Math.max(0, this.tissue[i]!) + Math.max(0, this.bone[i]!);
  }
}

// ---------------------------------------------------------------------------------------------
// Shapes

/** Closest point parameter t in [0, 1] of (x, y) on segment a-b. */
function segmentT(x: number, y: number, ax: number, ay: number, bx: number, by: number): number {
  const ex = bx - ax;
  const ey = by - ay;
  const len2 = ex * ex + ey * ey;
  if (len2 === 0) return 0;
  const t = ((x - ax) * ex + (y - ay) * ey) / len2;
  return t < 0 ? 0 : Math.min(t, 1);
}

function grow(b: Bounds, m: number): Bounds {
  return { x0: b.x0 - m, y0: b.y0 - m, x1: b.x1 + m, y1: b.y1 + m };
}

/** A segment with radius tapering linearly from ra (at a) to rb (at b): bones, stems. */
export function taperedCapsule(ax: number, ay: number, bx: number, by: number, ra: number, rb: number): Shape {
  const r = Math.max(ra, rb);
  return {
    d: (x, y) => {
      const t = segmentT(x, y, ax, ay, bx, by);
      const px = ax + (bx - ax) * t - x;
      const py = ay + (by - ay) * t - y;
      return Math.sqrt(px * px + py * py) - (ra + (rb - ra) * t);
    },
    box: { x0: Math.min(ax, bx) - r, y0: Math.min(ay, by) - r, x1: Math.max(ax, bx) + r, y1: Math.max(ay, by) + r },
  };
}

/** An ellipse centred at (cx, cy) with radii (rx, ry), rotated by `angle` radians. */
export function ellipse(cx: number, cy: number, rx: number, ry: number, angle = 0): Shape {
  const c = Math.cos(angle);
  const s = Math.sin(angle);
  const rmin = Math.min(rx, ry);
  const r = Math.max(rx, ry);
  return {
    d: (x, y) => {
      const u = (c * (x - cx) + s * (y - cy)) / rx;
      const v = (-s * (x - cx) + c * (y - cy)) / ry;
      return (Math.sqrt(u * u + v * v) - 1) * rmin;
    },
    box: { x0: cx - r, y0: cy - r, x1: cx + r, y1: cy + r },
  };
}

/** The part of `shape` on the side of the line through (px, py) that `(nx, ny)` points to. */
export function halfPlaneCut(shape: Shape, px: number, py: number, nx: number, ny: number): Shape {
  const len = Math.hypot(nx, ny);
  return { d: (x, y) => Math.max(shape.d(x, y), -((x - px) * nx + (y - py) * ny) / len), box: shape.box };
}

/** A band of the given thickness centred on the outline of `shape`. */
export function outline(shape: Shape, thickness: number): Shape {
  return { d: (x, y) => Math.abs(shape.d(x, y)) - thickness / 2, box: grow(shape.box, thickness) };
}

/** Points between `gap` and `gap + width` outside `shape` (a rim around it). */
export function rim(shape: Shape, width: number, gap = 0): Shape {
  return {
    d: (x, y) => {
      const d = shape.d(x, y) - gap;
      return Math.max(-d, d - width);
    },
    box: grow(shape.box, gap + width),
  };
}

export function union(...shapes: Shape[]): Shape {
  return {
    d: (x, y) => {
      let d = Infinity;
      for (const s of shapes) d = Math.min(d, s.d(x, y));
      return d;
    },
    box: {
      x0: Math.min(...shapes.map((s) => s.box.x0)),
      y0: Math.min(...shapes.map((s) => s.box.y0)),
      x1: Math.max(...shapes.map((s) => s.box.x1)),
      y1: Math.max(...shapes.map((s) => s.box.y1)),
    },
  };
}

export function intersect(a: Shape, b: Shape): Shape {
  return {
    d: (x, y) => Math.max(a.d(x, y), b.d(x, y)),
    box: {
      x0: Math.max(a.box.x0, b.box.x0),
      y0: Math.max(a.box.y0, b.box.y0),
      x1: Math.min(a.box.x1, b.box.x1),
      y1: Math.min(a.box.y1, b.box.y1),
    },
  };
}

/** The empty shape. */
export const NOTHING: Shape = { d: () => Infinity, box: { x0: 0, y0: 0, x1: -1, y1: -1 } };

/** Everything inside an unbounded region given by a distance function (zones to intersect with). */
export function region(d: Sdf): Shape {
  return { d, box: { x0: -10, y0: -10, x1: 10, y1: 10 } };
}

// ---------------------------------------------------------------------------------------------
// Film

export interface FilmSettings {
  /** Exposure: brightness = 1 - exp(-gain * attenuation). */
  readonly gain: number;
  /** Display gamma applied after exposure. */
  readonly gamma: number;
  /** Black level added before quantisation (fog), in [0, 1]. */
  readonly fog: number;
  /** Standard deviation of per-pixel quantum noise, in [0, 1] brightness units. */
  readonly noise: number;
  /** Box-blur passes; the radius is 0.6% of the image side (no blur below ~84 px). */
  readonly blurPasses: number;
  /** Strength of the radial fall-off towards the corners. */
  readonly vignette: number;
}

/** Separable box blur of radius `r` pixels, in place, clamping at the edges. */
export function boxBlur(data: Float32Array, size: number, r: number): void {
  if (r <= 0) return;
  const tmp = new Float32Array(data.length);
  const w = 2 * r + 1;
  for (let y = 0; y < size; y++) {
    const row = y * size;
    for (let x = 0; x < size; x++) {
      let acc = 0;
      for (let k = -r; k <= r; k++) acc += data[row + Math.min(size - 1, Math.max(0, x + k))]!;
      tmp[row + x] = acc / w;
    }
  }
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      let acc = 0;
      for (let k = -r; k <= r; k++) acc += tmp[Math.min(size - 1, Math.max(0, y + k)) * size + x]!;
      data[y * size + x] = acc / w;
    }
  }
}

/** Exposes the attenuation onto film: exposure curve, blur, vignette, gamma, noise, quantise. */
export function develop(canvas: AttenuationCanvas, film: FilmSettings, rng: Rng): Uint8Array {
  const size = canvas.size;
  const img = new Float32Array(size * size);
  for (let i = 0; i < img.length; i++) img[i] = 1 - Math.exp(-film.gain * canvas.attenuation(i));
  const radius = Math.round(size * 0.006);
  for (let p = 0; p < film.blurPasses; p++) boxBlur(img, size, radius);
  const out = new Uint8Array(size * size);
  for (let py = 0; py < size; py++) {
    for (let px = 0; px < size; px++) {
      const i = py * size + px;
      const u = (px + 0.5) / size - 0.5;
      const v = (py + 0.5) / size - 0.5;
      let b = img[i]! * (1 - film.vignette * (u * u + v * v));
      b = film.fog + (1 - film.fog) * Math.max(0, b) ** film.gamma;
      b += film.noise * rng.normal();
      out[i] = Math.max(0, Math.min(255, Math.round(b * 255)));
    }
  }
  return out;
}
