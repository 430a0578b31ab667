// Finds where a JSON text first goes wrong, because Node 20's JSON.parse errors often give no position.

export interface TextPosition {
  line: number;
  column: number;
}

/** 1-based line and column of a character offset. */
export function positionOf(text: string, offset: number): TextPosition {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}

class JsonSyntax extends Error {
  constructor(
    readonly offset: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Scans `text` as strict JSON (RFC 8259) and returns the offset and a short reason for the first
 * error, or null when the text is valid. Used only after JSON.parse has already failed.
 */
export function locateJsonError(text: string): { offset: number; reason: string } | null {
  const scanner = new Scanner(text);
  try {
    scanner.ws();
    scanner.value();
    scanner.ws();
    if (scanner.i < text.length) scanner.fail('unexpected text after the end of the document');
    return null;
  } catch (err) {
    if (err instanceof JsonSyntax) return { offset: err.offset, reason: err.message };
    throw err;
  }
}

class Scanner {
  i = 0;
  constructor(private readonly s: string) {}

  fail(reason: string): never {
    throw new JsonSyntax(this.i, reason);
  }

  private describe(): string {
    return this.i >= this.s.length ? 'unexpected end of input' : `unexpected ${JSON.stringify(this.s[this.i])}`;
  }

  ws(): void {
    while (this.i < this.s.length && ' \t\n\r'.includes(this.s[this.i] ?? '')) this.i++;
  }

  value(): void {
    const c = this.s[this.i];
    if (c === '{') return this.object();
    if (c === '[') return this.array();
    if (c === '"') return this.string();
    if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) return this.number();
    for (const lit of ['true', 'false', 'null']) {
      if (this.s.startsWith(lit, this.i)) {
        this.i += lit.length;
        return;
      }
    }
    this.fail(`${this.describe()}, expected a value`);
  }

  private object(): void {
    this.i++;
    this.ws();
    if (this.s[this.i] === '}') {
      this.i++;
      return;
    }
    for (;;) {
      this.ws();
      if (this.s[this.i] !== '"') this.fail(`${this.describe()}, expected a property name in double quotes`);
      this.string();
      this.ws();
      if (this.s[this.i] !== ':') this.fail(`${this.describe()}, expected ':'`);
      this.i++;
      this.ws();
      this.value();
      this.ws();
      if (this.s[this.i] === ',') {
        this.i++;
        continue;
      }
      if (this.s[this.i] === '}') {
        this.i++;
        return;
      }
      this.fail(`${this.describe()}, expected ',' or '}'`);
    }
  }

  private array(): void {
    this.i++;
    this.ws();
    if (this.s[this.i] === ']') {
      this.i++;
      return;
    }
    for (;;) {
      this.ws();
      this.value();
      this.ws();
      if (this.s[this.i] === ',') {
        this.i++;
        continue;
      }
      if (this.s[this.i] === ']') {
        this.i++;
        return;
      }
      this.fail(`${this.describe()}, expected ',' or ']'`);
    }
  }

  private string(): void {
    this.i++;
    while (this.i < this.s.length) {
      const c = this.s.charCodeAt(this.i);
      if (c === 34) {
        this.i++;
        return;
      }
      if (c < 0x20) this.fail('control character in a string (a missing closing quote?)');
      if (c === 92) {
        const e = this.s[this.i + 1] ?? '';
        if ('"\\/bfnrt'.includes(e) && e !== '') this.i += 2;
        else if (e === 'u' && /^[0-9a-fA-F]{4}$/.test(this.s.slice(this.i + 2, this.i + 6))) this.i += 6;
        else this.fail('invalid escape in a string');
        continue;
      }
      this.i++;
    }
    this.fail('unterminated string');
  }

  private number(): void {
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(this.s.slice(this.i, this.i + 400));
    if (!m) this.fail('invalid number');
    this.i += m[0].length;
  }
}
