import { ConnectorError, ConnectorErrorCode, type AttributeValue, type DesiredAccount } from '@provisio/connector-domain';
import type { ProvisioningCommand } from '@provisio/contracts';

const STATES = new Set(['ACTIVE', 'DISABLED', 'ABSENT']);

function invalid(field: string, value: unknown, rule: string): ConnectorError {
  const shown = typeof value === 'string' ? JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value) : JSON.stringify(value);
  return new ConnectorError(ConnectorErrorCode.InvalidCommand, `command field ${field} = ${shown ?? String(value)}: ${rule}`);
}

/** The same for fields whose values are personal (the account name, attribute values): their shape, never the value. */
function invalidPersonal(field: string, value: unknown, rule: string): ConnectorError {
  const shape = typeof value === 'string' ? `a string of ${value.length} characters` : Array.isArray(value) ? `a list of ${value.length}` : value === null ? 'null' : typeof value;
  return new ConnectorError(ConnectorErrorCode.InvalidCommand, `command field ${field} is ${shape}: ${rule}`);
}

/**
 * The desired state a command describes, read defensively: later command versions may add fields
 * (ignored here) and producers other than policy may send nonsense, which gets a permanent error
 * naming the field, the value and the rule (for the account name and attribute values their
 * shape instead of the value: those are personal).
 */
export function desiredFromCommand(c: ProvisioningCommand): DesiredAccount {
  const text = (field: keyof ProvisioningCommand, max: number, personal = false) => {
    const v = c[field];
    const refuse = personal ? invalidPersonal : invalid;
    if (typeof v !== 'string' || v.trim() === '') throw refuse(field, v, 'must be a non-empty string');
    if (v.length > max) throw refuse(field, v, `must be at most ${max} characters`);
    return v;
  };
  const personId = text('personId', 128);
  const target = text('target', 63);
  const accountName = text('accountName', 256, true);
  if (!Number.isSafeInteger(c.version) || c.version < 1) throw invalid('version', c.version, 'must be a positive integer');
  if (!STATES.has(c.state)) throw invalid('state', c.state, 'must be ACTIVE, DISABLED or ABSENT');
  const attributes: Record<string, AttributeValue> = {};
  for (const [name, value] of Object.entries(c.attributes ?? {})) {
    if (!/^[A-Za-z][A-Za-z0-9._:;\-[\]]{0,127}$/.test(name)) throw invalid(`attributes.${name}`, name, 'attribute names start with a letter (letters, digits, . _ - : ; [ ])');
    if (Array.isArray(value)) {
      if (!value.every((x) => typeof x === 'string')) throw invalidPersonal(`attributes.${name}`, value, 'lists hold strings only');
      attributes[name] = value;
    } else if (value === null || typeof value === 'string' || typeof value === 'boolean' || typeof value === 'number') {
      attributes[name] = value;
    } else throw invalidPersonal(`attributes.${name}`, value, 'must be a string, boolean, number, list of strings or null');
  }
  const groups = c.groups ?? [];
  groups.forEach((g, i) => {
    if (typeof g !== 'string' || g.trim() === '') throw invalid(`groups[${i}]`, g, 'must be a non-empty string');
  });
  return { personId, target, version: c.version, state: c.state, accountName, attributes, groups: [...new Set(groups)] };
}
