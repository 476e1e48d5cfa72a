import { describe, expect, it } from '@jest/globals';
import { chunksOf, SEND_CHUNK_BYTES } from '../src/kafka/kafkajs-broker.js';
import type { OutgoingMessage } from '../src/port.js';

const msg = (i: number, bytes: number): OutgoingMessage => ({ topic: `t${i % 3}`, key: `k${i}`, value: Buffer.alloc(bytes), headers: { ce_id: `id-${i}` } });

describe('produce requests of bounded size', () => {
  it('cuts a relay batch into runs below the limit, keeping the order', () => {
    const messages = Array.from({ length: 400 }, (_, i) => msg(i, 6_000));
    const chunks = chunksOf(messages, SEND_CHUNK_BYTES);
    expect(chunks.length).toBeGreaterThan(1);
    expect(chunks.flat()).toEqual(messages);
    for (const c of chunks) expect(c.reduce((n, m) => n + m.value!.length, 0)).toBeLessThanOrEqual(SEND_CHUNK_BYTES);
  });

  it('keeps small batches whole and sends an oversized message on its own', () => {
    const small = Array.from({ length: 100 }, (_, i) => msg(i, 300));
    expect(chunksOf(small, SEND_CHUNK_BYTES)).toEqual([small]);
    const big = msg(0, SEND_CHUNK_BYTES * 2);
    expect(chunksOf([small[0]!, big, small[1]!], SEND_CHUNK_BYTES)).toEqual([[small[0]], [big], [small[1]]]);
  });
});
