import avro from 'avsc';
import { ContractError, ContractErrorCode } from './contract-error.js';
import { fingerprintBytes } from './fingerprint.js';
import { SCHEMA_VERSIONS, type SchemaName, type SchemaTypeMap } from './generated/schemas.js';

/** Avro single-object encoding: marker C3 01, 8-byte little-endian CRC-64-AVRO, binary body. */
const MAGIC = Buffer.from([0xc3, 0x01]);
const HEADER_LENGTH = 10;

interface WriterEntry {
  name: SchemaName;
  version: number;
  type: avro.Type;
  fingerprint: string;
}

export interface DecodedAny {
  schema: SchemaName;
  /** Writer schema version the bytes were written with. */
  writerVersion: number;
  fingerprint: string;
  value: unknown;
}

/**
 * Encodes with the latest version of a schema and decodes bytes written with any version this
 * build knows, resolving the writer schema into the reader (latest) schema.
 */
export class AvroCodec {
  private readonly readers = new Map<SchemaName, WriterEntry>();
  private readonly writers = new Map<string, WriterEntry>();
  private readonly resolvers = new Map<string, avro.Resolver>();
  private readonly versionFingerprints = new Map<string, string>();

  constructor(table: Record<SchemaName, readonly object[]> = SCHEMA_VERSIONS) {
    for (const [name, versions] of Object.entries(table) as [SchemaName, readonly object[]][]) {
      versions.forEach((schema, i) => {
        const type = avro.Type.forSchema(schema as avro.Schema, { wrapUnions: 'auto' });
        const fp = fingerprintBytes(JSON.stringify(type.schema())).toString('hex');
        const entry: WriterEntry = { name, version: i + 1, type, fingerprint: fp };
        this.versionFingerprints.set(`${name}@${i + 1}`, fp);
        // Identical canonical forms across versions (e.g. only docs changed) share a fingerprint.
        if (!this.writers.has(fp)) this.writers.set(fp, entry);
        if (i === versions.length - 1) this.readers.set(name, entry);
      });
    }
  }

  /** Hex fingerprint of one version (1-based) of a schema. */
  fingerprintOfVersion(name: SchemaName, version: number): string | undefined {
    return this.versionFingerprints.get(`${name}@${version}`);
  }

  /** Hex fingerprint of the latest version of a schema. */
  fingerprintOf(name: SchemaName): string {
    return this.reader(name).fingerprint;
  }

  encode<N extends SchemaName>(name: N, value: SchemaTypeMap[N]): Buffer {
    const reader = this.reader(name);
    const errors: string[] = [];
    if (!reader.type.isValid(value, { errorHook: (path, v) => errors.push(`${path.join('.') || '(root)'}=${describe(v)}`) })) {
      throw new ContractError(ContractErrorCode.InvalidValue, `value does not match ${name}: invalid ${errors.join(', ')}`);
    }
    return Buffer.concat([MAGIC, Buffer.from(reader.fingerprint, 'hex'), reader.type.toBuffer(value)]);
  }

  decode<N extends SchemaName>(name: N, bytes: Buffer): SchemaTypeMap[N] {
    const decoded = this.decodeAny(bytes);
    if (decoded.schema !== name) {
      throw new ContractError(ContractErrorCode.SchemaMismatch, `expected ${name} but the record was written as ${decoded.schema}`);
    }
    return decoded.value as SchemaTypeMap[N];
  }

  decodeAny(bytes: Buffer): DecodedAny {
    if (bytes.length < HEADER_LENGTH || bytes[0] !== MAGIC[0] || bytes[1] !== MAGIC[1]) {
      throw new ContractError(ContractErrorCode.BadHeader, 'not Avro single-object encoding (missing C3 01 marker)');
    }
    const fp = bytes.subarray(2, HEADER_LENGTH).toString('hex');
    const writer = this.writers.get(fp);
    if (!writer) throw new ContractError(ContractErrorCode.UnknownSchema, `unknown writer schema fingerprint ${fp}`);
    const reader = this.reader(writer.name);
    const body = bytes.subarray(HEADER_LENGTH);
    try {
      const value =
        writer.fingerprint === reader.fingerprint ? reader.type.fromBuffer(body) : reader.type.fromBuffer(body, this.resolver(writer, reader));
      return { schema: writer.name, writerVersion: writer.version, fingerprint: fp, value };
    } catch (e) {
      if (e instanceof ContractError) throw e;
      throw new ContractError(ContractErrorCode.InvalidValue, `cannot decode ${writer.name} v${writer.version}: ${(e as Error).message}`);
    }
  }

  private reader(name: SchemaName): WriterEntry {
    const r = this.readers.get(name);
    if (!r) throw new ContractError(ContractErrorCode.UnknownSchema, `unknown schema ${name}`);
    return r;
  }

  private resolver(writer: WriterEntry, reader: WriterEntry): avro.Resolver {
    let r = this.resolvers.get(writer.fingerprint);
    if (!r) {
      try {
        r = reader.type.createResolver(writer.type);
      } catch (e) {
        throw new ContractError(ContractErrorCode.Incompatible, `${writer.name} v${writer.version} cannot be read as v${reader.version}: ${(e as Error).message}`);
      }
      this.resolvers.set(writer.fingerprint, r);
    }
    return r;
  }
}

function describe(v: unknown): string {
  if (v === undefined) return 'missing';
  if (v === null) return 'null';
  return typeof v;
}

let shared: AvroCodec | undefined;
/** The process-wide codec for the schemas compiled into this build. */
export function avroCodec(): AvroCodec {
  shared ??= new AvroCodec();
  return shared;
}
