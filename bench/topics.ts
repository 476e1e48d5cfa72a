import type { Admin, ITopicConfig } from 'kafkajs';

/**
 * createTopics that waits out the brief "unknown topic or partition" answers a KRaft broker
 * gives right after it started or right after the topics were created.
 */
export async function createTopics(admin: Admin, topics: ITopicConfig[]): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await admin.createTopics({ topics, waitForLeaders: true });
      return;
    } catch (e) {
      if (!(e as { retriable?: boolean }).retriable || attempt >= 20) throw e;
      await new Promise((r) => setTimeout(r, 250 * attempt));
    }
  }
}
