// A small static SVG map for the incident page: the community's buildings, the resident's one marked; no script, no tiles.
import type { MapBuilding } from '../../live/map-data.js';
import { escapeHtml } from './html.js';

export interface SiteMapModel {
  /** Every building of the resident's community that has coordinates. */
  buildings: MapBuilding[];
  /** The resident's building (name as in the registry). */
  own: string | null;
  /** The resident's own position, when registered. */
  home: { lat: number; lon: number } | null;
}

const W = 320;
const H = 200;
const PAD = 28;

/** Positions in metres east/north of the first point: at this scale the earth is flat enough. */
function project(points: { lat: number; lon: number }[]): (p: { lat: number; lon: number }) => { x: number; y: number } {
  const lat0 = points.reduce((s, p) => s + p.lat, 0) / points.length;
  const k = Math.cos((lat0 * Math.PI) / 180);
  const xs = points.map((p) => p.lon * k);
  const ys = points.map((p) => p.lat);
  const minX = Math.min(...xs);
  const maxX = Math.max(...xs);
  const minY = Math.min(...ys);
  const maxY = Math.max(...ys);
  // One scale for both axes keeps the layout true; a single building sits in the middle.
  const span = Math.max(maxX - minX, maxY - minY, 1e-4);
  const scale = Math.min((W - 2 * PAD) / span, (H - 2 * PAD) / span);
  const cx = (minX + maxX) / 2;
  const cy = (minY + maxY) / 2;
  return (p) => ({ x: W / 2 + (p.lon * k - cx) * scale, y: H / 2 - (p.lat - cy) * scale });
}

/** Short label: "安达里3号楼" -> "3号楼" when it starts with the community's name part shared by all buildings. */
function shortName(name: string, all: string[]): string {
  let prefix = all[0] ?? '';
  for (const n of all) while (prefix && !n.startsWith(prefix)) prefix = prefix.slice(0, -1);
  const rest = name.slice(prefix.length);
  return rest.length > 0 && all.length > 1 ? rest : name;
}

export function renderSiteMap(m: SiteMapModel): string {
  const points = [...m.buildings.map((b) => ({ lat: b.lat, lon: b.lon })), ...(m.home ? [m.home] : [])];
  if (points.length === 0) return '';
  const at = project(points);
  const names = m.buildings.map((b) => b.name);
  const shapes = m.buildings.map((b) => {
    const { x, y } = at(b);
    const own = b.name === m.own;
    const label = escapeHtml(shortName(b.name, names));
    return [
      `<rect x="${(x - 14).toFixed(1)}" y="${(y - 9).toFixed(1)}" width="28" height="18" rx="2" fill="${own ? '#c00000' : '#d9d9d9'}" stroke="#000" stroke-width="${own ? 3 : 1}"/>`,
      `<text x="${x.toFixed(1)}" y="${(y + 24).toFixed(1)}" font-size="${own ? 14 : 11}" font-weight="${own ? 700 : 400}" text-anchor="middle">${label}</text>`,
    ].join('');
  });
  const home = m.home ? at(m.home) : null;
  const pin = home
    ? `<circle cx="${home.x.toFixed(1)}" cy="${home.y.toFixed(1)}" r="5" fill="#fff" stroke="#c00000" stroke-width="3"/>`
    : '';
  return [
    `<svg class="sitemap" viewBox="0 0 ${W} ${H}" role="img" aria-label="${escapeHtml(`位置示意图：${m.own ?? ''}`)}" xmlns="http://www.w3.org/2000/svg">`,
    `<rect x="0" y="0" width="${W}" height="${H}" fill="#f4f1e8" stroke="#000"/>`,
    `<text x="${W - 14}" y="20" font-size="14" font-weight="700" text-anchor="middle">北</text>`,
    `<path d="M${W - 14} 24 l-5 12 h10 z" fill="#000"/>`,
    ...shapes,
    pin,
    '</svg>',
  ].join('');
}

/** A `geo:` link opens the phone's own map app (offline maps included) at the resident's door. */
export function geoHref(home: { lat: number; lon: number }): string {
  return `geo:${home.lat.toFixed(6)},${home.lon.toFixed(6)}`;
}
