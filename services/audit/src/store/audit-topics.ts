/** Topics audit records: lifecycle, commands, results and their dead letters — not its own output. */
export const AUDIT_TOPIC_PATTERN = /^(hr|provisioning|policy|connector)\..+/;
