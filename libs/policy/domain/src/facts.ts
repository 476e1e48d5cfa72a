import { SCHEMA_VERSIONS, type HrAttributes } from '@provisio/contracts';
import type { Value } from './expressions.js';

interface AvroField {
  name: string;
  type: unknown;
}

/** HR attribute names, read from the latest LifecycleEvent schema so new fields are known at once. */
export const HR_ATTRIBUTES: readonly string[] = (() => {
  const versions = SCHEMA_VERSIONS.LifecycleEvent;
  const latest = versions[versions.length - 1] as { fields: AvroField[] };
  const attrs = latest.fields.find((f) => f.name === 'attributes')?.type as { fields: AvroField[] } | undefined;
  return (attrs?.fields ?? []).map((f) => f.name).filter((n) => n !== 'custom');
})();

const HR_SET = new Set(HR_ATTRIBUTES);

/** Names a condition or expression may read: HR attributes, custom.<key>, personId. */
export function isKnownFact(name: string): boolean {
  return HR_SET.has(name) || name === 'personId' || (name.startsWith('custom.') && name.length > 7);
}

/** A reader of one fact, resolved once (conditions and expressions compile to these). */
export function factReader(name: string): (f: Facts) => Value {
  if (name === 'personId') return (f) => f.personId;
  if (name.startsWith('custom.')) {
    const key = name.slice(7);
    return (f) => f.attributes.custom?.[key] ?? null;
  }
  return (f) => {
    const v = (f.attributes as unknown as Record<string, unknown>)[name];
    return v === undefined ? null : (v as Value);
  };
}

/** Read access to one person's facts. */
export class Facts {
  constructor(
    readonly personId: string,
    readonly attributes: HrAttributes,
  ) {}

  get(name: string): Value {
    if (name === 'personId') return this.personId;
    if (name.startsWith('custom.')) return this.attributes.custom?.[name.slice(7)] ?? null;
    const v = (this.attributes as unknown as Record<string, unknown>)[name];
    return v === undefined ? null : (v as Value);
  }
}
