import { describe, expect, it } from '@jest/globals';
import { AvroCodec, SCHEMA_VERSIONS, checkBackwardCompatibility, type SchemaName } from '../src/index.js';

const base = { type: 'record', name: 'R', fields: [{ name: 'a', type: 'string' }, { name: 'e', type: { type: 'enum', name: 'E', symbols: ['X', 'Y'] } }] };

describe('schema compatibility check', () => {
  it('every schema in schemas/ reads every earlier version of itself', () => {
    expect(checkBackwardCompatibility(SCHEMA_VERSIONS)).toEqual([]);
    expect(Object.keys(SCHEMA_VERSIONS)).toEqual(expect.arrayContaining(['LifecycleEvent', 'ProvisioningCommand', 'ProvisioningResult', 'AuditRecord']));
  });

  it('fails on a new field without a default', () => {
    const v2 = { ...base, fields: [...base.fields, { name: 'b', type: 'string' }] };
    expect(checkBackwardCompatibility({ R: [base, v2] })).toEqual([expect.objectContaining({ schema: 'R', reader: 2, writer: 1, message: expect.stringMatching(/R\.b/) })]);
  });

  it('fails on a removed enum symbol', () => {
    const v2 = { ...base, fields: [base.fields[0], { name: 'e', type: { type: 'enum', name: 'E', symbols: ['X'] } }] };
    expect(checkBackwardCompatibility({ R: [base, v2] })).toHaveLength(1);
  });

  it('fails on a changed field type, and checks every earlier version, not only the previous one', () => {
    const v2 = { ...base, fields: [...base.fields, { name: 'b', type: 'string', default: '' }] };
    const v3 = { ...base, fields: [{ name: 'a', type: 'int' }, base.fields[1], { name: 'b', type: 'string', default: '' }] };
    const problems = checkBackwardCompatibility({ R: [base, v2, v3] });
    expect(problems.map((p) => `${p.reader}<-${p.writer}`)).toEqual(['3<-1', '3<-2']);
  });

  it('accepts added optional fields and added enum symbols', () => {
    const v2 = { ...base, fields: [base.fields[0], { name: 'e', type: { type: 'enum', name: 'E', symbols: ['X', 'Y', 'Z'] } }, { name: 'c', type: ['null', 'long'], default: null }] };
    expect(checkBackwardCompatibility({ R: [base, v2] })).toEqual([]);
  });
});

describe('released schema versions', () => {
  it('are immutable: every version is recorded in schemas/fingerprints.json with its canonical fingerprint', async () => {
    const { readFile } = await import('node:fs/promises');
    const locked = JSON.parse(await readFile(new URL('../../../../schemas/fingerprints.json', import.meta.url), 'utf8')) as Record<string, Record<string, string>>;
    const codec = new AvroCodec();
    for (const [name, versions] of Object.entries(SCHEMA_VERSIONS)) {
      versions.forEach((_schema, i) => {
        const version = `v${i + 1}`;
        const recorded = locked[name]?.[version];
        // A new version: record it with `npm run schemas:lock`. A changed one: revert it and add v<N+1>.
        expect({ schema: `${name} ${version}`, fingerprint: codec.fingerprintOfVersion(name as SchemaName, i + 1) }).toEqual({ schema: `${name} ${version}`, fingerprint: recorded });
      });
    }
  });
});
