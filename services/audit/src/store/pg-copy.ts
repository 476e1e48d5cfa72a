import type { SqlClient } from '@provisio/persistence';

/**
 * `COPY ... FROM STDIN (FORMAT binary)` through node-postgres, without a stream library: the
 * rows are encoded here (PostgreSQL's binary COPY format) and sent as one CopyData sequence.
 * Binary COPY spares PostgreSQL the parsing of text or JSON parameters (timestamps, bytea,
 * arrays) that made the multi-row INSERT of the audit append the slow part.
 */
const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');
// Microseconds between the Unix epoch and PostgreSQL's (2000-01-01T00:00:00Z).
const PG_EPOCH_MS = 946_684_800_000;
const TWO_32 = 4_294_967_296;
const TEXT_OID = 25;
const SAFE_DECIMAL = /^-?\d{1,16}$/;
const CHUNK = 1 << 20;

/** Encodes rows in the binary COPY format; one `row()` per row, then one value call per column. */
export class BinaryCopyWriter {
  private buf: Buffer;
  private pos = 0;
  rows = 0;

  /** `reuse`: a buffer of an earlier writer whose data was sent (see `buffer`), used if large enough. */
  constructor(initialBytes = 1 << 20, reuse?: Buffer) {
    this.buf = reuse && reuse.length >= initialBytes ? reuse : Buffer.allocUnsafe(Math.max(initialBytes, 64));
    SIGNATURE.copy(this.buf, 0);
    this.buf.writeInt32BE(0, 11); // flags
    this.buf.writeInt32BE(0, 15); // header extension length
    this.pos = 19;
  }

  row(columns: number): this {
    this.ensure(2);
    this.buf.writeInt16BE(columns, this.pos);
    this.pos += 2;
    this.rows++;
    return this;
  }

  null(): this {
    this.ensure(4);
    this.buf.writeInt32BE(-1, this.pos);
    this.pos += 4;
    return this;
  }

  int4(v: number | null): this {
    if (v === null) return this.null();
    this.ensure(8);
    this.buf.writeInt32BE(4, this.pos);
    this.buf.writeInt32BE(v, this.pos + 4);
    this.pos += 8;
    return this;
  }

  /** bigint from a safe integer or a decimal string (Kafka offsets). */
  int8(v: number | string | null): this {
    if (v === null) return this.null();
    const n = typeof v === 'number' ? v : Number(v);
    // Beyond 2^53 (or not a plain decimal) BigInt is exact, or refuses the text.
    if (!Number.isSafeInteger(n) || (typeof v === 'string' && !SAFE_DECIMAL.test(v))) {
      this.ensure(12);
      this.buf.writeInt32BE(8, this.pos);
      this.buf.writeBigInt64BE(BigInt(v), this.pos + 4);
      this.pos += 12;
      return this;
    }
    const high = Math.floor(n / TWO_32);
    this.ensure(12);
    this.buf.writeInt32BE(8, this.pos);
    this.buf.writeInt32BE(high, this.pos + 4);
    this.buf.writeUInt32BE(n - high * TWO_32, this.pos + 8);
    this.pos += 12;
    return this;
  }

  /** timestamptz from epoch milliseconds. */
  timestamptz(ms: number | null): this {
    if (ms === null) return this.null();
    const us = (ms - PG_EPOCH_MS) * 1000;
    const high = Math.floor(us / TWO_32);
    this.ensure(12);
    this.buf.writeInt32BE(8, this.pos);
    this.buf.writeInt32BE(high, this.pos + 4);
    this.buf.writeUInt32BE(us - high * TWO_32, this.pos + 8);
    this.pos += 12;
    return this;
  }

  // Strings are written in one pass: room for the longest UTF-8 form (3 bytes per UTF-16 code
  // unit), then the length of what was written goes in front.
  text(v: string | null): this {
    if (v === null) return this.null();
    this.ensure(4 + 3 * v.length);
    const len = v.length === 0 ? 0 : this.buf.write(v, this.pos + 4, 'utf8');
    this.buf.writeInt32BE(len, this.pos);
    this.pos += 4 + len;
    return this;
  }

  /** jsonb: version 1 followed by the JSON text. */
  jsonb(text: string | null): this {
    if (text === null) return this.null();
    this.ensure(5 + 3 * text.length);
    this.buf[this.pos + 4] = 1;
    const len = text.length === 0 ? 0 : this.buf.write(text, this.pos + 5, 'utf8');
    this.buf.writeInt32BE(len + 1, this.pos);
    this.pos += 5 + len;
    return this;
  }

  bytea(v: Buffer | null): this {
    if (v === null) return this.null();
    this.ensure(4 + v.length);
    this.buf.writeInt32BE(v.length, this.pos);
    v.copy(this.buf, this.pos + 4);
    this.pos += 4 + v.length;
    return this;
  }

  /** uuid from its text form. */
  uuid(v: string | null): this {
    if (v === null) return this.null();
    const hex = v.replace(/-/g, '');
    if (!/^[0-9a-fA-F]{32}$/.test(hex)) throw new TypeError(`not a UUID: ${v}`);
    this.ensure(20);
    this.buf.writeInt32BE(16, this.pos);
    this.buf.write(hex, this.pos + 4, 16, 'hex');
    this.pos += 20;
    return this;
  }

  /** text[] (one dimension, no null elements). */
  textArray(values: string[]): this {
    const lens = values.map((v) => Buffer.byteLength(v, 'utf8'));
    const body = values.length === 0 ? 12 : 20 + lens.reduce((a, l) => a + 4 + l, 0);
    this.ensure(4 + body);
    let p = this.pos;
    this.buf.writeInt32BE(body, p);
    this.buf.writeInt32BE(values.length === 0 ? 0 : 1, p + 4); // dimensions
    this.buf.writeInt32BE(0, p + 8); // has nulls
    this.buf.writeInt32BE(TEXT_OID, p + 12);
    p += 16;
    if (values.length > 0) {
      this.buf.writeInt32BE(values.length, p);
      this.buf.writeInt32BE(1, p + 4); // lower bound
      p += 8;
      for (let i = 0; i < values.length; i++) {
        this.buf.writeInt32BE(lens[i]!, p);
        this.buf.write(values[i]!, p + 4, lens[i]!, 'utf8');
        p += 4 + lens[i]!;
      }
    }
    this.pos = p;
    return this;
  }

  /** The whole underlying buffer (to hand to the next writer once this one's data was sent). */
  get buffer(): Buffer {
    return this.buf;
  }

  /** The encoded data, trailer included. */
  finish(): Buffer {
    this.ensure(2);
    this.buf.writeInt16BE(-1, this.pos);
    this.pos += 2;
    return this.buf.subarray(0, this.pos);
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }
}

interface CopyStream {
  writable: boolean;
  write(data: Buffer): boolean;
  cork(): void;
  uncork(): void;
}

interface CopyConnection {
  query(text: string): void;
  sendCopyFromChunk(chunk: Buffer): void;
  endCopyFrom(): void;
  sendCopyFail(message: string): void;
  /** node-postgres's socket (a net or TLS socket). */
  stream?: CopyStream;
}

/** CopyData message code ('d'). */
const COPY_DATA = 0x64;

/** A node-postgres "submittable" that runs one COPY FROM STDIN with the given data. */
class CopyIn {
  callback: ((err: Error | null, rowCount?: number) => void) | undefined;
  private rowCount = 0;
  private failed: Error | undefined;

  constructor(
    readonly text: string,
    private readonly data: Buffer,
  ) {}

  submit(connection: CopyConnection): void {
    connection.query(this.text);
  }

  /**
   * Sends the data as CopyData messages written to the socket directly: a 5-byte header per
   * chunk and the chunk itself, in one corked write. node-postgres's `sendCopyFromChunk` would
   * copy every chunk into a new buffer of its own first. The data must therefore stay unchanged
   * until it is written; the writer's buffer is reused only after this transaction ended, and
   * PostgreSQL answers that only after it read everything sent before.
   */
  handleCopyInResponse(connection: CopyConnection): void {
    const stream = connection.stream;
    if (!stream || typeof stream.cork !== 'function') {
      for (let i = 0; i < this.data.length; i += CHUNK) connection.sendCopyFromChunk(this.data.subarray(i, Math.min(i + CHUNK, this.data.length)));
    } else if (stream.writable) {
      stream.cork();
      for (let i = 0; i < this.data.length; i += CHUNK) {
        const chunk = this.data.subarray(i, Math.min(i + CHUNK, this.data.length));
        const header = Buffer.allocUnsafe(5);
        header[0] = COPY_DATA;
        header.writeInt32BE(chunk.length + 4, 1);
        stream.write(header);
        stream.write(chunk);
      }
      stream.uncork();
    }
    connection.endCopyFrom();
  }

  handleCommandComplete(msg: { text?: string }): void {
    const m = /^COPY (\d+)/.exec(msg.text ?? '');
    this.rowCount = m ? Number(m[1]) : 0;
  }

  handleError(e: Error): void {
    // node-postgres forgets the active query after an error: report it now.
    this.failed = e;
    this.done();
  }

  handleReadyForQuery(): void {
    this.done();
  }

  // Not expected for COPY FROM; present because node-postgres may call them on any query.
  handleRowDescription(): void {}
  handleDataRow(): void {}
  handleEmptyQuery(): void {}
  handlePortalSuspended(): void {}
  handleCopyData(): void {}

  private done(): void {
    const cb = this.callback;
    this.callback = undefined;
    cb?.(this.failed ?? null, this.rowCount);
  }
}

/** Runs `COPY <target> FROM STDIN (FORMAT binary)` with the writer's rows; returns the row count. */
export function copyBinary(sql: SqlClient, target: string, writer: BinaryCopyWriter): Promise<number> {
  const data = writer.finish();
  return new Promise<number>((resolve, reject) => {
    const q = new CopyIn(`COPY ${target} FROM STDIN (FORMAT binary)`, data);
    q.callback = (err, n) => (err ? reject(err) : resolve(n ?? 0));
    (sql as unknown as { query(q: CopyIn): unknown }).query(q);
  });
}
