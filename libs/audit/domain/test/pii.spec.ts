import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { canonicalJson, decryptBytes, isPiiField, newDataKey, recordAad, revealHeader, revealPersonalData, sealHeaders, sealPersonalData, sealRecordPii, unwrapDataKey, wrapDataKey } from '../src/index.js';

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
    // Ciphertexts are random base64: a short secret may appear in one by chance, so look outside them.
    const text = JSON.stringify(json).replace(/\{"\$pii":"[A-Za-z0-9+/=]*"\}/g, '{}');
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

describe('personal data sealed in one envelope per record', () => {
  const key = newDataKey();
  const aad = recordAad('hr.lifecycle', 0, '17');

  it('replaces personal fields by markers into one ciphertext and keeps the rest readable', () => {
    const { json, envelope, sealed } = sealRecordPii(lifecycle, key, aad, 'LifecycleEvent');
    expect(sealed).toBe(5);
    expect(envelope).not.toBeNull();
    const text = JSON.stringify(json);
    for (const secret of ['Ada', 'Lovelace', 'ada@example.com', 'W-1', '42']) expect(text).not.toContain(secret);
    // Random ciphertext bytes may hold a two-letter secret by chance: the longer ones must not be there.
    for (const secret of ['Lovelace', 'ada@example.com']) expect(envelope!.toString('latin1')).not.toContain(secret);
    expect(json).toMatchObject({ eventId: 'ev-1', source: { workerId: { $pii: 4 } }, attributes: { givenName: { $pii: 3 }, department: 'R&D' } });
    const cmd = sealRecordPii(command, key, aad, 'ProvisioningCommand');
    expect(cmd.json).toMatchObject({ commandId: 'c-1', groups: ['staff'], state: 'ACTIVE', target: 'pg', attributes: { department: { $pii: 1 } } });
    expect(sealRecordPii({ status: 'APPLIED', resultId: 'r-1' }, key, aad, 'ProvisioningResult')).toEqual({ json: { resultId: 'r-1', status: 'APPLIED' }, envelope: null, sealed: 0, canonical: '{"resultId":"r-1","status":"APPLIED"}' });
  });

  it('reveals with key and envelope; without the key, with another record\'s envelope or a moved marker, fields are null', () => {
    const { json, envelope } = sealRecordPii(lifecycle, key, aad, 'LifecycleEvent');
    expect(revealPersonalData(json, key, aad, envelope)).toEqual({ json: lifecycle, shredded: false });
    const gone = revealPersonalData(json, null, aad, envelope);
    expect(gone).toMatchObject({ shredded: true, json: { eventId: 'ev-1', attributes: { givenName: null, email: null, department: 'R&D' } } });
    expect(revealPersonalData(json, key, recordAad('hr.lifecycle', 0, '18'), envelope).shredded).toBe(true);
    // Markers swapped between fields: each entry names its path, so neither is revealed elsewhere.
    const swapped = JSON.parse(JSON.stringify(json)) as { attributes: Record<string, unknown> };
    [swapped.attributes['givenName'], swapped.attributes['familyName']] = [swapped.attributes['familyName'], swapped.attributes['givenName']];
    const r = revealPersonalData(swapped, key, aad, envelope);
    expect(r).toMatchObject({ shredded: true, json: { attributes: { givenName: null, familyName: null, email: 'ada@example.com' } } });
  });

  it('property: seal then reveal is the identity for any JSON value', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        const value = { userName: v, nested: { email: v, other: v }, list: [{ cn: v }], custom: { a: v } };
        const normalized = JSON.parse(JSON.stringify(value)) as unknown;
        const sealed = sealRecordPii(normalized, key, aad, null);
        if (sealed.canonical !== canonicalJson(sealed.json)) return false;
        return canonicalJson(revealPersonalData(JSON.parse(JSON.stringify(sealed.json)), key, aad, sealed.envelope).json) === canonicalJson(normalized);
      }),
      { numRuns: 200 },
    );
  });

  it('property: the markers, canonical text and envelope entries are those of the sorted-copy walk before member orders were remembered', () => {
    // The walk as it was: Object.keys(v).sort() per object, every member's path built.
    const previous = (json: unknown, schema: string | null) => {
      const entries: [string, unknown][] = [];
      const paths = schema === 'ProvisioningResult' ? new Set(['$.error.message']) : new Set<string>();
      const walk = (v: unknown, path: string, mapOfPii: boolean): unknown => {
        if (Array.isArray(v)) return v.map((x, i) => walk(x, `${path}[${i}]`, false));
        if (v === null || typeof v !== 'object') return v;
        const out: Record<string, unknown> = {};
        for (const k of Object.keys(v).sort()) {
          const x = (v as Record<string, unknown>)[k];
          const p = `${path}.${k}`;
          const lower = k.toLowerCase();
          let value: unknown;
          if (x !== null && (mapOfPii || isPiiField(k) || paths.has(p))) {
            value = { $pii: entries.length };
            entries.push([p, x]);
          } else if (x !== null && typeof x === 'object' && !Array.isArray(x) && (lower === 'custom' || (lower === 'attributes' && schema === 'ProvisioningCommand'))) value = walk(x, p, true);
          else value = walk(x, p, false);
          Object.defineProperty(out, k, { value, enumerable: true, writable: true, configurable: true });
        }
        return out;
      };
      const result = walk(json, '$', false);
      return { json: result, canonical: canonicalJson(result), entries };
    };
    const name = fc.constantFrom('a', 'mail', 'Email', 'cn', 'custom', 'attributes', 'error', 'message', '10', '2', 'id', '__proto__');
    const value = fc.letrec((tie) => ({
      node: fc.oneof({ depthSize: 'small' }, fc.string(), fc.integer(), fc.constant(null), fc.array(tie('node'), { maxLength: 3 }), fc.dictionary(name, tie('node'), { maxKeys: 5 })),
    })).node;
    fc.assert(
      fc.property(fc.array(value, { minLength: 1, maxLength: 6 }), fc.constantFrom(null, 'ProvisioningResult', 'ProvisioningCommand'), (values, schema) => {
        // Several values in a row: the later ones meet member orders the earlier ones left.
        for (const v of values) {
          const normalized = JSON.parse(JSON.stringify(v)) as unknown;
          const sealed = sealRecordPii(normalized, key, aad, schema);
          const expected = previous(normalized, schema);
          expect(sealed.json).toEqual(expected.json);
          expect(sealed.canonical).toBe(expected.canonical);
          const entries = sealed.envelope ? (JSON.parse(decryptBytes(key, sealed.envelope, `${aad}|envelope`).toString('utf8')) as unknown) : [];
          expect(entries).toEqual(JSON.parse(JSON.stringify(expected.entries)));
        }
      }),
      { numRuns: 300 },
    );
  });

  it("seals a failed result's error message (not elsewhere) and the dead-letter error header", () => {
    const key = newDataKey();
    const aad = recordAad('provisioning.results', 0, '3');
    const result = { resultId: 'r-1', status: 'FAILED', error: { code: 'LDAP_49', message: 'bind failed for cn=Ada', retriable: false } };
    const sealed = sealRecordPii(result, key, aad, 'ProvisioningResult');
    expect(sealed.json).toEqual({ resultId: 'r-1', status: 'FAILED', error: { code: 'LDAP_49', message: { $pii: 0 }, retriable: false } });
    expect(revealPersonalData(sealed.json, key, aad, sealed.envelope).json).toEqual(result);
    expect(revealPersonalData(sealed.json, null, aad, sealed.envelope)).toEqual({ json: { ...result, error: { ...result.error, message: null } }, shredded: true });
    // Only that schema's path: another schema's `error.message` is not personal by name.
    expect(sealRecordPii(result, key, aad, 'PolicyViolation').envelope).toBeNull();

    const headers = { ce_id: 'x', 'dlt-error-code': 'E', 'dlt-error-message': 'uid=ada violates objectClass' };
    const stored = sealHeaders(headers, key, aad);
    expect(stored).toMatchObject({ ce_id: 'x', 'dlt-error-code': 'E' });
    expect(stored['dlt-error-message']).toMatch(/^\$pii:/);
    expect(stored['dlt-error-message']).not.toContain('ada');
    expect(revealHeader(stored, 'dlt-error-message', key, aad)).toBe('uid=ada violates objectClass');
    expect(revealHeader(stored, 'dlt-error-message', null, aad)).toBeNull();
    expect(revealHeader(stored, 'dlt-error-message', key, recordAad('provisioning.results', 0, '4'))).toBeNull();
    expect(revealHeader(headers, 'dlt-error-message', null, aad)).toBe('uid=ada violates objectClass');
  });
  it("seals a policy decision's account names and the HR values its scope steps read; rules, groups, expressions and fact names stay readable", () => {
    const key = newDataKey();
    const aad = recordAad('policy.decisions', 0, '9');
    const decision = {
      decisionId: 'd-1', personId: 'p-1', cause: { lifecycleEventId: 'ev-1', lifecycleKind: 'JOINER', reason: 'lifecycle', hrEffectiveAt: 1 }, policyVersion: 3, phase: 'ACTIVE', decidedAt: 2,
      grants: [{ kind: 'BIRTHRIGHT', rule: 'all', assignment: null, role: 'staff', path: ['staff'], until: null }], grantsOmitted: 0,
      expressions: [{ expression: "lower(concat(accountName, '@example.com'))", facts: ['accountName'] }],
      targets: [{
        target: 'dir', targetKind: 'ldap', commandId: 'c-1', version: 1, state: 'ACTIVE', accountName: 'ada.lovelace', inScope: true, entitled: true, reason: 'active and entitled', error: null, targetRemoved: false,
        scope: [{ depth: 0, op: 'all', attribute: null, expected: null, actual: null, result: true }, { depth: 1, op: 'endsWith', attribute: 'email', expected: '"@example.com"', actual: '"ada@example.com"', result: true }],
        scopeStepsOmitted: 0,
        accountGrantedBy: [0], accountSourcesOmitted: 0,
        groups: [{ group: 'staff', grantedBy: [0], sourcesOmitted: 0 }],
        attributes: [{ attribute: 'mail', expression: 0, uniqueNamespace: null }],
      }],
    };
    const sealed = sealRecordPii(decision, key, aad, 'PolicyDecision');
    expect(sealed.sealed).toBe(2);
    const text = JSON.stringify(sealed.json);
    for (const secret of ['ada.lovelace', 'ada@example.com']) expect(text).not.toContain(secret);
    expect(sealed.json).toMatchObject({ decisionId: 'd-1', targets: [{ commandId: 'c-1', scope: [{ op: 'all', actual: null }, { attribute: 'email', expected: '"@example.com"', actual: { $pii: 1 } }], accountName: { $pii: 0 }, groups: [{ group: 'staff' }], attributes: [{ attribute: 'mail', expression: 0 }] }], expressions: [{ expression: "lower(concat(accountName, '@example.com'))", facts: ['accountName'] }] });
    expect(revealPersonalData(JSON.parse(JSON.stringify(sealed.json)), key, aad, sealed.envelope)).toEqual({ json: decision, shredded: false });
    const gone = revealPersonalData(JSON.parse(JSON.stringify(sealed.json)), null, aad, sealed.envelope);
    expect(gone).toMatchObject({ shredded: true, json: { targets: [{ accountName: null, scope: [{}, { attribute: 'email', actual: null }], groups: [{ group: 'staff' }] }] } });
    // `actual` is personal in a decision only: elsewhere it is not a personal field by name.
    expect(sealRecordPii({ actual: 'x' }, key, aad, 'PolicyViolation').envelope).toBeNull();
  });
});
