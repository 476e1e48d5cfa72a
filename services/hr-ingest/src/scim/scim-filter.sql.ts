import type { FilterField, ResolvedFilter } from '@provisio/hr-ingest-scim';

/** The SQL expression of a filterable field over hr-ingest's persons table (alias p). */
function expressionOf(f: FilterField): string {
  switch (f.name) {
    case 'id':
      return 'p.person_id::text';
    case 'externalId':
      return 'p.worker_id';
    case 'active':
      return "(p.phase <> 'terminated')";
    case 'created':
      return 'p.created_at';
    case 'lastModified':
      return 'p.updated_at';
    case 'onLeave':
      return "coalesce((p.attributes->>'onLeave')::boolean, false)";
    case 'status':
      // As rendered: the lifecycle phase, with leave for active people on leave.
      return "(CASE WHEN p.phase <> 'active' THEN p.phase WHEN p.attributes->>'status' = 'leave' OR p.attributes->>'onLeave' = 'true' THEN 'leave' ELSE 'active' END)";
    default:
      if (!/^[A-Za-z]+$/.test(f.name)) throw new Error(`unexpected filter field ${f.name}`);
      return `(p.attributes->>'${f.name}')`;
  }
}

/**
 * A resolved SCIM filter as a parameterised SQL condition. Values are always bound parameters;
 * string comparisons follow the attribute's caseExact (lower() on both sides when false).
 */
export function filterToSql(f: ResolvedFilter, params: unknown[]): string {
  switch (f.op) {
    case 'and':
    case 'or':
      return `(${f.filters.map((x) => filterToSql(x, params)).join(f.op === 'and' ? ' AND ' : ' OR ')})`;
    case 'not':
      return `(NOT coalesce(${filterToSql(f.filter, params)}, false))`;
    case 'const':
      return f.value ? 'TRUE' : 'FALSE';
    case 'pr': {
      const e = expressionOf(f.field);
      return f.field.type === 'string' ? `(${e} IS NOT NULL AND ${e} <> '')` : `(${e} IS NOT NULL)`;
    }
    default: {
      const e = expressionOf(f.field);
      if (f.value === null) {
        if (f.op === 'eq') return `(${e} IS NULL)`;
        if (f.op === 'ne') return `(${e} IS NOT NULL)`;
        return 'FALSE';
      }
      params.push(f.field.type === 'string' ? String(f.value) : f.value);
      const n = `$${params.length}`;
      if (f.field.type === 'boolean') return f.op === 'eq' ? `(${e} = ${n}::boolean)` : `(${e} <> ${n}::boolean)`;
      if (f.field.type === 'dateTime') {
        const sqlOp = { eq: '=', ne: '<>', gt: '>', ge: '>=', lt: '<', le: '<=' }[f.op as 'eq'];
        return sqlOp ? `(${e} ${sqlOp} ${n}::timestamptz)` : 'FALSE';
      }
      const l = f.field.caseExact ? e : `lower(${e})`;
      const v = f.field.caseExact ? `${n}::text` : `lower(${n}::text)`;
      switch (f.op) {
        case 'eq':
          return `(${l} = ${v})`;
        case 'ne':
          return `(${l} IS DISTINCT FROM ${v})`;
        case 'co':
          return `(strpos(${l}, ${v}) > 0)`;
        case 'sw':
          return `(starts_with(${l}, ${v}))`;
        case 'ew':
          return `(right(${l}, length(${v})) = ${v})`;
        case 'gt':
          return `(${l} > ${v})`;
        case 'ge':
          return `(${l} >= ${v})`;
        case 'lt':
          return `(${l} < ${v})`;
        case 'le':
          return `(${l} <= ${v})`;
      }
    }
  }
}
