import { describe, expect, it } from '@jest/globals';
import { AvroCodec, ContractError, ContractErrorCode, SCHEMA_VERSIONS, avroCodec, crc64Avro, type LifecycleEvent } from '../src/index.js';

const joiner: LifecycleEvent = {
  eventId: '01a213f2-1223-74dc-8e92-93993e673755',
  kind: 'JOINER',
  stage: 'EFFECTIVE',
  personId: 'p-1',
  effectiveAt: 1_764_000_000_000,
  recordedAt: 1_764_000_000_500,
  source: { system: 'workday', workerId: 'W1', sequence: 7, sourceTimestamp: null, batchId: null, channel: 'API' },
  attributes: { ...emptyAttributes(), custom: { 'urn:x:badge': '42' }, department: 'R&D' } as unknown as LifecycleEvent['attributes'],
  changedAttributes: ['department'],
  previousAttributes: null,
  reason: 'hr-change',
  timeZone: 'Europe/Berlin',
};

function emptyAttributes(): Record<string, null> {
  const record = (SCHEMA_VERSIONS.LifecycleEvent.at(-1) as { fields: { name: string; type: { fields?: { name: string }[] } }[] }).fields.find((f) => f.name === 'attributes')!;
  return Object.fromEntries(record.type.fields!.filter((f) => f.name !== 'custom').map((f) => [f.name, null]));
}

describe('CRC-64-AVRO', () => {
  it('matches the Avro specification test vector for "null"', () => {
    expect(crc64Avro(Buffer.from('"null"'))).toBe(7195948357588979594n);
  });
});

describe('AvroCodec', () => {
  const codec = avroCodec();

  it('round-trips with the single-object header (C3 01 + fingerprint)', () => {
    const bytes = codec.encode('LifecycleEvent', joiner);
    expect(bytes.subarray(0, 2)).toEqual(Buffer.from([0xc3, 0x01]));
    expect(bytes.subarray(2, 10).toString('hex')).toBe(codec.fingerprintOf('LifecycleEvent'));
    expect(codec.decode('LifecycleEvent', bytes)).toEqual(joiner);
    expect(codec.decodeAny(bytes)).toMatchObject({ schema: 'LifecycleEvent', writerVersion: SCHEMA_VERSIONS.LifecycleEvent.length });
  });

  it('names the invalid field when a value does not match', () => {
    expect(() => codec.encode('LifecycleEvent', { ...joiner, kind: 'PROMOTION' as never })).toThrow(/invalid kind/);
  });

  it('rejects bytes that are not single-object encoded, or of an unknown schema', () => {
    expect(() => codec.decodeAny(Buffer.from('{"json":true}'))).toThrow(expect.objectContaining({ code: ContractErrorCode.BadHeader }));
    const unknown = Buffer.concat([Buffer.from([0xc3, 0x01]), Buffer.alloc(8, 7), Buffer.from([0])]);
    expect(() => codec.decodeAny(unknown)).toThrow(expect.objectContaining({ code: ContractErrorCode.UnknownSchema }));
  });

  it('refuses to decode a record as the wrong schema', () => {
    const bytes = codec.encode('LifecycleEvent', joiner);
    const err = (() => {
      try {
        codec.decode('ProvisioningCommand', bytes);
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(ContractError);
    expect((err as ContractError).retriable).toBe(false);
  });

  it('resolves an older writer version into the current reader', () => {
    const v1 = { type: 'record', name: 'Thing', namespace: 't', fields: [{ name: 'id', type: 'string' }, { name: 'color', type: { type: 'enum', name: 'Color', symbols: ['RED', 'BLUE'] } }] };
    const v2 = {
      type: 'record',
      name: 'Thing',
      namespace: 't',
      fields: [
        { name: 'id', type: 'string' },
        { name: 'color', type: { type: 'enum', name: 'Color', symbols: ['RED', 'BLUE', 'GREEN'] } },
        { name: 'size', type: ['null', 'int'], default: null },
      ],
    };
    const oldWriter = new AvroCodec({ Thing: [v1] } as never);
    const newReader = new AvroCodec({ Thing: [v1, v2] } as never);
    const bytes = oldWriter.encode('Thing' as never, { id: 'x', color: 'BLUE' } as never);
    expect(newReader.decodeAny(bytes)).toEqual({ schema: 'Thing', writerVersion: 1, fingerprint: expect.any(String), value: { id: 'x', color: 'BLUE', size: null } });
  });
  it('reads a ProvisioningCommand written with v1 (no cause.decisionId) as v2 with decisionId null', () => {
    const command = {
      commandId: 'c-1', personId: 'p-1', target: 'pg', targetKind: 'postgres', version: 1, state: 'ACTIVE', accountName: 'ada', attributes: {}, groups: ['staff'],
      cause: { lifecycleEventId: 'e-1', lifecycleKind: 'JOINER', policyVersion: 1, reason: 'lifecycle' }, hrEffectiveAt: null, issuedAt: 1,
    };
    const v1Writer = new AvroCodec({ ...SCHEMA_VERSIONS, ProvisioningCommand: SCHEMA_VERSIONS.ProvisioningCommand.slice(0, 1) });
    const bytes = v1Writer.encode('ProvisioningCommand', command as never);
    expect(codec.decodeAny(bytes)).toMatchObject({ schema: 'ProvisioningCommand', writerVersion: 1, value: { ...command, cause: { ...command.cause, decisionId: null } } });
    expect(codec.decodeAny(codec.encode('ProvisioningCommand', { ...command, cause: { ...command.cause, decisionId: 'd-1' } } as never))).toMatchObject({ writerVersion: 2, value: { cause: { decisionId: 'd-1' } } });
  });
});
