/** Topic names. Every topic is keyed by personId (see docs/architecture.md). */
export const Topics = {
  lifecycle: 'hr.lifecycle',
  results: 'provisioning.results',
  /** One command topic per target kind: provisioning.commands.ldap, .scim, .postgres, ... */
  commands: (targetKind: string): string => `provisioning.commands.${targetKind}`,
  /**
   * PolicyDecision: why a person evaluation changed desired states (the explanation at decision
   * time), one per evaluation that issued commands; key = personId.
   */
  policyDecisions: 'policy.decisions',
  /** Segregation-of-duties findings (PolicyViolation), key = personId. */
  policyViolations: 'policy.violations',
  /** Policy versions, activations, manual assignments and SoD exceptions (PolicyChange). */
  policyChanges: 'policy.changes',
  siem: 'audit.siem',
  checkpoints: 'audit.checkpoints',
  /** Drift findings and reconciliation run summaries of every connector. */
  drift: 'connector.drift',
} as const;

export const DEAD_LETTER_SUFFIX = '.dlt';

export function deadLetterTopic(topic: string): string {
  return `${topic}${DEAD_LETTER_SUFFIX}`;
}

export function isDeadLetterTopic(topic: string): boolean {
  return topic.endsWith(DEAD_LETTER_SUFFIX);
}

/** Every topic the platform writes, for consumers that subscribe to all of them (audit). */
export const ALL_TOPICS_PATTERN = /^(hr|provisioning|policy|connector)\..+/;
