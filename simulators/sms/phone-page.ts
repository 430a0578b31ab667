// The SMS simulator's web page: every phone with its conversation, as the phone would show it; server-rendered, every value escaped.
import type { SentReply } from './responders.js';
import type { SimCall } from '../common/phone-calls.js';

export interface PhoneView {
  phone: string;
  /** Who it is, when a registry is known ("worker w-01 李明"). */
  label: string | null;
  /** "replies 1 after 5s", "never replies". */
  behaviour: string;
  /** Messages the phone got, from whichever provider is simulated. */
  received: { body: string; receivedAt: number; status: string }[];
  sent: SentReply[];
  /** Voice calls to this phone, newest last. */
  calls?: SimCall[];
}

/** An incoming or running call: what was said, and the buttons (answer, busy, let ring; then 1, 2, *, hang up). */
function callCard(call: SimCall, timeZone: string): string {
  const act = (value: string, label: string): string => `<button name="action" value="${escapeHtml(value)}">${escapeHtml(label)}</button>`;
  const live = call.live && call.endedAt === null;
  const buttons =
    live && (call.status === 'queued' || call.status === 'ringing')
      ? act('answer', 'Answer') + act('busy', 'Busy') + act('no_answer', 'Let ring')
      : live && call.status === 'in-progress'
        ? act('key:1', '1') + act('key:2', '2') + act('key:*', '*') + act('hang_up', 'Hang up')
        : '';
  const said = call.spoken.map((s) => `<div class="said">${escapeHtml(s)}</div>`).join('');
  const keys = call.keys.length > 0 ? ` · keys ${escapeHtml(call.keys.join(' '))}` : '';
  return `<div class="call ${call.endedAt === null ? 'active' : 'ended'}"><div class="meta">📞 ${escapeHtml(clock(call.createdAt, timeZone))} · ${escapeHtml(call.status)}${keys}${call.live ? '' : ' · scripted'}</div>${said}${
    buttons ? `<form class="keys" method="post" action="/calls/${encodeURIComponent(call.id)}/act">${buttons}</form>` : ''
  }</div>`;
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);
}

function clock(ms: number, timeZone: string): string {
  return new Intl.DateTimeFormat('en-GB', { timeZone, hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' }).format(ms);
}

type Bubble = { at: number; side: 'in' | 'out'; body: string; meta: string };

function bubbles(view: PhoneView, timeZone: string): string {
  const all: Bubble[] = [
    ...view.received.map((m): Bubble => ({
      at: m.receivedAt,
      side: 'in',
      body: m.body,
      meta: `${clock(m.receivedAt, timeZone)} · ${m.status}`,
    })),
    ...view.sent.map((r): Bubble => ({
      at: r.at,
      side: 'out',
      body: r.body,
      meta: `${clock(r.at, timeZone)} · ${r.error ? `not delivered: ${r.error}` : r.httpStatus === null ? 'sending' : 'sent'}`,
    })),
  ].sort((a, b) => a.at - b.at);
  if (all.length === 0) return '<p class="empty">No messages yet.</p>';
  return all
    .map(
      (b) => `<div class="msg ${b.side}"><div class="body">${escapeHtml(b.body)}</div><div class="meta">${escapeHtml(b.meta)}</div></div>`,
    )
    .join('\n');
}

/** The whole page; `refreshSeconds` reloads it so new messages show up without a script. */
export function renderPhonesPage(
  phones: PhoneView[],
  opts: { timeZone: string; refreshSeconds: number; gatewayUrl: string; replyFormat?: string },
): string {
  const cards = phones
    .map((p) => {
      const id = encodeURIComponent(p.phone);
      return `<section class="phone">
<header><strong>${escapeHtml(p.label ?? p.phone)}</strong>${p.label ? `<span class="num">${escapeHtml(p.phone)}</span>` : ''}<span class="rule">${escapeHtml(p.behaviour)}</span></header>
<div class="thread">
${bubbles(p, opts.timeZone)}
${(p.calls ?? []).map((c) => callCard(c, opts.timeZone)).join('\n')}
</div>
<form method="post" action="/phones/${escapeHtml(id)}/reply"><input name="body" maxlength="160" placeholder="Reply, e.g. 1" required><button>Send</button></form>
</section>`;
    })
    .join('\n');
  return `<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="${opts.refreshSeconds}">
<title>SMS simulator: ${phones.length} phones</title>
<style>
body{font-family:system-ui,sans-serif;background:#eef0f3;margin:0;padding:1rem}
h1{font-size:1.1rem;margin:0 0 .25rem}
p.sub{margin:0 0 1rem;color:#555;font-size:.85rem}
main{display:grid;grid-template-columns:repeat(auto-fill,minmax(300px,1fr));gap:1rem}
.phone{background:#fff;border-radius:18px;box-shadow:0 1px 4px #0002;display:flex;flex-direction:column;max-height:520px}
.phone header{padding:.6rem .8rem;border-bottom:1px solid #ddd;display:flex;flex-wrap:wrap;gap:.4rem;align-items:baseline}
.num{color:#666;font-size:.8rem}.rule{margin-left:auto;color:#07c;font-size:.75rem}
.thread{padding:.6rem;overflow-y:auto;flex:1;display:flex;flex-direction:column;gap:.4rem}
.msg{max-width:85%;padding:.4rem .6rem;border-radius:14px;white-space:pre-wrap;word-break:break-word}
.msg.in{background:#e5e5ea;align-self:flex-start}.msg.out{background:#34c759;color:#fff;align-self:flex-end}
.meta{font-size:.7rem;opacity:.7;margin-top:.15rem}
.empty{color:#888;font-size:.85rem}
.call{border:2px solid #ccc;border-radius:14px;padding:.4rem .6rem}.call.active{border-color:#34c759;background:#f0fff4}
.said{font-size:.85rem;margin-top:.2rem}form.keys{border:0;padding:.3rem 0 0;flex-wrap:wrap}
form{display:flex;gap:.4rem;padding:.5rem;border-top:1px solid #ddd}
input{flex:1;padding:.35rem;border:1px solid #ccc;border-radius:10px}button{border:0;background:#07c;color:#fff;border-radius:10px;padding:.35rem .8rem}
</style>
</head>
<body>
<h1>SMS simulator</h1>
<p class="sub">Replies go to ${escapeHtml(opts.gatewayUrl)} as ${escapeHtml(opts.replyFormat ?? 'signed Twilio webhooks')}. This page reloads every ${opts.refreshSeconds} s.</p>
<main>
${cards || '<p class="empty">No phone has been texted yet.</p>'}
</main>
</body>
</html>
`;
}
