import { describe, expect, it } from '@jest/globals';
import { WebhookErrorCode, signStandardWebhook, verifyStandardWebhook } from '../src/webhook/standard-webhooks.js';

// The example from the Standard Webhooks specification's reference implementations.
const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const KEY = Buffer.from(SECRET.slice(6), 'base64');
const ID = 'msg_p5jXN8AQM9LWM0D4loKWxJek';
const TS = 1614265330;
const BODY = Buffer.from('{"test": 2432232314}');

describe('Standard Webhooks verification', () => {
  it('accepts the specification example signature and finds it among several', () => {
    const sig = signStandardWebhook(SECRET, ID, TS, BODY);
    expect(sig).toBe('v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=');
    expect(verifyStandardWebhook([KEY], { id: ID, timestamp: String(TS), signature: `v1,bm90IGl0 ${sig}` }, BODY, TS * 1000, 300)).toEqual({ id: ID, timestamp: TS, matched: [0] });
    // Secret rotation: the old key still verifies.
    // Reports every key a signature matches: the receiver checks what those keys may sign for.
    expect(verifyStandardWebhook([Buffer.from('other'), KEY, KEY], { id: ID, timestamp: String(TS), signature: sig }, BODY, TS * 1000, 300).matched).toEqual([1, 2]);
  });

  it('names what failed: missing header, bad timestamp, outside the tolerance, wrong signature, changed body', () => {
    const sig = signStandardWebhook(SECRET, ID, TS, BODY);
    const check = (h: { id?: string; timestamp?: string; signature?: string }, body = BODY, now = TS * 1000) => {
      try {
        verifyStandardWebhook([KEY], { id: h.id, timestamp: h.timestamp, signature: h.signature }, body, now, 300);
        return 'ok';
      } catch (e) {
        return `${(e as { status: number }).status} ${(e as { code: string }).code}`;
      }
    };
    expect(check({ timestamp: String(TS), signature: sig })).toBe(`400 ${WebhookErrorCode.MissingHeader}`);
    expect(check({ id: ID, timestamp: '2021-02-25', signature: sig })).toBe(`400 ${WebhookErrorCode.BadTimestamp}`);
    expect(check({ id: ID, timestamp: String(TS), signature: sig }, BODY, (TS + 301) * 1000)).toBe(`401 ${WebhookErrorCode.TimestampOutOfTolerance}`);
    expect(check({ id: ID, timestamp: String(TS), signature: sig }, BODY, (TS - 301) * 1000)).toBe(`401 ${WebhookErrorCode.TimestampOutOfTolerance}`);
    expect(check({ id: ID, timestamp: String(TS), signature: 'v1,Zm9v' })).toBe(`401 ${WebhookErrorCode.BadSignature}`);
    expect(check({ id: ID, timestamp: String(TS), signature: sig }, Buffer.from('{"test": 2432232315}'))).toBe(`401 ${WebhookErrorCode.BadSignature}`);
    expect(check({ id: 'msg_other', timestamp: String(TS), signature: sig })).toBe(`401 ${WebhookErrorCode.BadSignature}`);
    expect(check({ id: ID, timestamp: String(TS), signature: sig.replace('v1,', 'v2,') })).toBe(`401 ${WebhookErrorCode.BadSignature}`);
  });
});
