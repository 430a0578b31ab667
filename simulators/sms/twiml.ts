// A small reader of the TwiML a voice webhook answers: Say, Gather (with its Say), Pause and Hangup.

export type TwimlVerb =
  | { verb: 'Say'; text: string }
  | { verb: 'Gather'; numDigits: number; action: string | null; timeoutSeconds: number; says: string[] }
  | { verb: 'Pause'; seconds: number }
  | { verb: 'Hangup' }
  | { verb: 'Other'; name: string };

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function decode(text: string): string {
  return text.replace(/&(#x[0-9a-fA-F]+|#\d+|[a-z]+);/g, (m, e: string) => {
    if (e.startsWith('#x')) return String.fromCodePoint(parseInt(e.slice(2), 16));
    if (e.startsWith('#')) return String.fromCodePoint(Number(e.slice(1)));
    return ENTITIES[e] ?? m;
  });
}

function attrs(raw: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of raw.matchAll(/([A-Za-z:_-]+)\s*=\s*"([^"]*)"/g)) if (m[1]) out[m[1]] = decode(m[2] ?? '');
  return out;
}

/** The verbs of a `<Response>`, in order; throws on a document that is not TwiML. */
export function parseTwiml(xml: string): TwimlVerb[] {
  const body = /<Response\s*(?:\/>|>([\s\S]*)<\/Response>)/.exec(xml);
  if (!body) throw new Error(`not TwiML: ${xml.slice(0, 80)}`);
  const verbs: TwimlVerb[] = [];
  const element = /<([A-Za-z]+)([^>]*?)(?:\/>|>([\s\S]*?)<\/\1>)/g;
  for (const m of (body[1] ?? '').matchAll(element)) {
    const [, name = '', rawAttrs = '', inner = ''] = m;
    const a = attrs(rawAttrs);
    switch (name) {
      case 'Say':
        verbs.push({ verb: 'Say', text: decode(inner) });
        break;
      case 'Gather':
        verbs.push({
          verb: 'Gather',
          numDigits: Number(a.numDigits ?? 1),
          action: a.action ?? null,
          timeoutSeconds: Number(a.timeout ?? 5),
          says: [...inner.matchAll(/<Say[^>]*>([\s\S]*?)<\/Say>/g)].map((s) => decode(s[1] ?? '')),
        });
        break;
      case 'Pause':
        verbs.push({ verb: 'Pause', seconds: Number(a.length ?? 1) });
        break;
      case 'Hangup':
        verbs.push({ verb: 'Hangup' });
        break;
      default:
        verbs.push({ verb: 'Other', name });
    }
  }
  return verbs;
}
