import avro from 'avsc';

export interface CompatibilityProblem {
  schema: string;
  reader: number;
  writer: number;
  message: string;
}

/**
 * Backward compatibility: every version must be able to read data written by every earlier
 * version (a consumer upgraded first still reads what old producers wrote).
 */
export function checkBackwardCompatibility(table: Record<string, readonly object[]>): CompatibilityProblem[] {
  const problems: CompatibilityProblem[] = [];
  for (const [name, versions] of Object.entries(table)) {
    const types = versions.map((s, i) => {
      try {
        return avro.Type.forSchema(s as avro.Schema, { wrapUnions: 'auto' });
      } catch (e) {
        problems.push({ schema: name, reader: i + 1, writer: i + 1, message: `invalid schema: ${(e as Error).message}` });
        return undefined;
      }
    });
    types.forEach((reader, r) => {
      if (!reader) return;
      for (let w = 0; w < r; w++) {
        const writer = types[w];
        if (!writer) continue;
        try {
          reader.createResolver(writer);
        } catch (e) {
          problems.push({ schema: name, reader: r + 1, writer: w + 1, message: (e as Error).message });
        }
      }
    });
  }
  return problems;
}
