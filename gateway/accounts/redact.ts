// How usernames and phones appear in the account audit log: enough to recognise, not enough to leak.

/** "+8613900000001" → "+86139****0001": an officer can tell whose phone it was without the log becoming a phone book. */
export function maskPhone(phone: string): string {
  const digits = phone.replace(/\s+/g, '');
  if (digits.length <= 6) return '****';
  return `${digits.slice(0, Math.min(6, digits.length - 4))}****${digits.slice(-4)}`;
}

/**
 * A username that names no account is often a password typed into the wrong box: only its first
 * character and length are kept. A real account's username is kept as it is.
 */
export function redactUnknownUsername(typed: string): string {
  const chars = [...typed];
  return `${chars[0] ?? ''}…(${chars.length} chars, unknown)`;
}

/** What a sign-in code looks like wherever it is stored or shown: the SMS table, logs, the live feed, the dashboard. */
export const CODE_MASK = '******';

/** The text with every run of 4 or more digits (a sign-in code) replaced by the mask; short numbers ("5分钟") stay. */
export function maskCodes(text: string): string {
  return text.replace(/\d{4,}/g, CODE_MASK);
}
