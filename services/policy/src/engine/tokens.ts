export const PERSON_STATE = Symbol('PERSON_STATE');
export const POLICY_CONFIG = Symbol('POLICY_CONFIG');
