// The offline map: community and building outlines and resident markers drawn from registry coordinates; tiles only if configured.
import L from 'leaflet';
import 'leaflet/dist/leaflet.css';
import type { MapModel, MapResident } from '../../../gateway/live/map-data.js';
import { api } from '../api.js';
import { paddedHull, type LatLon } from '../components/geo.js';
import { stateLabel, typeLabel } from '../components/incident-labels.js';
import { uiConfig } from '../components/ui-config.js';
import { h, replace, type Child } from '../dom.js';
import { addMessages, t } from '../i18n.js';
import { definePage } from '../router.js';
import './map.css';

addMessages({
  zh: {
    'map.title': '地图',
    'map.legend.alarm': '正在求助',
    'map.legend.taken': '已接单',
    'map.legend.offline': '设备离线',
    'map.legend.warning': '电量低',
    'map.legend.unknown': '设备未上线',
    'map.legend.ok': '设备正常',
    'map.legend.none': '无设备',
    'map.offline': '离线地图：只画出社区和楼栋轮廓（未配置底图）。',
    'map.empty': '没有登记坐标的老人。',
    'map.residents': '{n} 位老人',
    'map.all': '全部',
  },
  en: {
    'map.title': 'Map',
    'map.legend.alarm': 'Alarm',
    'map.legend.taken': 'Taken',
    'map.legend.offline': 'Device offline',
    'map.legend.warning': 'Low battery',
    'map.legend.unknown': 'Device never seen',
    'map.legend.ok': 'Devices OK',
    'map.legend.none': 'No device',
    'map.offline': 'Offline map: community and building outlines only (no base map configured).',
    'map.empty': 'No resident has coordinates.',
    'map.residents': '{n} residents',
    'map.all': 'All',
  },
});

type MarkerKind = 'alarm' | 'taken' | 'offline' | 'unknown' | 'warning' | 'ok' | 'none';

const COLOURS: Record<MarkerKind, string> = {
  alarm: '#d0021b',
  taken: '#f5a623',
  offline: '#6b7280',
  unknown: '#9c6ade',
  warning: '#b8860b',
  ok: '#1b6e2d',
  none: '#0b5cad',
};

/** An alarm outranks device health: the marker shows the most urgent thing about that home. */
export function markerKind(r: MapResident): MarkerKind {
  if (r.activeIncident) return r.activeIncident.state === 'acknowledged' ? 'taken' : 'alarm';
  return r.deviceHealth;
}

/** Leaflet's tooltips parse strings as HTML: always hand them an element, so a name is only ever text. */
function label(...lines: string[]): HTMLElement {
  const children: Child[] = [];
  lines.forEach((line, i) => children.push(...(i === 0 ? [h('strong', {}, line)] : [h('br'), line])));
  return h('div', { class: 'map-label' }, ...children);
}

definePage({
  path: 'map',
  title: 'map.title',
  roles: ['admin', 'duty_officer', 'worker'],
  nav: true,
  order: 20,
  render: async (el, ctx) => {
    const container = h('div', { class: 'map', id: 'map', 'data-testid': 'map' });
    const status = h('p', { class: 'muted map-status', 'data-testid': 'map-status' });
    const legend = h(
      'ul',
      { class: 'map-legend' },
      ...(Object.keys(COLOURS) as MarkerKind[]).map((k) =>
        h('li', {}, h('span', { class: 'dot', style: `background:${COLOURS[k]}` }), t(`map.legend.${k}`)),
      ),
    );
    const zoomBar = h('div', { class: 'row map-zoom', 'data-testid': 'map-zoom' });
    replace(el, h('div', { class: 'map-page' }, h('div', { class: 'row map-bar' }, status, zoomBar), container, legend));

    const [cfg, model] = await Promise.all([uiConfig(), api.get<MapModel>('/api/map')]);
    const map = L.map(container, { zoomControl: true, attributionControl: Boolean(cfg?.mapTileUrl), preferCanvas: false });
    if (cfg?.mapTileUrl) L.tileLayer(cfg.mapTileUrl, { maxZoom: 19, subdomains: ['0', '1', '2', '3', '4', '5', '6', '7'] }).addTo(map);
    else container.classList.add('map-plain');

    const outlines = L.layerGroup().addTo(map);
    const markers = L.layerGroup().addTo(map);
    const byResident = new Map<string, L.CircleMarker>();
    const communityBounds = new Map<string, L.LatLngBounds>();
    let firstDraw = true;

    const zoomTo = (bounds: L.LatLngBounds | undefined): void => {
      if (bounds?.isValid()) map.fitBounds(bounds, { padding: [24, 24], maxZoom: 18 });
    };

    const draw = (m: MapModel): void => {
      outlines.clearLayers();
      markers.clearLayers();
      byResident.clear();
      status.textContent = `${cfg?.mapTileUrl ? '' : `${t('map.offline')} `}${t('map.residents', { n: m.residents.length })}`;
      if (m.residents.length === 0) {
        status.textContent = t('map.empty');
        map.setView([39.9, 116.4], 12);
        return;
      }
      const all: LatLon[] = [];
      communityBounds.clear();
      for (const c of m.communities) {
        const points = m.residents.filter((r) => r.community === c.id);
        if (points.length === 0) continue;
        const hull = paddedHull(points, 60);
        all.push(...hull);
        communityBounds.set(c.id, L.latLngBounds(hull.map((p) => [p.lat, p.lon] as L.LatLngTuple)));
        L.polygon(
          hull.map((p) => [p.lat, p.lon] as L.LatLngTuple),
          { color: '#12263f', weight: 2, dashArray: '6 4', fillColor: '#dfe8f3', fillOpacity: 0.35, className: 'community-outline' },
        )
          .bindTooltip(label(c.name), { sticky: true })
          .addTo(outlines);
      }
      for (const b of m.buildings) {
        const points = m.residents.filter((r) => b.residents.includes(r.id));
        const hull = paddedHull(points.length > 0 ? points : [b], 14);
        L.polygon(
          hull.map((p) => [p.lat, p.lon] as L.LatLngTuple),
          { color: '#444', weight: 1, fillColor: '#c9ced6', fillOpacity: 0.8, className: 'building-outline' },
        )
          .bindTooltip(label(b.name), { permanent: true, direction: 'top', className: 'building-label', opacity: 0.9 })
          .addTo(outlines);
      }
      for (const r of m.residents) {
        const kind = markerKind(r);
        const lines = [r.name, r.address];
        if (r.activeIncident) lines.push(`${typeLabel(r.activeIncident.type)} · ${stateLabel(r.activeIncident.state)}`);
        else lines.push(t(`map.legend.${kind}`));
        const marker = L.circleMarker([r.lat, r.lon], {
          radius: kind === 'alarm' ? 11 : 8,
          color: '#fff',
          weight: 2,
          fillColor: COLOURS[kind],
          fillOpacity: 1,
          className: `resident-marker marker-${kind}`,
        })
          .bindTooltip(label(...lines), { direction: 'right' })
          .addTo(markers);
        marker.getElement()?.setAttribute('data-resident', r.id);
        byResident.set(r.id, marker);
      }
      const whole = L.latLngBounds(all.map((p) => [p.lat, p.lon] as L.LatLngTuple));
      replace(
        zoomBar,
        h('button', { type: 'button', class: 'secondary', onclick: () => zoomTo(whole) }, t('map.all')),
        ...m.communities
          .filter((c) => communityBounds.has(c.id))
          .map((c) =>
            h(
              'button',
              { type: 'button', class: 'secondary', 'data-community': c.id, onclick: () => zoomTo(communityBounds.get(c.id)) },
              c.name,
            ),
          ),
      );
      if (!firstDraw) return;
      firstDraw = false;
      // Communities can lie kilometres apart: open on the one with an alarm, else the largest, where outlines are readable.
      const alarm = m.residents.find((r) => r.activeIncident && r.activeIncident.state !== 'acknowledged');
      const largest = [...m.communities].sort(
        (a, b) => m.residents.filter((r) => r.community === b.id).length - m.residents.filter((r) => r.community === a.id).length,
      )[0];
      zoomTo(communityBounds.get(alarm?.community ?? largest?.id ?? '') ?? whole);
    };
    draw(model);

    // Alarms and device changes recolour markers: read the map again, at most once a second (a storm stays cheap).
    let pending: number | null = null;
    const refresh = (): void => {
      if (pending !== null) return;
      pending = window.setTimeout(() => {
        pending = null;
        api.get<MapModel>('/api/map').then(draw, () => undefined);
      }, 1000);
    };
    const offIncident = ctx.live.on('incident', refresh);
    const offDevice = ctx.live.on('device', refresh);
    // Events from other nodes may have been missed while this node's channel to them was down.
    const offResync = ctx.live.on('resync', refresh);
    return () => {
      offIncident();
      offDevice();
      offResync();
      if (pending !== null) clearTimeout(pending);
      map.remove();
    };
  },
});
