// Words for incident types, states, SMS statuses and responder roles, in both languages, shared by the board and the map.
import { addMessages, t } from '../i18n.js';

addMessages({
  zh: {
    'board.type.sos': '紧急求助',
    'board.type.fall': '疑似跌倒',
    'board.type.door_unanswered': '敲门无人应',
    'board.type.inactivity': '长时间无活动',
    'board.state.pending': '等待确认',
    'board.state.open': '等待接单',
    'board.state.acknowledged': '已接单',
    'board.state.resolved': '已解决',
    'board.state.cancelled': '已取消',
    'board.state.unassigned': '无人可通知',
    'board.state.onSite': '已到达',
    'board.sms.queued': '排队中',
    'board.sms.sending': '发送中',
    'board.sms.accepted': '已提交',
    'board.sms.sent': '已发出',
    'board.sms.delivered': '已送达',
    'board.sms.failed': '发送失败',
    'board.sms.undelivered': '未送达',
    'board.sms.outbox': '未发出（发件箱）',
    'board.role.worker': '网格员',
    'board.role.duty_contact': '值班室',
    'board.role.family': '家属',
    'board.role.staff': '工作人员',
  },
  en: {
    'board.type.sos': 'SOS',
    'board.type.fall': 'Possible fall',
    'board.type.door_unanswered': 'Door unanswered',
    'board.type.inactivity': 'No sign of life',
    'board.state.pending': 'Awaiting cancel window',
    'board.state.open': 'Waiting for a responder',
    'board.state.acknowledged': 'Taken',
    'board.state.resolved': 'Resolved',
    'board.state.cancelled': 'Cancelled',
    'board.state.unassigned': 'Nobody could be paged',
    'board.state.onSite': 'On site',
    'board.sms.queued': 'queued',
    'board.sms.sending': 'sending',
    'board.sms.accepted': 'accepted',
    'board.sms.sent': 'sent',
    'board.sms.delivered': 'delivered',
    'board.sms.failed': 'failed',
    'board.sms.undelivered': 'undelivered',
    'board.sms.outbox': 'NOT sent (outbox)',
    'board.role.worker': 'grid worker',
    'board.role.duty_contact': 'duty station',
    'board.role.family': 'family',
    'board.role.staff': 'staff',
  },
});

export function typeLabel(type: string): string {
  return t(`board.type.${type}`);
}

export function stateLabel(state: string): string {
  return t(`board.state.${state}`);
}

export function smsLabel(status: string): string {
  return t(`board.sms.${status}`);
}

export function roleLabel(role: string): string {
  return t(`board.role.${role}`);
}

/** "03:07" or "1:02:07": how long an incident has been running. */
export function elapsed(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const mm = String(m).padStart(2, '0');
  const ss = String(s).padStart(2, '0');
  return h > 0 ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}
