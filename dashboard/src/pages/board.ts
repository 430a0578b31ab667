// The live duty board: open incidents most urgent first, updated by server-sent events, with a sound for every new alarm.
import type { IncidentView } from '../../../gateway/incidents/views.js';
import type { Outage } from '../../../gateway/supervision/types.js';
import { api, ApiError } from '../api.js';
import { AlarmSound } from '../components/beep.js';
import { byUrgency, incidentCard, urgency, type CardOptions } from '../components/incident-card.js';
import { elapsed, typeLabel } from '../components/incident-labels.js';
import { gatewayHealthBanner } from '../components/gateway-health.js';
import { outageList } from '../components/outages.js';
import { uiConfig } from '../components/ui-config.js';
import { h, replace } from '../dom.js';
import { addMessages, t } from '../i18n.js';
import { definePage } from '../router.js';
import './board.css';

addMessages({
  zh: {
    'board.title': '值班看板',
    'board.empty': '目前没有未处理的求助。',
    'board.unassigned': '无人接单！以下求助没有任何人可通知，请立即电话安排：',
    'board.outbox': '短信未真正发出：系统处于本地发件箱模式（未配置 Twilio），所有通知只保存在本地。请电话通知相关人员。',
    'board.soundOff': '点击此处开启报警声音',
    'board.soundOn': '报警声音已开启',
    'board.count': '未结束的求助：{n}',
    'board.failed': '操作失败：{message}',
    'board.outages': '设备集中离线',
  },
  en: {
    'board.title': 'Duty board',
    'board.empty': 'No open incidents.',
    'board.unassigned': 'UNASSIGNED! Nobody could be paged for these incidents. Phone someone now:',
    'board.outbox': 'SMS are NOT being sent: outbox mode (no Twilio credentials), messages are only kept locally. Phone people instead.',
    'board.soundOff': 'Click here to turn the alarm sound on',
    'board.soundOn': 'Alarm sound on',
    'board.count': 'Active incidents: {n}',
    'board.failed': 'Action failed: {message}',
    'board.outages': 'Grouped device outages',
  },
});

const ACTIVE = ['pending', 'open', 'acknowledged'] as const;

definePage({
  path: 'board',
  title: 'board.title',
  roles: ['admin', 'duty_officer', 'worker'],
  nav: true,
  order: 10,
  render: async (el, ctx) => {
    const incidents = new Map<string, IncidentView>();
    const outages = new Map<string, Outage>();
    let outagesAvailable = false;
    const sound = new AlarmSound();
    const opts: CardOptions = {
      drafts: new Map(),
      errors: new Map(),
      busy: new Set(),
      actions: {
        ack: (id) => void act(id, 'ack'),
        onsite: (id) => void act(id, 'onsite'),
        resolve: (id, note) => void act(id, 'resolve', note),
      },
    };

    const health = gatewayHealthBanner();
    const outboxBanner = h(
      'div',
      { class: 'outbox-warning', role: 'alert', hidden: true, 'data-testid': 'outbox-warning' },
      t('board.outbox'),
    );
    const unassignedBanner = h('div', { class: 'unassigned-banner', role: 'alert', hidden: true, 'data-testid': 'unassigned-banner' });
    const soundButton = h('button', { type: 'button', class: 'secondary sound', 'data-testid': 'sound' });
    const count = h('span', { class: 'muted', 'data-testid': 'count' });
    const list = h('section', { class: 'incidents', 'aria-live': 'assertive', 'data-testid': 'incidents' });
    const outageSection = h('section', { class: 'outages', hidden: true, 'data-testid': 'outages' });
    const board = h(
      'div',
      { class: 'board', 'data-beeps': 0 },
      health.el,
      outboxBanner,
      unassignedBanner,
      h('div', { class: 'row board-bar' }, count, soundButton),
      list,
      outageSection,
    );
    replace(el, board);

    const showSound = (): void => {
      soundButton.textContent = sound.blocked() ? t('board.soundOff') : t('board.soundOn');
      soundButton.classList.toggle('blocked', sound.blocked());
    };
    soundButton.addEventListener('click', () => {
      sound.unlock();
      setTimeout(showSound, 50);
    });
    // Any click on the page unlocks the sound (browsers allow audio only after a gesture).
    const unlock = (): void => {
      sound.unlock();
      setTimeout(showSound, 50);
    };
    document.addEventListener('pointerdown', unlock, { once: true });
    showSound();

    const draw = (): void => {
      const active = [...incidents.values()].filter((i) => urgency(i) !== 'closed').sort(byUrgency);
      count.textContent = t('board.count', { n: active.length });
      if (active.length === 0) replace(list, h('p', { class: 'notice', 'data-testid': 'empty' }, t('board.empty')));
      else replace(list, ...active.map((i) => incidentCard(i, opts)));
      const unassigned = active.filter((i) => urgency(i) === 'unassigned');
      unassignedBanner.hidden = unassigned.length === 0;
      replace(
        unassignedBanner,
        h('strong', {}, t('board.unassigned')),
        h('ul', {}, ...unassigned.map((i) => h('li', {}, `${typeLabel(i.type)} · ${i.residentName ?? i.resident} · ${i.address ?? ''}`))),
      );
      outageSection.hidden = !outagesAvailable || outages.size === 0;
      replace(outageSection, h('h3', {}, t('board.outages')), outageList([...outages.values()].filter((o) => o.closedAt === null)));
      tick();
    };

    /** Timers run on one interval for the whole board; cards only carry their start and deadline. */
    const tick = (): void => {
      const now = Date.now();
      list.querySelectorAll<HTMLElement>('[data-since]').forEach((node) => (node.textContent = elapsed(now - Number(node.dataset.since))));
      list.querySelectorAll<HTMLElement>('[data-until]').forEach((node) => (node.textContent = elapsed(Number(node.dataset.until) - now)));
    };
    const timer = setInterval(tick, 1000);

    const alarm = (): void => {
      sound.play();
      board.dataset.beeps = String(sound.played);
    };

    /** Stores the newest view; true when it is a new alarm (or newly unassigned) that must sound. */
    const upsert = (view: IncidentView, live: boolean): boolean => {
      const before = incidents.get(view.id);
      incidents.set(view.id, view);
      if (!live) return false;
      const isNew = !before && (view.state === 'open' || view.state === 'pending');
      const becameUnassigned = before !== undefined && urgency(before) !== 'unassigned' && urgency(view) === 'unassigned';
      return isNew || becameUnassigned;
    };

    /** Reads the whole board; `announce`: an alarm it had not shown yet sounds, as if it had come live. */
    async function load(announce = false): Promise<void> {
      const lists = await Promise.all(ACTIVE.map((state) => api.get<IncidentView[]>(`/api/incidents?state=${state}`)));
      const known = new Map(incidents);
      incidents.clear();
      let alarming = false;
      for (const view of lists.flat()) {
        const before = known.get(view.id);
        if (before) incidents.set(view.id, before);
        if (upsert(view, announce)) alarming = true;
      }
      try {
        const open = await api.get<Outage[]>('/api/outages?state=open');
        outagesAvailable = true;
        outages.clear();
        for (const o of open) outages.set(o.id, o);
      } catch (err) {
        // No device supervision in this gateway: the board simply has no outage section.
        if (!(err instanceof ApiError) || err.status !== 404) throw err;
      }
      draw();
      // Drawn first, as for a live alarm.
      if (alarming) setTimeout(alarm, 0);
    }

    async function act(id: string, action: 'ack' | 'onsite' | 'resolve', note?: string): Promise<void> {
      opts.busy.add(id);
      opts.errors.delete(id);
      draw();
      try {
        const body = note && note.trim() ? { note: note.trim() } : {};
        const view = await api.post<IncidentView>(`/api/incidents/${encodeURIComponent(id)}/${action}`, body);
        if (action === 'resolve') opts.drafts.delete(id);
        upsert(view, false);
      } catch (err) {
        opts.errors.set(id, t('board.failed', { message: err instanceof Error ? err.message : String(err) }));
      } finally {
        opts.busy.delete(id);
        draw();
      }
    }

    const offIncident = ctx.live.on('incident', (data) => {
      const alarming = upsert(data as IncidentView, true);
      draw();
      // Drawn first: starting the audio device can take a moment, and the card must not wait for it.
      if (alarming) setTimeout(alarm, 0);
    });
    const offOutage = ctx.live.on('outage', (data) => {
      const outage = data as Outage;
      outagesAvailable = true;
      outages.set(outage.id, outage);
      draw();
    });
    // The node's own channel to the other nodes was down: their events in that gap never reached this stream.
    const offResync = ctx.live.on('resync', () => {
      void load(true);
      void health.refresh();
    });
    // After a dropped connection the board may have missed events: read the whole state again.
    let wasConnected = true;
    const offConnection = ctx.live.onConnection((connected) => {
      if (connected && !wasConnected) {
        void load();
        void health.refresh();
      }
      wasConnected = connected;
    });

    const cfg = await uiConfig();
    outboxBanner.hidden = cfg?.smsMode !== 'outbox';
    await Promise.all([load(), health.refresh()]);

    return () => {
      clearInterval(timer);
      health.stop();
      offIncident();
      offOutage();
      offConnection();
      offResync();
      document.removeEventListener('pointerdown', unlock);
      sound.close();
    };
  },
});
