// The offline map's outlines: padded convex hulls that hold every resident, from one resident up to a crowd.
import { describe, expect, it } from 'vitest';
import { convexHull, insideConvex, paddedHull, type LatLon } from '../../dashboard/src/components/geo.js';
import { groupBuildings } from '../../gateway/live/map-data.js';

const M = 1 / 111_320; // about one metre of latitude

describe('convex hull', () => {
  it('keeps the corners of a square and drops the points inside', () => {
    const square: LatLon[] = [
      { lat: 0, lon: 0 },
      { lat: 0, lon: 1 },
      { lat: 1, lon: 1 },
      { lat: 1, lon: 0 },
      { lat: 0.5, lon: 0.5 },
      { lat: 0.2, lon: 0.7 },
    ];
    const hull = convexHull(square);
    expect(hull).toHaveLength(4);
    expect(hull).not.toContainEqual({ lat: 0.5, lon: 0.5 });
  });

  it('grows around one, two or many residents so that each sits inside, at least the padding away', () => {
    const base = { lat: 39.21, lon: 117.13 };
    const sets: LatLon[][] = [
      [base],
      [base, { lat: base.lat + 50 * M, lon: base.lon }],
      Array.from({ length: 30 }, (_, i) => ({ lat: base.lat + ((i * 37) % 11) * 10 * M, lon: base.lon + ((i * 17) % 7) * 10 * M })),
    ];
    for (const points of sets) {
      const hull = paddedHull(points, 20);
      expect(hull.length).toBeGreaterThanOrEqual(8);
      for (const p of points) {
        expect(insideConvex(hull, p)).toBe(true);
        // 15 m away in any direction is still inside the 20 m padding.
        expect(insideConvex(hull, { lat: p.lat + 15 * M, lon: p.lon })).toBe(true);
        expect(insideConvex(hull, { lat: p.lat - 15 * M, lon: p.lon })).toBe(true);
      }
      expect(insideConvex(hull, { lat: base.lat - 500 * M, lon: base.lon })).toBe(false);
    }
    expect(paddedHull([], 20)).toEqual([]);
  });
});

describe('building grouping', () => {
  it('groups residents by community and building, placed at their mean position', () => {
    const r = (id: string, community: string, building: string, lat: number, lon: number) => ({
      id,
      name: id,
      lat,
      lon,
      community,
      building,
      address: building,
      activeIncident: null,
      deviceHealth: 'ok' as const,
    });
    const buildings = groupBuildings([
      r('a', 'c1', 'B3', 1, 2),
      r('b', 'c1', 'B3', 3, 4),
      r('c', 'c2', 'B3', 5, 6),
      r('d', 'c1', 'B5', 7, 8),
    ]);
    expect(buildings).toHaveLength(3);
    expect(buildings.find((b) => b.community === 'c1' && b.name === 'B3')).toEqual({
      community: 'c1',
      name: 'B3',
      lat: 2,
      lon: 3,
      residents: ['a', 'b'],
    });
  });
});
