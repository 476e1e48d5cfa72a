import { describe, expect, it } from '@jest/globals';
import { jsonErrorPosition, malformedJson } from '../src/http/api-errors.js';

function parseError(text: string): Error {
  try {
    JSON.parse(text);
  } catch (e) {
    return e as Error;
  }
  throw new Error(`valid: ${text}`);
}

describe('malformed JSON reports', () => {
  it('finds where a text stops being JSON, as JSON.parse does where it says', () => {
    const samples = ['{"a":1,}', '{"a" 1}', '[1 2]', '{"a": "x\\q"}', '{"a": 01}', '{"a": [true, fals]}', '{"a": "\\u12G4"}', '{} x', '{"a": -}', '{"s": "a\nb"}'];
    for (const t of samples) {
      const m = /at position (\d+)/.exec(parseError(t).message);
      if (m) expect({ t, at: jsonErrorPosition(t) }).toEqual({ t, at: Number(m[1]) });
    }
    expect(jsonErrorPosition('{"attributes": {"status": active}}')).toBe(26);
    expect(jsonErrorPosition('{"attributes":')).toBe(14);
    expect(jsonErrorPosition('')).toBe(0);
    expect(jsonErrorPosition('{"ok": [1, 2.5e3, null, "\\u00e9"]}')).toBeUndefined();
  });

  it('answers MALFORMED_JSON naming the body, rule json, position, line and column', () => {
    const text = '{\n  "attributes": {\n    "status": active\n  }\n}';
    const body = malformedJson(parseError(text), text).getResponse() as { code: string; message: string; details: { field: string; rule: string; position: number }[] };
    expect(body).toMatchObject({ code: 'MALFORMED_JSON', details: [{ field: 'body', rule: 'json', position: 34 }] });
    expect(body.message).toContain('at position 34 (line 3 column 15)');
  });
});
