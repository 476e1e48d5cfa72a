import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { newDataKey, recordAad, revealPersonalData, sealPersonalData, unwrapDataKey, wrapDataKey } from '../src/index.js';

const lifecycle = {
  eventId: 'ev-1', kind: 'JOINER', personId: 'p-1',
  source: { system: 'workday', workerId: 'W-1', channel: 'API' },
  attributes: { givenName: 'Ada', familyName: 'Lovelace', email: 'ada@example.com', department: 'R&D', status: 'active', custom: { 'x:badge': '42' } },
};
const command = { commandId: 'c-1', personId: 'p-1', target: 'pg', accountName: 'ada_lovelace', attributes: { department: 'R&D', mail: 'ada@example.com' }, groups: ['staff'], state: 'ACTIVE' };

describe('attribute-level encryption of personal data', () => {
  const key = newDataKey();
  const aad = recordAad('hr.lifecycle', 0, '17');

  it('seals personal fields and keeps ids, kinds and entitlements readable', () => {
    const { json, sealed } = sealPersonalData(lifecycle, key, aad, 'LifecycleEvent');
    const text = JSON.stringify(json);
    for (const secret of ['Ada', 'Lovelace', 'ada@example.com', 'W-1', '42']) expect(text).not.toContain(secret);
    expect(json).toMatchObject({ eventId: 'ev-1', kind: 'JOINER', personId: 'p-1', attributes: { department: 'R&D', status: 'active' } });
    expect(sealed).toBe(5);
    const cmd = sealPersonalData(command, key, aad, 'ProvisioningCommand');
    expect(cmd.json).toMatchObject({ commandId: 'c-1', groups: ['staff'], state: 'ACTIVE', target: 'pg' });
    expect(JSON.stringify(cmd.json)).not.toContain('ada');
    expect(JSON.stringify(cmd.json)).not.toContain('R&D'); // target attribute values are all personal
  });

  it('reveals with the key, and yields nulls (shredded) without it or with another key', () => {
    const { json } = sealPersonalData(lifecycle, key, aad, 'LifecycleEvent');
    expect(revealPersonalData(json, key, aad)).toEqual({ json: lifecycle, shredded: false });
    const gone = revealPersonalData(json, null, aad);
    expect(gone.shredded).toBe(true);
    expect(gone.json).toMatchObject({ eventId: 'ev-1', attributes: { givenName: null, email: null, department: 'R&D' } });
    expect(revealPersonalData(json, newDataKey(), aad).shredded).toBe(true);
  });

  it('binds ciphertexts to their record: moved to another record they do not decrypt', () => {
    const { json } = sealPersonalData(lifecycle, key, aad, 'LifecycleEvent');
    expect(revealPersonalData(json, key, recordAad('hr.lifecycle', 0, '18')).shredded).toBe(true);
  });

  it('wraps data keys bound to person and key id', () => {
    const kek = newDataKey();
    const wrapped = wrapDataKey(kek, key, 'p-1', 'k-1');
    expect(unwrapDataKey(kek, wrapped, 'p-1', 'k-1').equals(key)).toBe(true);
    expect(() => unwrapDataKey(kek, wrapped, 'p-2', 'k-1')).toThrow();
  });

  it('property: seal then reveal is the identity for any JSON value', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        const value = { userName: v, nested: { email: v, other: v }, list: [{ cn: v }] };
        const normalized = JSON.parse(JSON.stringify(value)) as unknown;
        const sealed = sealPersonalData(normalized, key, aad, null);
        return JSON.stringify(revealPersonalData(sealed.json, key, aad).json) === JSON.stringify(normalized);
      }),
      { numRuns: 200 },
    );
  });
});
