import type { OcsfComplianceFinding, OcsfEvent, SiemEvent } from './ocsf.js';

/** Optional SIEM formats derived from the OCSF event: ArcSight CEF and Elastic Common Schema. */
export type SiemFormat = 'ocsf' | 'cef' | 'ecs';

const CEF_SEVERITY: Record<number, number> = { 0: 0, 1: 1, 2: 3, 3: 5, 4: 7, 5: 9, 6: 10, 99: 5 };

function cefHeader(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/[\r\n]+/g, ' ');
}

function cefValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/=/g, '\\=').replace(/\r/g, '\\r').replace(/\n/g, '\\n');
}

/** One CEF:0 line (header fields escaped for `|` and `\`, extension values for `=`, `\` and newlines). */
export function toCef(e: OcsfEvent): string {
  const ext: [string, string | number | undefined][] = [
    ['rt', e.time],
    ['externalId', e.metadata.uid],
    ['cat', e.class_name],
    ['act', e.activity_name],
    ['outcome', e.status],
    ['duser', e.user.name],
    ['duid', e.user.uid],
    ['destinationServiceName', e.actor.app_uid],
    ['deviceProcessName', e.actor.app_name],
    ['msg', e.message],
    ['cs1Label', 'traceId'],
    ['cs1', e.metadata.correlation_uid],
    ['cs2Label', 'entitlement'],
    ['cs2', e.group?.name ?? e.privileges?.[0]],
    ['cs3Label', 'personId'],
    ['cs3', e.user.uid_alt],
    ['cs4Label', 'statusCode'],
    ['cs4', e.status_code],
  ];
  return cefLine(e, ext);
}

const ECS_TYPES: Record<string, string[]> = {
  '3001:1': ['user', 'creation'],
  '3001:2': ['user', 'change'],
  '3001:5': ['user', 'change'],
  '3001:6': ['user', 'deletion'],
  '3001:99': ['user', 'change'],
  '3005:1': ['user', 'change'],
  '3005:2': ['user', 'change'],
  '3006:3': ['group', 'change'],
  '3006:4': ['group', 'change'],
};

/** An Elastic Common Schema document (ECS 8.x field names). */
export function toEcs(e: OcsfEvent): Record<string, unknown> {
  const provisio = (e.unmapped['provisio'] ?? {}) as Record<string, unknown>;
  const group = e.group?.name ?? e.privileges?.[0];
  return {
    '@timestamp': new Date(e.time).toISOString(),
    ecs: { version: '8.11.0' },
    message: e.message,
    event: {
      kind: 'event',
      category: ['iam'],
      type: ECS_TYPES[`${e.class_uid}:${e.activity_id}`] ?? ['info'],
      action: e.activity_name.toLowerCase().replace(/\s+/g, '-'),
      outcome: e.status_id === 1 ? 'success' : e.status_id === 2 ? 'failure' : 'unknown',
      id: e.metadata.uid,
      created: new Date(e.metadata.logged_time).toISOString(),
      dataset: 'provisio.audit',
      provider: e.actor.app_name,
      ...(e.status_code ? { reason: e.status_code } : {}),
    },
    user: {
      target: {
        id: e.user.uid,
        ...(e.user.name ? { name: e.user.name } : {}),
        ...(group ? { group: { name: group } } : {}),
      },
    },
    ...(group ? { group: { name: group, domain: e.actor.app_uid } } : {}),
    ...(e.metadata.correlation_uid ? { trace: { id: e.metadata.correlation_uid } } : {}),
    service: { name: e.actor.app_name },
    related: { user: [e.user.uid, ...(e.user.name ? [e.user.name] : [])] },
    labels: { provisio_person_id: e.user.uid_alt, provisio_target: e.actor.app_uid, provisio_audit_position: String(provisio['audit_position'] ?? '') },
  };
}

function cefLine(e: SiemEvent, ext: [string, string | number | undefined][]): string {
  const pairs: string[] = [];
  for (let i = 0; i < ext.length; i++) {
    const [k, v] = ext[i]!;
    // A label without its value says nothing.
    const labelled = k.endsWith('Label') ? ext[i + 1]?.[1] : v;
    if (v === undefined || v === '' || labelled === undefined || labelled === '') {
      if (k.endsWith('Label')) i++;
      continue;
    }
    pairs.push(`${k}=${cefValue(String(v))}`);
  }
  const header = ['CEF:0', 'Provisio', 'Provisio', e.metadata.product.version, String(e.type_uid), e.type_name, String(CEF_SEVERITY[e.severity_id] ?? 5)].map((h, i) => (i === 0 ? h : cefHeader(h)));
  return `${header.join('|')}|${pairs.join(' ')}`;
}

/** A compliance finding (policy violation) as a CEF:0 line. */
export function toCefFinding(e: OcsfComplianceFinding): string {
  const p = (e.unmapped['provisio'] ?? {}) as Record<string, unknown>;
  return cefLine(e, [
    ['rt', e.time],
    ['externalId', e.metadata.uid],
    ['cat', e.class_name],
    ['act', e.activity_name],
    ['outcome', e.compliance.status],
    ['msg', e.message],
    ['cs1Label', 'traceId'],
    ['cs1', e.metadata.correlation_uid],
    ['cs2Label', 'rule'],
    ['cs2', e.compliance.control],
    ['cs3Label', 'personId'],
    ['cs3', typeof p['person_id'] === 'string' ? p['person_id'] : undefined],
    ['cs4Label', 'findingId'],
    ['cs4', e.finding_info.uid],
  ]);
}

/** A compliance finding as an Elastic Common Schema document (an alert on a rule). */
export function toEcsFinding(e: OcsfComplianceFinding): Record<string, unknown> {
  const p = (e.unmapped['provisio'] ?? {}) as Record<string, unknown>;
  return {
    '@timestamp': new Date(e.time).toISOString(),
    ecs: { version: '8.11.0' },
    message: e.message,
    event: {
      kind: 'alert',
      category: ['iam'],
      type: ['info'],
      action: `compliance-finding-${e.activity_name.toLowerCase()}`,
      outcome: e.compliance.status_id === 1 ? 'success' : 'failure',
      id: e.metadata.uid,
      created: new Date(e.metadata.logged_time).toISOString(),
      dataset: 'provisio.audit',
      provider: 'provisio policy',
      reason: e.compliance.status_detail,
    },
    rule: { id: e.compliance.control, name: e.finding_info.title, ruleset: e.compliance.standards[0] },
    ...(e.metadata.correlation_uid ? { trace: { id: e.metadata.correlation_uid } } : {}),
    labels: { provisio_person_id: String(p['person_id'] ?? ''), provisio_finding_id: e.finding_info.uid, provisio_audit_position: String(p['audit_position'] ?? '') },
  };
}

export function formatSiemEvent(e: SiemEvent, format: SiemFormat): string {
  if (e.class_uid === 2003) {
    if (format === 'cef') return toCefFinding(e);
    return JSON.stringify(format === 'ecs' ? toEcsFinding(e) : e);
  }
  switch (format) {
    case 'ocsf':
      return JSON.stringify(e);
    case 'cef':
      return toCef(e);
    case 'ecs':
      return JSON.stringify(toEcs(e));
  }
}
