// Plane geometry for the offline map: padded convex hulls around residents, so outlines need no map data at all.

export interface LatLon {
  lat: number;
  lon: number;
}

const EARTH_M_PER_DEG = 111_320;

/** Andrew's monotone chain on (lon, lat); returns the hull counter-clockwise without repeating the first point. */
export function convexHull(points: LatLon[]): LatLon[] {
  const pts = [...points].sort((a, b) => a.lon - b.lon || a.lat - b.lat);
  if (pts.length <= 2) return pts;
  const cross = (o: LatLon, a: LatLon, b: LatLon): number => (a.lon - o.lon) * (b.lat - o.lat) - (a.lat - o.lat) * (b.lon - o.lon);
  const lower: LatLon[] = [];
  for (const p of pts) {
    while (lower.length >= 2 && cross(lower[lower.length - 2]!, lower[lower.length - 1]!, p) <= 0) lower.pop();
    lower.push(p);
  }
  const upper: LatLon[] = [];
  for (const p of [...pts].reverse()) {
    while (upper.length >= 2 && cross(upper[upper.length - 2]!, upper[upper.length - 1]!, p) <= 0) upper.pop();
    upper.push(p);
  }
  return [...lower.slice(0, -1), ...upper.slice(0, -1)];
}

/**
 * The hull of the points grown by `padM` metres: each point becomes a small octagon first, so one or two residents
 * still give a real outline, and every resident sits well inside the line.
 */
export function paddedHull(points: LatLon[], padM: number): LatLon[] {
  if (points.length === 0) return [];
  const out: LatLon[] = [];
  for (const p of points) {
    const dLat = padM / EARTH_M_PER_DEG;
    const dLon = padM / (EARTH_M_PER_DEG * Math.max(0.01, Math.cos((p.lat * Math.PI) / 180)));
    for (let k = 0; k < 8; k++) {
      const a = (k * Math.PI) / 4 + Math.PI / 8;
      out.push({ lat: p.lat + dLat * Math.sin(a), lon: p.lon + dLon * Math.cos(a) });
    }
  }
  return convexHull(out);
}

/** Whether `p` lies inside the convex polygon (counter-clockwise, as convexHull returns it). */
export function insideConvex(polygon: LatLon[], p: LatLon): boolean {
  if (polygon.length < 3) return false;
  for (let i = 0; i < polygon.length; i++) {
    const a = polygon[i]!;
    const b = polygon[(i + 1) % polygon.length]!;
    if ((b.lon - a.lon) * (p.lat - a.lat) - (b.lat - a.lat) * (p.lon - a.lon) < 0) return false;
  }
  return true;
}
