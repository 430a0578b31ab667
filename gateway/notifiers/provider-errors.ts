// Small helpers the domestic providers share: reading fields of an SDK's error, and splitting an endpoint variable.

/** A property of a thrown value, when it is an object that has it. */
export function errorField(err: unknown, key: string): unknown {
  if (typeof err !== 'object' || err === null) return undefined;
  const value: unknown = Reflect.get(err, key);
  return value;
}

export interface ProviderEndpoint {
  protocol: 'http' | 'https';
  /** Host and optional port, without scheme or path. */
  host: string;
}

/** ALIYUN_SMS_ENDPOINT / TENCENT_SMS_ENDPOINT: a bare host means HTTPS, as the SDKs default; a URL says its scheme. */
export function providerEndpoint(value: string | null, defaultHost: string): ProviderEndpoint {
  if (!value) return { protocol: 'https', host: defaultHost };
  const m = /^(https?):\/\/([^/]+)\/?$/.exec(value);
  if (m?.[1] && m[2]) return { protocol: m[1] === 'http' ? 'http' : 'https', host: m[2] };
  return { protocol: 'https', host: value.replace(/\/+$/, '') };
}
