import { Ber, BerWriter, Control, SearchEntry, type BerReader, type Entry } from 'ldapts';

/**
 * The LDAP Post-Read control (RFC 4527): the server returns the entry as the operation left it
 * (e.g. its entryUUID) inside the operation's own response, so a new account needs no read-back
 * search. Not critical: a server without it (Active Directory) ignores it, `entry` stays
 * undefined and the caller reads the entry as before. One instance per request: ldapts parses
 * the response control into the request control it sent.
 */
export class PostReadControl extends Control {
  static readonly oid = '1.3.6.1.1.13.2';
  /** The entry after the operation, when the server answered the control. */
  entry: Entry | undefined;

  constructor(
    private readonly attributes: string[],
    private readonly explicitBufferAttributes: string[],
  ) {
    super(PostReadControl.oid, { critical: false });
  }

  /** controlValue: AttributeSelection ::= SEQUENCE OF LDAPString, as an OCTET STRING. */
  protected override writeControl(writer: BerWriter): void {
    const value = new BerWriter();
    value.startSequence();
    for (const a of this.attributes) value.writeString(a);
    value.endSequence();
    writer.writeBuffer(value.buffer, Ber.OctetString);
  }

  /** controlValue: SearchResultEntry ::= [APPLICATION 4] SEQUENCE { objectName, attributes }. */
  protected override parseControl(reader: BerReader): void {
    if (reader.readSequence(0x64) === null) return;
    const e = new SearchEntry({ messageId: 0 });
    e.parseMessage(reader);
    this.entry = e.toObject(this.attributes, this.explicitBufferAttributes);
  }
}
