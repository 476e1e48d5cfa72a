import { describe, expect, it } from '@jest/globals';
import type { ProvisioningCommand } from '@provisio/contracts';
import { ConnectorError, desiredFromCommand } from '../src/index.js';

const command = (over: Record<string, unknown>): ProvisioningCommand =>
  ({ personId: 'p-1', target: 't1', version: 1, state: 'ACTIVE', accountName: 'ada.lovelace', attributes: {}, groups: [], ...over }) as unknown as ProvisioningCommand;

function refusal(c: ProvisioningCommand): ConnectorError {
  try {
    desiredFromCommand(c);
  } catch (e) {
    return e as ConnectorError;
  }
  throw new Error('expected a refusal');
}

describe('desiredFromCommand: refusals name the field and the rule, not personal values', () => {
  it('an account name that is too long: its length, never the name', () => {
    const name = `ada.lovelace.${'x'.repeat(300)}`;
    const e = refusal(command({ accountName: name }));
    expect(e).toMatchObject({ code: 'INVALID_COMMAND', retriable: false });
    expect(e.message).toBe(`command field accountName is a string of ${name.length} characters: must be at most 256 characters`);
    expect(e.message).not.toContain('ada.lovelace');
  });

  it('attribute values of the wrong type: the attribute and the shape, never the values', () => {
    const list = refusal(command({ attributes: { mail: ['ada@example.org', 42] } }));
    expect(list.message).toBe('command field attributes.mail is a list of 2: lists hold strings only');
    const nested = refusal(command({ attributes: { displayName: { first: 'Ada', last: 'Lovelace' } } }));
    expect(nested.message).toBe('command field attributes.displayName is object: must be a string, boolean, number, list of strings or null');
    expect(nested.message).not.toMatch(/Ada|Lovelace/);
  });

  it('non-personal fields keep naming the value', () => {
    expect(refusal(command({ state: 'GONE' })).message).toBe('command field state = "GONE": must be ACTIVE, DISABLED or ABSENT');
  });
});
