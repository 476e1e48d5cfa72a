import { describe, expect, it } from '@jest/globals';
import { parseScimFilter } from '@provisio/hr-ingest-scim';
import { filterToSql } from '../src/scim/scim-filter.sql.js';

function sql(filter: string) {
  const params: unknown[] = [];
  return { where: filterToSql(parseScimFilter(filter), params), params };
}

describe('SCIM filter → SQL', () => {
  it('binds every value as a parameter and lower-cases case-insensitive attributes', () => {
    expect(sql('userName eq "Ada@Example.com"')).toEqual({ where: "(lower((p.attributes->>'userName')) = lower($1::text))", params: ['Ada@Example.com'] });
    expect(sql('externalId eq "W-1"')).toEqual({ where: '(p.worker_id = $1::text)', params: ['W-1'] });
    const injected = sql(`displayName co "x') OR 1=1 --"`);
    expect(injected.where).not.toContain('1=1');
    expect(injected.params).toEqual(["x') OR 1=1 --"]);
  });

  it('combines and, or, not, presence, booleans, dates and constants of value paths', () => {
    const r = sql('(title pr or active eq false) and not (meta.lastModified gt "2025-01-01T00:00:00Z") and emails[type eq "home"]');
    expect(r.where).toBe(
      "((((p.attributes->>'jobTitle') IS NOT NULL AND (p.attributes->>'jobTitle') <> '') OR ((p.phase <> 'terminated') = $1::boolean)) AND (NOT coalesce((p.updated_at > $2::timestamptz), false)) AND FALSE)",
    );
    expect(r.params).toEqual([false, '2025-01-01T00:00:00Z']);
    expect(sql('manager eq null').where).toBe("((p.attributes->>'managerPersonId') IS NULL)");
    expect(sql('department sw "R&"').where).toBe("(starts_with(lower((p.attributes->>'department')), lower($1::text)))");
  });
});
