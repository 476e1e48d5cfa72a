import { describe, expect, it } from '@jest/globals';
import { Ber, BerReader, BerWriter } from 'ldapts';
import { PostReadControl } from '../src/ldap/post-read.js';

/** The Post-Read control's wire format (RFC 4527), as slapd reads and answers it. */
describe('PostReadControl', () => {
  it('asks for the attribute selection, not critical, under the OID 1.3.6.1.1.13.2', () => {
    const w = new BerWriter();
    new PostReadControl(['*', 'entryUUID'], []).write(w);
    const r = new BerReader(w.buffer);
    r.readSequence();
    expect(r.readString()).toBe('1.3.6.1.1.13.2');
    expect(r.readBoolean()).toBe(false);
    const value = new BerReader(r.readString(Ber.OctetString, true)!);
    value.readSequence();
    expect([value.readString(), value.readString()]).toEqual(['*', 'entryUUID']);
  });

  it('reads the entry of the response (SearchResultEntry) into `entry`; without an answer it stays undefined', () => {
    const w = new BerWriter();
    w.startSequence(0x64);
    w.writeString('uid=a,ou=people,dc=example,dc=org');
    w.startSequence();
    for (const [type, values] of [['uid', ['a']], ['entryUUID', ['0b6d2f5c-1a2b-4c3d-9e8f-001122334455']], ['objectClass', ['top', 'inetOrgPerson']]] as const) {
      w.startSequence();
      w.writeString(type);
      w.startSequence(0x31);
      for (const v of values) w.writeString(v);
      w.endSequence();
      w.endSequence();
    }
    w.endSequence();
    w.endSequence();
    const control = new PostReadControl(['*', 'entryUUID'], []);
    expect(control.entry).toBeUndefined();
    control.parse(new BerReader(w.buffer));
    expect(control.entry).toMatchObject({ dn: 'uid=a,ou=people,dc=example,dc=org', uid: 'a', entryUUID: '0b6d2f5c-1a2b-4c3d-9e8f-001122334455', objectClass: ['top', 'inetOrgPerson'] });
  });
});
