import { describe, expect, it } from '@jest/globals';
import { bindHeader, mapRow, parseCsvMapping, type BoundMapping } from '../src/index.js';

function bound(yaml: string, header: string[]): BoundMapping {
  const m = parseCsvMapping(yaml);
  if (!m.ok) throw new Error(JSON.stringify(m.errors));
  const b = bindHeader(m.value, header);
  if (!b.ok) throw new Error(JSON.stringify(b.errors));
  return b.value;
}

describe('mapRow: a rejected row still names the worker(s) it may belong to', () => {
  const idFirst = bound('columns: { workerId: ID, department: Dept, jobTitle: Title }', ['ID', 'Dept', 'Title']);
  const idLast = bound('columns: { department: Dept, jobTitle: Title, workerId: ID }', ['Dept', 'Title', 'ID']);

  it('a row with an extra cell (unquoted delimiter): the id column, or the cells it may have moved to', () => {
    expect(mapRow(idFirst, ['W1', 'R&D', ' Europe', 'Eng'], 's')).toMatchObject({ ok: false, workerId: 'W1', presentIds: ['W1'], errors: [{ rule: 'column-count' }] });
    // The split before the id moves it right: both readings count as present.
    expect(mapRow(idLast, ['R&D', ' Europe', 'Eng', 'W2'], 's')).toMatchObject({ ok: false, workerId: 'Eng', presentIds: ['Eng', 'W2'] });
  });

  it('a row with a cell missing: the id column and the cells it may have moved from', () => {
    expect(mapRow(idFirst, ['W3', 'Sales'], 's')).toMatchObject({ ok: false, workerId: 'W3', presentIds: ['W3'] });
    expect(mapRow(idLast, ['Sales', 'W4'], 's')).toMatchObject({ ok: false, workerId: 'W4', presentIds: ['W4'] });
  });

  it('an empty or invalid id cell cannot be read: presentIds is empty', () => {
    expect(mapRow(idFirst, ['', 'Sales', 'Eng'], 's')).toMatchObject({ ok: false, workerId: undefined, presentIds: [] });
    expect(mapRow(idFirst, ['W 5', 'Sales', 'Eng'], 's')).toMatchObject({ ok: false, workerId: 'W 5', presentIds: [] });
    expect(mapRow(idLast, ['R&D'], 's')).toMatchObject({ ok: false, presentIds: [] });
  });

  it('a row rejected for another reason keeps its certain id (no presentIds)', () => {
    const b = bound('columns: { workerId: ID, hireDate: Hire }', ['ID', 'Hire']);
    const r = mapRow(b, ['W6', '2025-02-30'], 's');
    expect(r).toMatchObject({ ok: false, workerId: 'W6' });
    expect(r).not.toHaveProperty('presentIds');
  });
});
